"""Special tokens: their validation, their ids, the rule that finds them, and tiktoken's check.

The rule, everywhere a text is cut at special tokens (training, encoding, streaming): the
leftmost special token, and of those starting there the longest, is taken; the search goes
on after it. `find_specials` is that rule in Python; the kernels' own search
(`bpe._encode.Specials.next_one`, over UTF-8 bytes) follows it too, and
tests/test_specials.py holds the two equal on random texts.

tiktoken's arguments (`allowed_special`, `disallowed_special`) pick which special tokens a
call treats as tokens, and refuse text that holds a disallowed one: `allowed_in`.
"""
from __future__ import annotations

import functools
import mmap
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, AnyStr, Literal

if TYPE_CHECKING:
    from bpe._encode import Specials

SpecialSet = Literal["all"] | Collection[str]
MAX_ID = 2**31 - 2


def check_special_tokens(special_tokens: Collection[str] | None) -> list[str]:
    """The special tokens as a list, refusing empty strings, non-str and duplicates. A set
    is taken in sorted order, so that the ids it gets do not change from run to run."""
    if isinstance(special_tokens, (str, bytes)):
        kind = type(special_tokens).__name__
        raise TypeError(f"special_tokens must be a list of str, got the {kind} "
                        f"{special_tokens!r}: write [{special_tokens!r}] for a list of one")
    if isinstance(special_tokens, (set, frozenset)):
        special_tokens = sorted(special_tokens, key=lambda token: (not isinstance(token, str),
                                                                   str(token)))
    tokens = list(special_tokens or [])
    for token in tokens:
        if not isinstance(token, str) or not token:
            raise ValueError(f"special token {token!r} must be a non-empty str")
        if not token.isascii() and any("\ud800" <= c <= "\udfff" for c in token):
            raise ValueError(f"special token {token!r} holds a lone surrogate, which has no "
                             f"UTF-8 bytes; expected valid Unicode")
    seen = set()
    for token in tokens:
        if token in seen:
            raise ValueError(f"special token {token!r} is given twice in {tokens!r}")
        seen.add(token)
    return tokens


def longest_first(tokens: Collection[AnyStr]) -> list[AnyStr]:
    """The tokens in the order the rule tries them at one place: longest first (a stable
    sort, so tokens of one length keep their order)."""
    return sorted(tokens, key=len, reverse=True)


def assign_ids(special_tokens: Sequence[str] | Mapping[str, int] | None,
               vocab: dict[int, bytes], token_ids: dict[bytes, int]) -> dict[str, int]:
    """token -> id for the special tokens, adding them to vocab (and token_ids).

    A list gives each token the id of its bytes in vocab, or a new id after the largest; a
    dict (tiktoken's form) keeps its ids, which must not clash with other tokens, nor lie
    far past the tokens (formats.check_id_spread: special tokens count as tokens). As in
    tiktoken, special tokens may share an id (o200k_harmony's <|endofprompt|> and
    <|reserved_200018|>): each encodes to it, and it decodes to the first of them."""
    tokens = check_special_tokens(special_tokens)
    ids: dict[str, int] = {}
    if isinstance(special_tokens, Mapping):
        # is_integer: an int or NumPy's, without importing NumPy
        from bpe.formats import check_id_spread, is_integer

        taken: set[int] = set()         # ids a special token here has: more share them
        for token in tokens:
            token_id, token_bytes = special_tokens[token], token.encode("utf-8")
            if not is_integer(token_id) or not 0 <= token_id <= MAX_ID:
                raise ValueError(f"special token {token!r} has id {token_id!r}; expected an int "
                                 f"in 0..{MAX_ID}")
            if int(token_id) in taken:
                ids[token] = int(token_id)
                continue
            taken.add(int(token_id))
            if vocab.get(int(token_id), token_bytes) != token_bytes:
                raise ValueError(f"special token {token!r} has id {token_id}, which the "
                                 f"vocabulary gives to {vocab[int(token_id)]!r}")
            vocab[int(token_id)] = token_bytes
            token_ids.setdefault(token_bytes, int(token_id))
            ids[token] = int(token_id)
        if ids:
            largest = max(ids.values())
            check_id_spread(largest, len(vocab),
                            f"special token {next(t for t in ids if ids[t] == largest)!r}: id")
        return ids
    next_id = max(vocab, default=-1) + 1
    for token in tokens:
        token_bytes = token.encode("utf-8")
        if token_bytes not in token_ids:
            vocab[next_id] = token_bytes
            token_ids[token_bytes] = next_id
            next_id += 1
        ids[token] = token_ids[token_bytes]
    return ids


def find_specials(text: AnyStr, tokens: Sequence[AnyStr],
                  stop: int | None = None) -> Iterator[tuple[int, AnyStr]]:
    """(start, token) of each special token in text[:stop], left to right, by the rule: the
    leftmost, the longest of those starting there (tokens: longest_first's order). Also on
    UTF-8 bytes (a bytearray too) and the tokens' UTF-8, with the same matches at the byte
    offsets."""
    found = [text.find(token, 0, stop) for token in tokens]
    while True:
        at, first = -1, -1
        for k, where in enumerate(found):
            if where >= 0 and (at < 0 or where < at):  # on a tie the longer (earlier) stays
                at, first = where, k
        if at < 0:
            return
        yield at, tokens[first]
        end = at + len(tokens[first])
        for k, where in enumerate(found):
            if 0 <= where < end:
                found[k] = text.find(tokens[k], end, stop)


