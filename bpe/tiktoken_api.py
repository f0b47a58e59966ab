"""The parts of tiktoken's `Encoding` interface that take more than a line, for the
bpe.Tokenizer methods of the same names: the index of the ordinary tokens by their bytes
(token_byte_values, encode_single_token), decode_with_offsets' offsets, and
encode_with_unstable's split of a text's tokens into those more text cannot change and the
ways the rest may continue (what completion of a prompt cut mid-word needs).

Each follows tiktoken 0.14 step for step (tiktoken/core.py; for encode_with_unstable the
Rust `CoreBPE::_encode_unstable_native` in src/lib.rs), so that its results equal
tiktoken's on the same vocabulary; tests/test_tiktoken_api.py holds them to tiktoken's.
"""
from __future__ import annotations

import bisect
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from bpe.specials import SpecialSet
    from bpe.tokenizer import Tokenizer

# Unicode's White_Space characters, as Rust's char::is_whitespace (which tiktoken uses)
# takes them; Python's str.isspace takes U+001C..U+001F too.
_WHITE_SPACE = (frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
                | frozenset(map(chr, range(0x2000, 0x200B))))


class TokenIndex(NamedTuple):
    """The ordinary tokens (all but the special ones): their bytes in order, the id of each
    (where ids share bytes, the smallest), the length of the longest, and every id's length
    in bytes (0 where no token has the id)."""

    sorted_bytes: list[bytes]
    ids: dict[bytes, int]
    longest: int
    lengths: list[int]

    @classmethod
    def of(cls, vocab: dict[int, bytes], special_ids: Collection[int]) -> TokenIndex:
        special = set(special_ids)
        ids = {token: i for i, token in sorted(vocab.items(), reverse=True) if i not in special}
        ordered = sorted(ids)
        lengths = [0] * (max(vocab, default=-1) + 1)
        for token_id, token in vocab.items():
            lengths[token_id] = len(token)
        return cls(ordered, ids, max(map(len, ordered), default=0), lengths)

    def starting_with(self, prefix: bytes) -> Iterator[bytes]:
        """The tokens whose bytes start with `prefix`, in order."""
        tokens = self.sorted_bytes
        at = bisect.bisect_left(tokens, prefix)
        while at < len(tokens) and tokens[at].startswith(prefix):
            yield tokens[at]
            at += 1


def single_token_id(index: TokenIndex, special_ids: dict[str, int],
                    text_or_bytes: str | bytes) -> int:
    """encode_single_token: the id of the ordinary token with these bytes, else of the
    special token with this text; KeyError where there is neither."""
    if isinstance(text_or_bytes, str):
        token = text_or_bytes.encode("utf-8")
    elif isinstance(text_or_bytes, (bytes, bytearray, memoryview)):
        token = bytes(text_or_bytes)
    else:
        raise TypeError(f"encode_single_token expects str or bytes, got "
                        f"{type(text_or_bytes).__name__}")
    token_id = index.ids.get(token)
    if token_id is None:    # (bytes that are not UTF-8 become lone surrogates: no special's)
        token_id = special_ids.get(token.decode("utf-8", "surrogateescape"))
    if token_id is None:
        raise KeyError(f"{text_or_bytes!r} is not one token of this vocabulary")
    return token_id


def check_num_threads(num_threads: object) -> None:
    """ValueError unless num_threads is a positive int, NumPy's included (as encode_batch
    checks it)."""
    from bpe.formats import is_integer

    if (not is_integer(num_threads) or isinstance(num_threads, bool)
            or int(num_threads) < 1):  # type: ignore[call-overload]
        raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")


def token_offsets(token_bytes: Sequence[bytes]) -> list[int]:
    """decode_with_offsets' offsets: the index in the decoded text (in characters) of each
    token's first character; a token that starts inside a character gets that character's
    index."""
    offsets, chars = [], 0
    for token in token_bytes:
        offsets.append(max(0, chars - (0x80 <= token[0] < 0xC0)))
        chars += sum(1 for byte in token if not 0x80 <= byte < 0xC0)   # bytes that start one
    return offsets


