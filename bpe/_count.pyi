"""Stub for the compiled module bpe._count (source: _count.pyx)."""

import numpy as np
from numpy.typing import NDArray
from typing_extensions import disjoint_base

@disjoint_base
class PieceCounter:
    def __len__(self) -> int: ...
    def count_text(self, text: str, limit: int, pattern_id: int) -> int: ...
    def count_utf8(
        self,
        data: bytes | bytearray | memoryview,
        stretches: list[tuple[int, int]],
        pattern_id: int,
    ) -> bool: ...
    def add(self, pieces: list[str]) -> None: ...
    def add_table(
        self,
        text: bytes | bytearray | memoryview | NDArray[np.uint8],
        offsets: NDArray[np.int64],
        counts: NDArray[np.int64],
    ) -> None: ...
    def byte_arrays(self) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]: ...
    def arrays(self) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int64]]: ...
