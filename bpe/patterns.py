"""Pre-tokenization: named patterns, special-token splitting, and streaming over chunks.

`Pretokenizer` is the one place where text becomes pieces; training and encoding both call
`Pretokenizer.feed`, so they cut text identically. The named patterns (gpt2, cl100k, o200k,
llama3, qwen2, deepseek_v3) run natively (bpe/_pretokenize.pxd, exact to the `regex`
module), also when given as their regex text (as tokenizer files hold them).

A pattern is given by name (a closed set, with tiktoken's encoding names as aliases: a
misspelt name is an error, never a regex that matches nothing) or, for a custom pattern, as
a compiled `regex` pattern object, which runs on `regex` through the same interface, only
slower. Text a custom pattern leaves unmatched is kept, each stretch of it one piece (as
Hugging Face's Split does), so no text is ever dropped.

`feed` hands the text to a sink: special tokens one by one, and ordinary text either as
stretches for a native kernel to walk (`sink.native`) or as lists of pieces (`sink.pieces`).
Streaming keeps results exact however the input is chunked: after each chunk only the
pieces whose match cannot change with more text are taken, and the rest waits for the next
round (see `_feed_text`). A custom pattern may look arbitrarily far, so its text is only cut
at special tokens: without them, the whole text is held before it is cut.

`regex` is imported only when needed (a custom pattern, streaming): the named patterns
encode without it.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeAlias

from bpe._pretokenize import PATTERN_IDS
from bpe._pretokenize import pieces as native_pieces
from bpe.specials import check_special_tokens, find_specials, longest_first

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
# Llama 3's, as Meta's tokenizer.json and tiktoken model file spell it: cl100k's pieces but
# for a whitespace run that ends the text, which is cut after its last newline too (there
# is no `\s++$`).
LLAMA3_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Qwen's (Qwen 1 to Qwen 3), as its tokenizer.json spells it: Llama 3's with digits one by one.
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# DeepSeek V3's (and R1's): not one regex but three Splits in sequence, each cutting the
# pieces of the one before, as its tokenizer.json spells them: numbers in threes, runs of
# its CJK class, then a regex inside each stretch left (what it leaves unmatched is kept, each
# stretch a piece, as with every Split).
DEEPSEEK_V3_SPLITS = (
    r"\p{N}{1,3}",
    "[一-龥\u3040-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
)
# The same cut as one regex (for tiktoken's pat_str, and as the text the tests hold the
# native matcher to): the three Splits' pieces never cross from a run of numbers, of the CJK
# class (_CJK) or of neither into another, so each branch is the last Split's with its classes
# kept inside one kind of run, and "the end of the text" (?!\S) is also the end of the run.
_CJK = "\u3040-\u30ff\u4e00-\u9fa5"
_OTHER_BRANCHES = (
    r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"""
    rf"""|[^\r\n\p{{L}}\p{{P}}\p{{S}}\p{{N}}{_CJK}]?(?:[^\P{{L}}{_CJK}]|[^\P{{M}}{_CJK}])+"""
    rf"""| ?(?:[^\P{{P}}{_CJK}]|[^\P{{S}}{_CJK}])+[\r\n]*"""
    rf"""|\s*[\r\n]+|\s+(?![^\s\p{{N}}{_CJK}])|\s+"""
)
_CJK_BRANCHES = (
    rf"""(?:(?=[{_CJK}])[^\r\n\p{{L}}\p{{P}}\p{{S}}])?(?:(?=[{_CJK}])[\p{{L}}\p{{M}}])+"""
    rf"""|(?:(?=[{_CJK}])[\p{{P}}\p{{S}}])+"""
)
DEEPSEEK_V3_PATTERN = (
    rf"""\p{{N}}{{1,3}}|{_OTHER_BRANCHES}|(?:(?!{_OTHER_BRANCHES})[^\p{{N}}{_CJK}])+"""
    rf"""|{_CJK_BRANCHES}|(?:(?!{_CJK_BRANCHES})[{_CJK}])+"""
)
PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN, "o200k": O200K_PATTERN,
            "llama3": LLAMA3_PATTERN, "qwen2": QWEN2_PATTERN,
            "deepseek_v3": DEEPSEEK_V3_PATTERN}
