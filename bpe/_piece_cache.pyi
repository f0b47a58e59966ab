"""Stub for the compiled module bpe._piece_cache (source: _piece_cache.pyx)."""

from typing import Self, final

@final
class PieceSlots:
    def __new__(cls, bits: int = 18, packed: bool = True) -> Self: ...
    @property
    def bits(self) -> int: ...
    @property
    def packed(self) -> bool: ...  # ways hold 16-bit ids, else 32-bit ones

@final
class PieceCache:
    hits: int
    misses: int
    dropout: int  # BPE-dropout: 0 off, else merge_dropout's threshold (p * 2**53)
    rng: int  # the splitmix64 state its draws come from
    @property
    def shared(self) -> PieceSlots: ...
    @property
    def long_held(self) -> tuple[int, int]: ...  # (pieces, bytes) in the long-piece table
    def __new__(cls, shared: PieceSlots | None = None, long_bits: int = 16) -> Self: ...
