"""Stub for the compiled module bpe._decode (source: _decode.pyx)."""

from typing import Literal, Self, TypeAlias, final, overload

import numpy as np
from numpy.typing import NDArray

_IdArray: TypeAlias = (
    NDArray[np.uint16] | NDArray[np.uint32] | NDArray[np.int32] | NDArray[np.int64]
)

@final
class TokenArena:
    def __new__(cls, tokens: list[bytes | None] | list[bytes]) -> Self: ...
    @property
    def n_vocab(self) -> int: ...
    @overload
    def decode(
        self, ids: _IdArray, as_text: Literal[False] = False, errors: str = "replace"
    ) -> bytes: ...
    @overload
    def decode(self, ids: _IdArray, as_text: Literal[True], errors: str = "replace") -> str: ...
    @overload
    def decode(self, ids: _IdArray, as_text: bool, errors: str = "replace") -> bytes | str: ...
    @overload
    def decode_list(
        self, ids: list[int], as_text: Literal[False] = False, errors: str = "replace"
    ) -> bytes: ...
    @overload
    def decode_list(
        self, ids: list[int], as_text: Literal[True], errors: str = "replace"
    ) -> str: ...
    @overload
    def decode_list(
        self, ids: list[int], as_text: bool, errors: str = "replace"
    ) -> bytes | str: ...

@final
class Output: ...
