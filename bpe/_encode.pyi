"""Stub for the compiled module bpe._encode (source: _encode.pyx)."""

from array import array
from collections.abc import Iterable
from typing import Self, final

import numpy as np
from numpy.typing import NDArray

from bpe._ids import IdBuffer, PinnedInts
from bpe._merge_table import MergeTable
from bpe._piece_cache import PieceCache

@final
class Specials:
    def __new__(
        cls, tokens: tuple[bytes, ...], ids: memoryview | array[int] | NDArray[np.int32]
    ) -> Self: ...
    def find_all(
        self, data: bytes | bytearray | memoryview, stop: int = -1
    ) -> list[tuple[int, int]]: ...

def encode_pieces(
    table: MergeTable, pieces: list[str], out: IdBuffer, cache: PieceCache
) -> None: ...
def encode_ordinary(
    table: MergeTable, text: str, limit: int, pattern_id: int, out: IdBuffer, cache: PieceCache
) -> int: ...
def encode_str(
    table: MergeTable,
    text: str,
    pattern_id: int,
    out: IdBuffer,
    cache: PieceCache,
    specials: Specials,
    refused: Specials | None = None,
) -> bool: ...
def encode_utf8(
    table: MergeTable,
    data: bytes | bytearray | memoryview | NDArray[np.uint8],
    pattern_id: int,
    out: IdBuffer,
    cache: PieceCache,
    specials: Specials,
) -> bool: ...
def encode_strs(
    table: MergeTable,
    texts: Iterable[object],
    pattern_id: int,
    cache: PieceCache,
    specials: Specials,
    ints: PinnedInts,
    refused: Specials | None = None,
) -> list[list[int] | None]: ...
