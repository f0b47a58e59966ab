"""WordTable: the unique pre-tokenized words of a corpus as NumPy arrays, with counts, and
how they were counted.

A word seen a million times is stored once, with count 1_000_000. Word w's byte ids are
`symbols[offsets[w]:offsets[w + 1]]`. The merge loop reads this table and never changes it,
so one table serves any number of vocabulary sizes.

Counts only mean something under the pattern that cut the text and the special tokens that
cut its documents: training them under another pattern, or with other special tokens, gives
a vocabulary that no file could have trained. So a table carries both (None where unknown:
a table built from bare counts, or saved by an earlier version of bpe), its `.npz` records
them with a format version, tables counted differently are never added up, and training
takes them from the table (`training_settings`).
"""
from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from bpe.patterns import PatternLike, check_pattern, pattern_from_text, pattern_name
from bpe.specials import check_special_tokens

if TYPE_CHECKING:
    from bpe._count import PieceCounter, SharedCounter

FORMAT = "bpe.WordTable"
FORMAT_VERSION = 1  # the .npz layout: symbols, offsets, counts and a JSON "metadata" string
# (pattern, special tokens): how a table's words were cut, None where unknown.
Settings: TypeAlias = "tuple[PatternLike | None, tuple[str, ...] | None]"


@dataclass(frozen=True)
class WordTable:
    symbols: np.ndarray  # int32[total]: every word's byte ids, back to back
    offsets: np.ndarray  # int64[n_words + 1]
    counts: np.ndarray  # int64[n_words]
    # How the words were cut: a built-in pattern's name or a compiled `regex` pattern (as
    # Tokenizer.pattern), and the special tokens; None where unknown.
    pattern: PatternLike | None = None
    special_tokens: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Checked and put in one form here, so that `dataclasses.replace(table, pattern=...)`
        # is checked alike.
        if self.pattern is not None:
            object.__setattr__(self, "pattern", check_pattern(self.pattern))
        if self.special_tokens is not None:
            if isinstance(self.special_tokens, str):
                raise TypeError(f"special_tokens={self.special_tokens!r} is one str; expected "
                                f"a list of special tokens")
            object.__setattr__(self, "special_tokens",
                               tuple(check_special_tokens(self.special_tokens)))

    @classmethod
    def from_counts(cls, counts: Mapping[str | bytes, int], pattern: PatternLike | None = None,
                    special_tokens: Sequence[str] | None = None) -> WordTable:
        """Build the table from {word: count}; str words are taken as UTF-8. `pattern` and
        `special_tokens`: how the words were cut, if known."""
        words = [w.encode("utf-8") if isinstance(w, str) else w for w in counts]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        symbols = np.frombuffer(b"".join(words), dtype=np.uint8).astype(np.int32)
        table_counts = np.fromiter(counts.values(), dtype=np.int64, count=len(words))
        return cls(symbols, offsets, table_counts, pattern, _tokens(special_tokens))

    @classmethod
    def from_counter(cls, counter: PieceCounter | SharedCounter,
                     pattern: PatternLike | None = None,
                     special_tokens: Sequence[str] | None = None) -> WordTable:
        """Build the table from a native counter (count_files') that counted text cut by `pattern`
        and `special_tokens`."""
        return cls(*counter.arrays(), pattern, _tokens(special_tokens))

    @classmethod
    def merge(cls, tables: Iterable[WordTable]) -> WordTable:
        """One table holding every word of `tables`, counts added (shards counted apart;
        each table is added as it comes, so a generator of loads holds one at a time). The
        tables must have been counted alike (same pattern, same special tokens, or both
        unknown): anything else is a ValueError naming both."""
        from bpe._count import PieceCounter

        counter = PieceCounter()
        first: WordTable | None = None
        weight = 0.0
        for k, table in enumerate(tables):
            if not isinstance(table, WordTable):
                raise TypeError(f"count table {k} is a {type(table).__name__}, not a WordTable")
            if first is None:
                first = table
            elif (difference := settings_difference(first.settings, table.settings)) is not None:
                raise ValueError(f"count tables 0 and {k} were counted differently "
                                 f"({difference}); only tables counted alike add up")
            symbols, offsets, counts = _checked_arrays(table.symbols, table.offsets,
                                                       table.counts, f"count table {k}")
            weight += _weight(offsets, counts)
            if weight >= _MAX_WEIGHT:
                raise ValueError(f"count tables 0..{k} add up to more pieces than training "
                                 f"can count (2**62)")
            counter.add_table(symbols.astype(np.uint8), offsets, counts)
        if first is None:
            return cls.from_counter(counter)
        return cls.from_counter(counter, first.pattern, first.special_tokens)

    @property
    def settings(self) -> Settings:
        """(pattern, special tokens): how the words were cut, None where unknown."""
        return self.pattern, self.special_tokens

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as .npz, with its pattern, special tokens and format version (to a
        temporary name first, then renamed into place)."""
        from bpe.atomic import write_files

        path = Path(path)
        metadata = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "pattern": None if self.pattern is None else pattern_name(self.pattern),
            "special_tokens": None if self.special_tokens is None else list(self.special_tokens),
        }
        data = io.BytesIO()
        np.savez(data, symbols=self.symbols, offsets=self.offsets, counts=self.counts,
                 metadata=np.array(json.dumps(metadata, ensure_ascii=False)))
        write_files(path.parent, {path.name: data.getvalue()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> WordTable:
        """Read a table written by `save`; a clear error for anything else. A table saved
        without pattern and special tokens (by an earlier version of bpe) loads with both
        None."""
        name = os.fspath(path)
        arrays, metadata = _read(path, ("symbols", "offsets", "counts"))
        symbols, offsets, counts = arrays["symbols"], arrays["offsets"], arrays["counts"]
        if symbols.dtype != np.int32 or offsets.dtype != np.int64 or counts.dtype != np.int64:
            raise ValueError(f"{name!r}: arrays have the wrong types for a count table "
                             f"(symbols {symbols.dtype}, offsets {offsets.dtype}, counts "
                             f"{counts.dtype}; expected int32, int64, int64)")
        _checked_arrays(symbols, offsets, counts, repr(name))
        if _weight(offsets, counts) >= _MAX_WEIGHT:
            raise ValueError(f"{name!r}: its counts add up to more pieces than training can "
                             f"count (2**62)")
        settings = _read_metadata(metadata, name)
        try:
            return cls(symbols, offsets, counts, *settings)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{name!r}: {e}") from None

    @staticmethod
    def load_settings(path: str | os.PathLike) -> Settings:
        """(pattern, special tokens) a table written by `save` records, without reading its
        counts: to check a set of tables before adding any up."""
        _, metadata = _read(path, ())
        return _read_metadata(metadata, os.fspath(path))

    @property
    def n_words(self) -> int:
        return len(self.counts)

    def word(self, index: int) -> bytes:
        """The bytes of word `index`."""
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.symbols[start:end].astype(np.uint8).tobytes()


def training_settings(recorded: Settings, pattern: PatternLike | None,
                      special_tokens: Sequence[str] | None, source: str = "the count table",
                      names: tuple[str, str] = ("pattern", "special_tokens"),
                      ) -> tuple[PatternLike, list[str]]:
    """(pattern, special tokens) to train a table with, from those it `recorded` (its
    `settings`) and those given. A given one must agree with the table's (special tokens as
    a set; the given order then sets their ids); one the table does not record must be
    given, the pattern at least (special tokens default to none). `source` and `names`
    (the argument or flag names) are what errors name."""
    table_pattern, table_specials = recorded
    pattern_arg, specials_arg = names
    if pattern is not None:
        pattern = check_pattern(pattern)
    if special_tokens is not None:
        special_tokens = check_special_tokens(special_tokens)
    if table_pattern is None:
        if pattern is None:
            missing = "pattern" if table_specials is not None else "pattern or special tokens"
            raise ValueError(
                f"{source} records no {missing} (built from bare counts, or saved by an "
                f"earlier version of bpe): say what it was counted with: {pattern_arg} and "
                f"any {specials_arg}")
    elif pattern is not None and pattern_name(pattern) != pattern_name(table_pattern):
        raise ValueError(
            f"{pattern_arg} {pattern_name(pattern)!r} conflicts with {source}, counted with "
            f"pattern {pattern_name(table_pattern)!r}: counts cut by one pattern cannot train "
            f"another (leave {pattern_arg} out to use the table's)")
    else:
        pattern = table_pattern
    if table_specials is None:
        return pattern, list(special_tokens or [])
    if special_tokens is not None and set(special_tokens) != set(table_specials):
        raise ValueError(
            f"{specials_arg} {special_tokens!r} conflicts with {source}, counted with special "
            f"tokens {list(table_specials)!r}: special tokens cut documents as the text is "
            f"counted, so they cannot change afterwards (leave {specials_arg} out to use the "
            f"table's)")
    return pattern, list(special_tokens if special_tokens is not None else table_specials)


def settings_difference(a: tuple[PatternLike | None, Sequence[str] | None],
                        b: tuple[PatternLike | None, Sequence[str] | None]) -> str | None:
    """How two tables' settings differ, in words ("pattern 'gpt2' vs 'cl100k'"), or None
    if alike. Special tokens compare as sets: their order does not change a count."""
    (pattern_a, specials_a), (pattern_b, specials_b) = a, b
    shown_a, shown_b = _shown_pattern(pattern_a), _shown_pattern(pattern_b)
    if shown_a != shown_b:
        return f"pattern {shown_a} vs {shown_b}"
    if specials_a is None or specials_b is None:
        alike = specials_a is specials_b
    else:
        alike = set(specials_a) == set(specials_b)
    if alike:
        return None
    return f"special tokens {_shown_specials(specials_a)} vs {_shown_specials(specials_b)}"


def _shown_pattern(pattern: PatternLike | None) -> str:
    return "unknown" if pattern is None else repr(pattern_name(pattern))


def _shown_specials(specials: Sequence[str] | None) -> str:
    return "unknown" if specials is None else repr(list(specials))


def _read(path: str | os.PathLike, keys: tuple[str, ...]
          ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The arrays `keys` of a saved table and its metadata (None if it has none); a clear
    error for a missing file or one that is no count table."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":   # np.load would say "pickled data" of any other
                raise ValueError("it is not a .npz file (a zip archive)")
        with np.load(path, allow_pickle=False) as data:
            missing = {"symbols", "offsets", "counts"} - set(data.files)
            if missing:
                raise KeyError(f"no {', '.join(sorted(missing))} array")
            arrays = {k: data[k] for k in keys}
            metadata = data["metadata"] if "metadata" in data.files else None
    except FileNotFoundError:
        raise FileNotFoundError(f"count table {name!r} does not exist") from None
    except (KeyError, ValueError, OSError, AttributeError, EOFError, TypeError,
            zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError,
            OverflowError) as e:   # a damaged zip, or .npy in it (RuntimeError: encrypted)
        raise ValueError(f"{name!r} is not a count table written by "
                         f"WordTable.save: {e}") from None
    return arrays, metadata


# The most pieces (counts times word lengths, plus one a word) tables may hold: pair counts
# stay far from int64's end however the merge loop adds them up.
_MAX_WEIGHT = float(2**62)


def _weight(offsets: np.ndarray, counts: np.ndarray) -> float:
    """About how many pieces and bytes the counts add up to (float64: no overflow)."""
    lengths = np.diff(offsets).astype(np.float64) + 1.0
    # (not np.dot: BLAS would start threads that keep spinning beside the merge loop)
    return float((counts.astype(np.float64) * lengths).sum())


def _checked_arrays(symbols: object, offsets: object, counts: object, where: str
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A table's arrays as (symbols, int64 offsets, int64 counts), after checking that they
    make one: flat arrays of integers, symbols bytes (0..255, never wrapped), offsets from 0
    to len(symbols) and never falling, counts >= 0. ValueError naming `where` if not."""
    named = {"symbols": symbols, "offsets": offsets, "counts": counts}
    for label, array in named.items():
        if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype.kind not in "iu":
            shown = (f"a {array.ndim}-D array of {array.dtype}" if isinstance(array, np.ndarray)
                     else f"a {type(array).__name__}")
            raise ValueError(f"{where}: {label} must be a flat NumPy array of integers, got "
                             f"{shown}")
    assert isinstance(symbols, np.ndarray) and isinstance(offsets, np.ndarray)
    assert isinstance(counts, np.ndarray)
    problem = None
    if any(a.dtype.kind == "u" and len(a) and int(a.max()) >= 2**63 for a in (offsets, counts)):
        problem = "offsets and counts must fit int64"
    elif len(symbols) and (int(symbols.min()) < 0 or int(symbols.max()) > 255):
        problem = "symbols must be bytes, 0..255"
    if problem is None:
        offsets, counts = offsets.astype(np.int64), counts.astype(np.int64)
        if (len(offsets) != len(counts) + 1 or offsets[0] != 0
                or offsets[-1] != len(symbols) or np.any(np.diff(offsets) < 0)):
            problem = ("offsets must run from 0 to the number of symbols, never falling, one "
                       "more than counts")
        elif len(counts) and int(counts.min()) < 0:
            problem = "counts must be >= 0"
    if problem:
        raise ValueError(f"{where}: the arrays are no count table: {problem}")
    return symbols, offsets, counts