# The names a pattern may be given by: its own, those of the tiktoken encodings using it, and
# those of the model versions that share it.
PATTERN_NAMES = {
    "gpt2": "gpt2", "r50k_base": "gpt2", "p50k_base": "gpt2", "p50k_edit": "gpt2",
    "cl100k": "cl100k", "cl100k_base": "cl100k",
    "o200k": "o200k", "o200k_base": "o200k", "o200k_harmony": "o200k",
    "llama3": "llama3", "llama3.1": "llama3", "llama3.2": "llama3", "llama3.3": "llama3",
    "qwen2": "qwen2", "qwen2.5": "qwen2", "qwen3": "qwen2",
    "deepseek_v3": "deepseek_v3", "deepseek_r1": "deepseek_v3",
}
# Other spellings of the same patterns, each cutting every text as its built-in does
# (tests/test_pretokenize.py holds them to the native matcher as it does the built-ins):
# tiktoken's r50k/gpt2 (possessive, `\s++$|...|\s`) and Hugging Face's GPT-2 ByteLevel
# regex; minbpe's GPT-4 pattern, which is Llama 3's cut, not cl100k's (it has no `\s++$`),
# and the forms of it found in model code and tokenizer files, with digits in threes
# (Llama 3) or one by one (Qwen 2, Ling).
EQUIVALENT_PATTERNS = {
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""": "gpt2",
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""": "gpt2",
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""": "llama3",
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""": "llama3",
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s""": "llama3",
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""": "qwen2",
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""": "qwen2",
}

# How many characters past a piece the built-in patterns may look before committing to it
# ('ll needs 3). Pieces ending closer than this to a chunk's end wait for more text.
_LOOKAHEAD = 3
# Runs the built-in patterns read to their end before cutting inside them (cl100k/o200k's
# `\s*[\r\n]`, o200k's backtracking letter classes): a run that reaches the chunk's end
# could still grow, so no piece ending inside it is settled. (Compiled on first use.)
@functools.cache
def _trailing_run():
    import regex

    return regex.compile(r"(?r)(?:\s+|[\p{L}\p{M}]+)\Z")


_CHUNK_CHARS = 1 << 20

# A built-in pattern's name, or a compiled `regex` pattern (which has no type information).
PatternLike: TypeAlias = Any


def check_pattern(pattern: PatternLike) -> PatternLike:
    """A pattern as tokenizers hold it: a built-in's name (a key of PATTERNS), or a
    compiled custom `regex` pattern. Takes a name or alias (PATTERN_NAMES), the regex text of
    a built-in, or a compiled `regex` pattern; anything else is an error naming the input."""
    if isinstance(pattern, str):
        name = PATTERN_NAMES.get(pattern) or _builtin_spelt(pattern)
        if name is None:
            raise ValueError(_unknown_name(pattern))
        return name
    import regex

    if isinstance(pattern, regex.Pattern):
        if pattern.flags != regex.compile(pattern.pattern).flags:
            raise ValueError(f"pattern {pattern!r} is compiled with flags: write them inline "
                             f"(such as (?i)), so that the pattern's text says all of it")
        if pattern.flags & regex.REVERSE:
            raise ValueError(f"pattern {pattern!r} matches right to left ((?r)); text is cut "
                             f"into pieces left to right")
        return _builtin_spelt(pattern.pattern) or pattern
    if type(pattern).__module__ == "re":
        raise TypeError(f"pattern {pattern!r} is compiled by `re`; patterns use the `regex` "
                        f"module's syntax (\\p{{L}}, possessive quantifiers): pass "
                        f"regex.compile({pattern.pattern!r}) instead")
    raise TypeError(f"pattern must be a name ({', '.join(PATTERNS)}) or a compiled `regex` "
                    f"pattern, got {type(pattern).__name__}")


def resolve_pattern(pattern: PatternLike) -> str:
    """A pattern (as check_pattern takes it) -> its regex text."""
    pattern = check_pattern(pattern)
    return PATTERNS[pattern] if isinstance(pattern, str) else pattern.pattern


def pattern_name(pattern: PatternLike) -> str:
    """What a pattern is called in files and messages: a built-in's name, else its text."""
    checked = check_pattern(pattern)
    return checked if isinstance(checked, str) else checked.pattern


def pattern_from_text(text: str) -> PatternLike:
    """A pattern read from a file as regex text (tiktoken's pat_str, tokenizer.json's Split,
    a saved tokenizer): the built-in it spells, else the text compiled."""
    name = PATTERN_NAMES.get(text) or _builtin_spelt(text)
    if name is not None:
        return name
    import regex

    try:
        compiled = regex.compile(text)
    except regex.error as e:
        raise ValueError(f"pattern {text!r} is not a valid regex: {e}") from None
    return check_pattern(compiled)


def _builtin_spelt(text: str) -> str | None:
    """The built-in pattern whose regex text this is (in any of its known spellings)."""
    for name, builtin in PATTERNS.items():
        if text == builtin:
            return name
    return EQUIVALENT_PATTERNS.get(text)


def _unknown_name(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, PATTERN_NAMES, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (f"unknown pattern name {name!r}.{hint} The names are {', '.join(PATTERN_NAMES)}; "
            f"for a custom pattern, pass a compiled regex: regex.compile({name!r})")


class Sink(Protocol):
    """Where `Pretokenizer.feed` sends the text."""

    def native(self, text: str, limit: int, pattern_id: int) -> int:
        """Take text's pieces under a native pattern: all of them when limit < 0, else only
        those ending by character `limit` that are not the last. Return the characters taken."""

    def pieces(self, pieces: list[str]) -> None:
        """Take pieces cut by the regex module (patterns without a native matcher)."""

    def special(self, token: str) -> None:
        """Take one special token."""


class Pretokenizer:
    """Cuts text into special tokens and pattern pieces.

    >>> pre = Pretokenizer("gpt2", ["<|endoftext|>"])
    >>> list(pre.stream(["Hi there<|endoftext|>you"]))
    [(['Hi', ' there'], '<|endoftext|>'), (['you'], None)]
    """

    def __init__(self, pattern: PatternLike = "gpt2",
                 special_tokens: Sequence[str] | None = None):
        checked = check_pattern(pattern)
        self.pattern = resolve_pattern(checked)   # the regex text
        # A named pattern runs natively, with no regex; a custom one is the compiled
        # regex.Pattern it was given (`regex` has no type information).
        self.native_id: int | None = None
        self._regex: Any = None
        if isinstance(checked, str):
            self.native_id = PATTERN_IDS[checked]
        else:
            self._regex = checked
        self.special_tokens = check_special_tokens(special_tokens)
        self._by_length = longest_first(self.special_tokens)
        self._margin = _LOOKAHEAD + max(map(len, self._by_length), default=0)

    def pieces(self, text: str) -> list[str]:
        """The pattern's pieces of `text`, which must hold no special token."""
        if self.native_id is not None:
            return native_pieces(text, self.native_id)
        # Whole matches (even with groups), and each stretch between them: nothing dropped.
        pieces, end = [], 0
        for match in self._regex.finditer(text):
            start, stop = match.span()
            if start > end:
                pieces.append(text[end:start])
            if stop > start:
                pieces.append(text[start:stop])
            end = max(end, stop)
        if end < len(text):
            pieces.append(text[end:])
        return pieces

    def feed(self, chunks: Iterable[str], sink: Sink, settle_chars: int = _CHUNK_CHARS
             ) -> Iterator[None]:
        """Send the text that `chunks` join to, cut into pieces and special tokens, to sink.
        Yields after each settled stretch (about `settle_chars` characters), so a caller can
        use what the sink gathered so far."""
        parts: list[str] = []
        n_chars = 0
        for chunk in chunks:
            if not isinstance(chunk, str):
                raise TypeError(f"expected str chunks, got {type(chunk).__name__}")
            parts.append(chunk)
            n_chars += len(chunk)
            if n_chars >= settle_chars:
                rest = self._feed_text("".join(parts), sink, final=False)
                parts, n_chars = [rest], len(rest)
                yield
        self._feed_text("".join(parts), sink, final=True)
        yield

    def stream(self, chunks: Iterable[str], settle_chars: int = _CHUNK_CHARS
               ) -> Iterator[tuple[list[str], str | None]]:
        """Yield (pieces, special) pairs: ordinary pieces, then the special token after them
        (None when none follows yet), exactly as for the joined text."""
        sink = _ListSink()
        for _ in self.feed(chunks, sink, settle_chars):
            yield from sink.items
            sink.items.clear()

    def _feed_text(self, text: str, sink: Sink, final: bool) -> str:
        """Send what is settled in `text` to sink; return the unsettled tail ("" if final)."""
        limit = len(text)
        if not final:
            run = _trailing_run().search(text)
            limit = min(len(text) - self._margin, run.start() if run else len(text))
        start, stop = 0, len(text)
        for at, token in find_specials(text, self._by_length):
            if at + len(token) > limit:
                stop = at  # a special token, maybe not final: cut before it
                break
            self._send(text[start:at], -1, sink)
            sink.special(token)
            start = at + len(token)
        if final:
            self._send(text[start:], -1, sink)
            return ""
        taken = self._send(text[start:stop], limit - start, sink) if limit > start else 0
        return text[start + taken :]

    def _send(self, text: str, limit: int, sink: Sink) -> int:
        if not text:
            return 0
        if self.native_id is not None:
            return sink.native(text, limit, self.native_id)
        if limit >= 0:
            # A custom pattern may look any distance ahead or behind, so its text is cut
            # only at special tokens (and at the end): wait for one.
            return 0
        sink.pieces(self.pieces(text))
        return len(text)

class _ListSink:
    """Gathers (pieces, special) pairs, for `Pretokenizer.stream`."""

    def __init__(self):
        self.items: list[tuple[list[str], str | None]] = []

    def native(self, text: str, limit: int, pattern_id: int) -> int:
        pieces = native_pieces(text, pattern_id)
        if limit < 0:
            self.pieces(pieces)
            return len(text)
        keep, end = self._settled(text, pieces, limit)
        self.pieces(pieces[:keep])
        return end

    def pieces(self, pieces: list[str]) -> None:
        if pieces:
            self.items.append((pieces, None))

    def special(self, token: str) -> None:
        if self.items and self.items[-1][1] is None:
            self.items[-1] = (self.items[-1][0], token)
        else:
            self.items.append(([], token))

    @staticmethod
    def _settled(tail: str, pieces: list[str], limit: int) -> tuple[int, int]:
        """(k, end): the first k pieces (of a native pattern: back to back) are settled and
        end at `end`. Settled means not the last piece and ending by `limit`, since a later
        chunk could still change a lookahead or complete a special token past it."""
        keep, end = len(pieces), len(tail)
        while keep > 0 and (keep == len(pieces) or end > limit):
            keep -= 1
            end -= len(pieces[keep])
        return keep, end
