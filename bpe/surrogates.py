"""Lone surrogates, as tiktoken treats them: a str may hold them, UTF-8 cannot, so valid
pairs are joined and lone ones become U+FFFD before encoding."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """Like tiktoken: valid surrogate pairs joined, lone surrogates replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def chunks_without_surrogates(chunks: Iterable[str]) -> Iterator[str]:
    """without_surrogates over a stream, keeping a pair that a chunk boundary splits."""
    carry = ""
    for chunk in chunks:
        if not isinstance(chunk, str):
            raise TypeError(f"expected str chunks, got {type(chunk).__name__}")
        if chunk.isascii() and not carry:  # the common case costs nothing
            yield chunk
            continue
        chunk, carry = carry + chunk, ""
        if chunk and "\ud800" <= chunk[-1] <= "\udbff":  # a high surrogate: its pair may follow
            chunk, carry = chunk[:-1], chunk[-1]
        yield without_surrogates(chunk) if _SURROGATE.search(chunk) else chunk
    if carry:
        yield without_surrogates(carry)