def encode_with_unstable(tok: Tokenizer, text: str, allowed_special: SpecialSet | None,
                         disallowed_special: SpecialSet | None
                         ) -> tuple[list[int], list[list[int]]]:
    """(the tokens of text that more text after it cannot change, the token sequences that
    may follow them): tiktoken's encode_with_unstable. The text's last piece (with any
    all-space tokens before it) is unstable; each completion is a sequence of tokens whose
    bytes start with the unstable bytes and cover them, as some longer text could encode."""
    tokens = tok.encode(text, allowed_special=allowed_special,
                        disallowed_special=disallowed_special)
    count = _last_piece_count(tok, tokens)
    if count == 0:                  # empty text, or text ending with a special token
        return tokens, []
    count = _with_space_tokens_before(tok, tokens, count)
    unstable = tok.decode_bytes(tokens[-count:])
    return tokens[:-count], sorted(map(list, _completions(tok, unstable)))


def _last_piece_count(tok: Tokenizer, tokens: list[int]) -> int:
    """How many of tokens came from the last piece of the text after the last special token;
    0 where that text is empty (tiktoken's `last_piece_token_len`)."""
    special = tok._special_id_set
    start = len(tokens)
    while start and tokens[start - 1] not in special:
        start -= 1
    if start == len(tokens):
        return 0
    stretch = tok.decode_bytes(tokens[start:]).decode("utf-8")
    piece_bytes = len(tok._pretokenizer_for(frozenset()).pieces(stretch)[-1].encode("utf-8"))
    vocab = tok.vocab
    count = covered = 0
    while covered < piece_bytes:
        count += 1
        covered += len(vocab[tokens[-count]])
    return count


def _with_space_tokens_before(tok: Tokenizer, tokens: list[int], count: int) -> int:
    """count, grown over the all-space tokens before the last piece where that piece starts
    with one: cl100k's `\\s*[\\r\\n]` can merge "\\n" + " " into one piece once more text
    follows (tiktoken's `_increase_last_piece_token_len`)."""
    vocab, special = tok.vocab, tok._special_id_set

    def all_space(token: int) -> bool:
        return token not in special and not vocab[token].strip(b" \n\t")

    if all_space(tokens[-count]):
        while count < len(tokens) and all_space(tokens[-count - 1]):
            count += 1
    return count


def _completions(tok: Tokenizer, unstable: bytes) -> set[tuple[int, ...]]:
    """The token sequences that may encode bytes starting with `unstable`: every token that
    starts with them; for each cut of them into prefix + suffix and each token starting with
    the suffix, the encoding of prefix + token, up to the token that covers the unstable
    bytes; and the last character split off, where it is white space (which can become
    its own piece)."""
    index = tok._token_index
    found: set[tuple[int, ...]] = {(index.ids[token],) for token in index.starting_with(unstable)}
    candidates = [unstable[:cut] + token
                  for cut in range(max(1, len(unstable) - index.longest), len(unstable))
                  for token in index.starting_with(unstable[cut:])]
    found.update(_covering(_encode_candidates(tok, candidates), len(unstable), index.lengths))
    split = _white_space_split(tok, unstable)
    if split is not None:
        found.add(split)
    return found


def _encode_candidates(tok: Tokenizer, candidates: list[bytes]) -> list[list[int]]:
    """Each candidate encoded as text (pieces, then BPE) where it is UTF-8, else its bytes
    as one piece."""
    texts, raw = [], []
    for candidate in candidates:
        try:
            texts.append(candidate.decode("utf-8"))
        except UnicodeDecodeError:
            raw.append(candidate)
    return [*tok.encode_ordinary_batch(texts), *map(tok._table.encode_piece, raw)]


def _covering(encodings: list[list[int]], length: int, lengths: list[int]
              ) -> Iterator[tuple[int, ...]]:
    """Of each list of ids, the first ones, up to the one whose bytes reach `length` bytes.
    (One loop for all: this runs for up to every token of the vocabulary.)"""
    for ids in encodings:
        covered = end = 0
        while end < len(ids) and covered < length:
            covered += lengths[ids[end]]
            end += 1
        yield tuple(ids[:end])


def _white_space_split(tok: Tokenizer, unstable: bytes) -> tuple[int, ...] | None:
    """The bytes before the last character and that character, each as one piece, where
    that character is white space and not all of the bytes."""
    char, size = _last_char(unstable)
    if char not in _WHITE_SPACE or size >= len(unstable):
        return None
    table = tok._table
    return (*table.encode_piece(unstable[:-size]), *table.encode_piece(unstable[-size:]))


def _last_char(data: bytes) -> tuple[str | None, int]:
    """The last character of UTF-8 data and its length in bytes; (None, 1) where the data
    does not end with a whole character."""
    for size in range(1, min(4, len(data)) + 1):
        try:
            return data[-size:].decode("utf-8"), size
        except UnicodeDecodeError:
            continue
    return None, 1