def overlaps_separator(separator: str, tokens: Sequence[str]) -> str | None:
    """A token that could match across `separator`'s ends where it stands between two
    texts (x + separator + y, whatever x and y), or None. With none, the rule finds the
    separator there and each text's tokens as in the text alone, so texts joined by it are
    cut as each alone. A token overlaps when it could start in x and reach into the
    separator (a proper suffix of it is a prefix of the separator, or holds it), or starts
    with the separator and is longer (the longest wins there); one starting inside the
    separator loses to it (the leftmost wins)."""
    for token in tokens:
        if len(token) > len(separator) and token.startswith(separator):
            return token
        for i in range(1, len(token)):      # starts i characters before the separator
            if separator.startswith(token[i:]) or token[i:].startswith(separator):
                return token
    return None


def straddles(data: bytes | mmap.mmap, cut: int, specials: Sequence[bytes]) -> bool:
    """Whether some special token (as bytes) in data starts before `cut` and ends after it:
    a cut there would split it."""
    for s in specials:
        i = data.find(s, max(0, cut - len(s) + 1), cut + len(s) - 1)
        if 0 <= i < cut < i + len(s):
            return True
    return False


def ends_special(data: bytes, end: int, specials: Sequence[bytes]) -> bool:
    """Whether some special token (as bytes) in data ends right before `end`."""
    return any(data.endswith(s, 0, end) for s in specials)


def native_specials(tokens: Collection[str], ids: Mapping[str, int]) -> Specials:
    """The kernels' form of the tokens: UTF-8 bytes, longest first, with their ids. (Two
    tokens that match at one place are one the other's prefix, so longest in characters is
    longest in bytes there.)"""
    from array import array

    from bpe._encode import Specials

    ordered = longest_first(tokens)
    return Specials(tuple(token.encode("utf-8") for token in ordered),
                    array("i", [ids[token] for token in ordered]))


def allowed_in(text: str, specials: Collection[str], allowed_special: SpecialSet | None,
               disallowed_special: SpecialSet | None) -> frozenset[str]:
    """The special tokens that a call with tiktoken's arguments treats as tokens, after
    checking that text holds no disallowed one (tiktoken's error, word for word)."""
    allowed, disallowed = special_rule(specials, allowed_special, disallowed_special)
    if disallowed and isinstance(text, str):
        refuse_disallowed(text, disallowed)
    return allowed


def special_rule(specials: Collection[str], allowed_special: SpecialSet | None,
                 disallowed_special: SpecialSet | None) -> tuple[frozenset[str], frozenset[str]]:
    """tiktoken's arguments -> (the special tokens treated as tokens, those text must not
    hold). Only allowed ones count ("all" or a set; default none); disallowed ones (default
    "all" the others) must not occur; disallowed_special=() encodes them as ordinary text."""
    for name, value in (("allowed_special", allowed_special),
                        ("disallowed_special", disallowed_special)):
        if isinstance(value, str) and value != "all":
            raise TypeError(f"{name} must be \"all\" or a set of special tokens, got the str "
                            f"{value!r}: write {{{value!r}}} for a set of one")
        if value is not None and not isinstance(value, str) and (
                not isinstance(value, Collection)
                or not all(isinstance(token, str) for token in value)):
            raise TypeError(f"{name} must be \"all\" or a collection of str (special tokens), "
                            f"got {value!r:.80}")
    specials = set(specials)
    allowed = specials if allowed_special == "all" else set(allowed_special or ())
    if disallowed_special is None or disallowed_special == "all":
        disallowed = specials - allowed
    else:
        disallowed = set(disallowed_special)
    return frozenset(allowed & specials), frozenset(disallowed)


def refuse_disallowed(text: str, disallowed: frozenset[str]) -> None:
    """tiktoken's ValueError, word for word, if text holds a disallowed special token."""
    token = first_special(text, disallowed)
    if token is not None:
        raise ValueError(
            f"Encountered text corresponding to disallowed special token {token!r}.\n"
            "If you want this text to be encoded as a special token, "
            f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
            f"If you want this text to be encoded as normal text, disable the check for "
            f"this token by passing `disallowed_special=(enc.special_tokens_set - "
            f"{{{token!r}}})`.\n"
            "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
        )


def first_special(text: str, tokens: frozenset[str]) -> str | None:
    """The leftmost of tokens in text (the longest of those starting there), or None.
    Tokens sharing their first two characters (as "<|...|>" ones do) are found with one
    str.find pass per prefix, several times faster than a regex search; many distinct
    prefixes take one regex pass."""
    by_prefix = _by_prefix(tokens)
    if len(by_prefix) > 4:
        match = _search_regex(tokens).search(text)
        return match.group() if match else None
    best_at, best = len(text), None
    for prefix, candidates in by_prefix.items():
        at = text.find(prefix, 0, best_at + len(prefix))
        while at != -1 and at <= best_at:
            hit = next((token for token in candidates if text.startswith(token, at)), None)
            if hit is not None:
                if at < best_at or best is None or len(hit) > len(best):
                    best_at, best = at, hit
                break
            at = text.find(prefix, at + 1, best_at + len(prefix))
    return best


@functools.lru_cache(maxsize=64)
def _by_prefix(tokens: frozenset[str]) -> dict[str, list[str]]:
    """Tokens grouped by their first two characters, longest first within a group."""
    groups: dict[str, list[str]] = {}
    for token in longest_first(tokens):
        groups.setdefault(token[:2], []).append(token)
    return groups


@functools.lru_cache(maxsize=64)
def _search_regex(tokens: frozenset[str]) -> re.Pattern:
    return re.compile("|".join(map(re.escape, longest_first(tokens))))
