"""Pre-tokenization: named patterns, special-token splitting, and streaming over chunks.

`Pretokenizer` is the one place where text becomes pieces; training and encoding both call
`Pretokenizer.stream`, so they cut text identically. For now the pieces come from the
`regex` module (a native splitter will sit behind the same method).

Streaming keeps results exact however the input is chunked: after each chunk only the
pieces whose match cannot change with more text are released, and the rest is kept for the
next round (see `_safe_cut`).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import regex

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN, "o200k": O200K_PATTERN}

# How many characters past a piece the built-in patterns may look before committing to it
# ('ll needs 3). Pieces ending closer than this to a chunk's end wait for more text.
_LOOKAHEAD = 3
# Runs the built-in patterns read to their end before cutting inside them (cl100k/o200k's
# `\s*[\r\n]`, o200k's backtracking letter classes): a run that reaches the chunk's end
# could still grow, so no piece ending inside it is settled.
_TRAILING_RUN = regex.compile(r"(?r)(?:\s+|[\p{L}\p{M}]+)\Z")
_CHUNK_CHARS = 1 << 20


def resolve_pattern(pattern: str) -> str:
    """A pattern name ("gpt2", "cl100k", "o200k") or a regex string -> the regex string."""
    return PATTERNS.get(pattern, pattern)


def check_special_tokens(special_tokens: Sequence[str] | None) -> list[str]:
    """The special tokens as a list, refusing empty strings, non-str and duplicates."""
    tokens = list(special_tokens or [])
    for token in tokens:
        if not isinstance(token, str) or not token:
            raise ValueError(f"special token {token!r} must be a non-empty str")
    seen = set()
    for token in tokens:
        if token in seen:
            raise ValueError(f"special token {token!r} is given twice in {tokens!r}")
        seen.add(token)
    return tokens


class Pretokenizer:
    """Cuts text into special tokens and pattern pieces.

    >>> pre = Pretokenizer("gpt2", ["<|endoftext|>"])
    >>> list(pre.stream(["Hi there<|endoftext|>you"]))
    [(['Hi', ' there'], '<|endoftext|>'), (['you'], None)]
    """

    def __init__(self, pattern: str = "gpt2", special_tokens: Sequence[str] | None = None):
        self.pattern = resolve_pattern(pattern)
        try:
            self._regex = regex.compile(self.pattern)
        except regex.error as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regex: {e}") from None
        self.special_tokens = check_special_tokens(special_tokens)
        # Longest first, so that of two specials starting at one place the longer wins.
        by_length = sorted(self.special_tokens, key=len, reverse=True)
        self._special = regex.compile("|".join(map(regex.escape, by_length))) if by_length else None
        self._margin = _LOOKAHEAD + max(map(len, by_length), default=0)

    def pieces(self, text: str) -> list[str]:
        """The pattern's pieces of `text`, which must hold no special token."""
        return self._regex.findall(text)

    def stream(self, chunks: Iterable[str], settle_chars: int = _CHUNK_CHARS
               ) -> Iterator[tuple[list[str], str | None]]:
        """Yield (pieces, special) pairs: ordinary pieces, then the special token after them
        (None when none follows yet). Concatenated, they are exactly the cut of the whole
        text that `chunks` join to, however the text was chunked. Text is settled each
        time `settle_chars` characters have gathered."""
        parts: list[str] = []
        n_chars = 0
        for chunk in chunks:
            if not isinstance(chunk, str):
                raise TypeError(f"expected str chunks, got {type(chunk).__name__}")
            parts.append(chunk)
            n_chars += len(chunk)
            if n_chars >= settle_chars:
                rest = yield from self._cut("".join(parts), final=False)
                parts, n_chars = [rest], len(rest)
        yield from self._cut("".join(parts), final=True)

    def _cut(self, text: str, final: bool):
        """Yield what is settled in `text`; return the unsettled tail (empty if final)."""
        limit = len(text)
        if not final:
            run = _TRAILING_RUN.search(text)
            limit = min(len(text) - self._margin, run.start() if run else len(text))
        start, stop = 0, len(text)
        if self._special is not None:
            for match in self._special.finditer(text):
                if match.end() > limit:
                    stop = match.start()  # a special token, maybe not final: cut before it
                    break
                yield self._regex.findall(text[start : match.start()]), match.group()
                start = match.end()
        tail = text[start:stop]
        pieces = self._regex.findall(tail)
        if final:
            if pieces:
                yield pieces, None
            return ""
        keep, end = self._settled(tail, pieces, limit - start)
        if keep:
            yield pieces[:keep], None
        return text[start + end :]

    def _settled(self, tail: str, pieces: list[str], limit: int) -> tuple[int, int]:
        """(k, end): the first k pieces are settled and end at `end`. Settled means not the
        last piece and ending by `limit`, since a later chunk could still change a
        lookahead or complete a special token past it."""
        if sum(map(len, pieces)) == len(tail):
            # Built-in patterns cover every character, so piece ends add up from the back.
            keep, end = len(pieces), len(tail)
            while keep > 0 and (keep == len(pieces) or end > limit):
                keep -= 1
                end -= len(pieces[keep])
            return keep, end
        # A custom pattern that skips text: locate the pieces by search.
        ends = [m.end() for m in self._regex.finditer(tail)][:-1]
        while ends and ends[-1] > limit:
            ends.pop()
        return len(ends), (ends[-1] if ends else 0)
