"""Stub for the compiled module bpe._piece_cache (source: _piece_cache.pyx)."""

from typing import Self, final

@final
class PieceSlots:
    def __new__(cls, bits: int = 18) -> Self: ...
    @property
    def bits(self) -> int: ...

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
