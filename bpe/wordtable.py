"""WordTable: the unique pre-tokenized words of a corpus as NumPy arrays, with counts.

A word seen a million times is stored once, with count 1_000_000. Word w's byte ids are
`symbols[offsets[w]:offsets[w + 1]]`. The merge loop reads this table and never changes it,
so one table serves any number of vocabulary sizes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WordTable:
    symbols: np.ndarray  # int32[total]: every word's byte ids, back to back
    offsets: np.ndarray  # int64[n_words + 1]
    counts: np.ndarray  # int64[n_words]

    @classmethod
    def from_counts(cls, counts: Mapping[str | bytes, int]) -> WordTable:
        """Build the table from {word: count}; str words are taken as UTF-8."""
        words = [w.encode("utf-8") if isinstance(w, str) else w for w in counts]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        symbols = np.frombuffer(b"".join(words), dtype=np.uint8).astype(np.int32)
        table_counts = np.fromiter(counts.values(), dtype=np.int64, count=len(words))
        return cls(symbols, offsets, table_counts)

    @classmethod
    def from_counter(cls, counter) -> WordTable:
        """Build the table from a native PieceCounter."""
        return cls(*counter.arrays())

    @property
    def n_words(self) -> int:
        return len(self.counts)

    def word(self, index: int) -> bytes:
        """The bytes of word `index`."""
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.symbols[start:end].astype(np.uint8).tobytes()
