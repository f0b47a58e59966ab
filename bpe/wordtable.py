"""WordTable: the unique pre-tokenized words of a corpus as NumPy arrays, with counts.

A word seen a million times is stored once, with count 1_000_000. Word w's byte ids are
`symbols[offsets[w]:offsets[w + 1]]`. The merge loop reads this table and never changes it,
so one table serves any number of vocabulary sizes.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bpe._count import PieceCounter


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
    def from_counter(cls, counter: PieceCounter) -> WordTable:
        """Build the table from a native PieceCounter."""
        return cls(*counter.arrays())

    @classmethod
    def merge(cls, tables: Iterable[WordTable]) -> WordTable:
        """One table holding every word of `tables`, counts added (shards counted apart)."""
        from bpe._count import PieceCounter

        counter = PieceCounter()
        for table in tables:
            counter.add_table(table.symbols.astype(np.uint8), table.offsets, table.counts)
        return cls.from_counter(counter)

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as .npz (to a temporary name first, then renamed into place)."""
        from bpe.atomic import write_files

        path = Path(path)
        data = io.BytesIO()
        np.savez(data, symbols=self.symbols, offsets=self.offsets, counts=self.counts)
        write_files(path.parent, {path.name: data.getvalue()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> WordTable:
        """Read a table written by `save`; a clear error for anything else."""
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in ("symbols", "offsets", "counts")}
        except FileNotFoundError:
            raise FileNotFoundError(f"count table {os.fspath(path)!r} does not exist") from None
        except (KeyError, ValueError, OSError, AttributeError) as e:
            raise ValueError(f"{os.fspath(path)!r} is not a count table written by "
                             f"WordTable.save: {e}") from None
        symbols, offsets, counts = arrays["symbols"], arrays["offsets"], arrays["counts"]
        if (symbols.dtype != np.int32 or offsets.dtype != np.int64 or counts.dtype != np.int64
                or len(offsets) != len(counts) + 1 or offsets[0] != 0
                or offsets[-1] != len(symbols) or np.any(np.diff(offsets) < 0)
                or (len(symbols) and (symbols.min() < 0 or symbols.max() > 255))):
            raise ValueError(f"{os.fspath(path)!r}: arrays have the wrong types or lengths "
                             f"for a count table")
        return cls(symbols, offsets, counts)

    @property
    def n_words(self) -> int:
        return len(self.counts)

    def word(self, index: int) -> bytes:
        """The bytes of word `index`."""
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.symbols[start:end].astype(np.uint8).tobytes()
