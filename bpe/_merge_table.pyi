"""Stub for the compiled module bpe._merge_table (source: _merge_table.pyx)."""

from array import array
from typing import Final, Self, TypeAlias, final

import numpy as np
from numpy.typing import NDArray

# Any flat, contiguous buffer of int32 (format "i"): the kernel takes a typed memoryview.
_Int32s: TypeAlias = memoryview | array[int] | NDArray[np.int32]

SHORT_PIECE_BYTES: Final[int]
"""Pieces up to this many bytes are merged with arrays; longer ones with a heap."""

@final
class MergeTable:
    def __new__(
        cls,
        left: _Int32s,
        right: _Int32s,
        merged: _Int32s,
        byte_ids: _Int32s,
        pack: bool = True,
    ) -> Self: ...
    @property
    def n_merges(self) -> int: ...
    @property
    def is_packed(self) -> bool: ...
    @property
    def n_wholes(self) -> int: ...
    def take_whole_tokens(self, tokens: list[bytes], ids: list[int]) -> list[int]: ...
    def encode_piece(self, piece: bytes) -> list[int]: ...
    def encode_piece_dropout(self, piece: bytes, p: float, seed: int) -> list[int]: ...

def dropout_threshold(p: float) -> int:
    """p * 2**53, rounded; ValueError outside [0, 1]."""

def first_unnamed(ids: _Int32s, named: _Int32s) -> int:
    """The first of named that is none of ids, or -1."""

def int32_stats(values: _Int32s) -> tuple[int, int, int, bool]:
    """(min, max, sum, rising); (0, -1, 0, True) for no values."""
