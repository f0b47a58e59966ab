"""Stub for the compiled module bpe._merge_table (source: _merge_table.pyx)."""

from typing import Final, Self, final

import numpy as np
from numpy.typing import NDArray

SHORT_PIECE_BYTES: Final[int]
"""Pieces up to this many bytes are merged with arrays; longer ones with a heap."""

@final
class MergeTable:
    def __new__(
        cls,
        left: NDArray[np.int32],
        right: NDArray[np.int32],
        merged: NDArray[np.int32],
        byte_ids: NDArray[np.int32],
        pack: bool = True,
    ) -> Self: ...
    @property
    def n_merges(self) -> int: ...
    @property
    def is_packed(self) -> bool: ...
    def encode_piece(self, piece: bytes) -> list[int]: ...