def _tokens(special_tokens: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if special_tokens is None else tuple(special_tokens)


def _read_metadata(metadata: np.ndarray | None, name: str
                   ) -> tuple[PatternLike | None, tuple[str, ...] | None]:
    """(pattern, special tokens) from a saved table's metadata; (None, None) without any."""
    if metadata is None:
        return None, None
    try:
        fields = json.loads(str(metadata[()]))
    except (ValueError, IndexError, RecursionError) as e:
        raise ValueError(f"{name!r}: its metadata is not the JSON WordTable.save writes: "
                         f"{e}") from None
    if not isinstance(fields, dict) or fields.get("format") != FORMAT:
        raise ValueError(f"{name!r}: its metadata is not a count table's "
                         f"(expected format {FORMAT!r})")
    version = fields.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ValueError(f"{name!r} is a count table of format version {version!r}; this bpe "
                         f"reads version {FORMAT_VERSION} and older: upgrade bpe to read it")
    pattern, specials = fields.get("pattern"), fields.get("special_tokens")
    if not (pattern is None or isinstance(pattern, str)) or not (
            specials is None or (isinstance(specials, list)
                                 and all(isinstance(t, str) for t in specials))):
        raise ValueError(f"{name!r}: its metadata has pattern {pattern!r} and special tokens "
                         f"{specials!r}; expected a str and a list of str")
    try:
        return (None if pattern is None else pattern_from_text(pattern),
                None if specials is None else tuple(specials))
    except ValueError as e:
        raise ValueError(f"{name!r}: {e}") from None

