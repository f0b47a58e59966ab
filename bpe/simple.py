"""The lecture's simple tokenizers and the compression ratio that compares them.

CS336's first lecture builds up to BPE through three baselines, each with a flaw BPE fixes:
characters (a huge, sparse vocabulary of code points), bytes (a tiny vocabulary but long
sequences: one token per byte) and words (short sequences but an unbounded vocabulary, so
unseen words need an UNK id). `compression_ratio` is the lecture's measure: UTF-8 bytes per
token.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from bpe.patterns import PATTERN_NAMES, PATTERNS


class _Encoder(Protocol):
    """Anything with .encode: a Tokenizer, or one of the simple tokenizers below."""

    def encode(self, text: str) -> Sequence[int]: ...


class CharacterTokenizer:
    """One token per Unicode code point; the id is the code point."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        try:
            return "".join(map(chr, ids))
        except (ValueError, OverflowError) as e:
            raise ValueError(f"ids must be code points in 0..0x10ffff: {e}") from None


class ByteTokenizer:
    """One token per UTF-8 byte: vocabulary of 256."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Iterable[int]) -> str:
        try:
            return bytes(ids).decode("utf-8", errors="replace")
        except ValueError as e:
            raise ValueError(f"ids must be bytes in 0..255: {e}") from None


class WordTokenizer:
    """One token per pattern match; ids for the words of a training corpus, UNK for others.

    >>> tok = WordTokenizer.train("the cat saw the dog", pattern=r"\\w+|.")
    >>> tok.encode("the bird")
    [2, 1, 0]
    """

    UNK = "<unk>"

    def __init__(self, words: Sequence[str], pattern: str = r"\w+|."):
        import regex  # on first use: the other tokenizers and compression_ratio need none

        self.pattern = _regex_text(pattern)
        self._regex = regex.compile(self.pattern)
        self.id_to_word = [self.UNK, *(w for w in words if w != self.UNK)]
        self.word_to_id = {w: i for i, w in enumerate(self.id_to_word)}
        if len(self.word_to_id) != len(self.id_to_word):
            repeated = next(w for i, w in enumerate(self.id_to_word) if self.word_to_id[w] != i)
            raise ValueError(f"words must not repeat: {repeated!r} is given twice")

    @classmethod
    def train(cls, text: str, pattern: str = r"\w+|.",
              vocab_size: int | None = None) -> WordTokenizer:
        """Learn the vocabulary: the most frequent words (ties: first seen), UNK included."""
        if vocab_size is not None and vocab_size < 1:
            raise ValueError(f"vocab_size={vocab_size} must leave room for the UNK token")
        import regex

        counts = Counter(m.group() for m in regex.finditer(_regex_text(pattern), text))
        limit = None if vocab_size is None else vocab_size - 1
        return cls([w for w, _ in counts.most_common(limit)], pattern=pattern)

    @property
    def unk_id(self) -> int:
        return 0

    def encode(self, text: str) -> list[int]:
        lookup = self.word_to_id.get
        return [lookup(m.group(), 0) for m in self._regex.finditer(text)]

    def decode(self, ids: Iterable[int]) -> str:
        words = []
        for i in ids:
            if not 0 <= i < len(self.id_to_word):
                raise ValueError(f"id {i} is not in the vocabulary: ids must be in "
                                 f"0..{len(self.id_to_word) - 1}")
            words.append(self.id_to_word[i])
        return "".join(words)


def _regex_text(pattern: str) -> str:
    """The word tokenizer's pattern: a regex, or the name of a built-in BPE pattern."""
    name = PATTERN_NAMES.get(pattern)
    return PATTERNS[name] if name else pattern


def compression_ratio(tokenizer: _Encoder, text: str, **encode_options: Any) -> float:
    """UTF-8 bytes per token of `text` under `tokenizer` (anything with .encode, called with
    encode_options: for a tiktoken-style encoding of text that holds "<|endoftext|>",
    allowed_special="all" or disallowed_special=()). A lone surrogate counts 3 bytes, as the
    U+FFFD that tiktoken-style encoders put in its place."""
    n_bytes = len(text.encode("utf-8", "surrogatepass"))
    n_tokens = len(tokenizer.encode(text, **encode_options))
    if n_tokens == 0:
        raise ValueError("text encodes to no tokens; the compression ratio is undefined")
    return n_bytes / n_tokens
