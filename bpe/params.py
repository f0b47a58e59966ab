"""BPETokenizerParams: the lecture's (Stanford CS336) view of a BPE tokenizer.

It lives in a module of its own, imported by `Tokenizer.params` when first used, because a
dataclass brings in `dataclasses` and `inspect`: about a megabyte and a half and a few
milliseconds that loading and using a tokenizer otherwise never pays. bpe.tokenizer still
exports the name.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BPETokenizerParams:
    """The lecture's view of a BPE tokenizer: id -> bytes, and (id, id) -> merged id."""

    vocab: dict[int, bytes]
    merges: dict[tuple[int, int], int]
