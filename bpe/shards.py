"""Sharded datasets: text files encoded into a folder of shards on any executor, and read
back as one sequence.

`encode_file(..., out=FOLDER)` (bpe.dataset) comes here. Each file is cut into shards of
about `shard_bytes`, at the safe places that cut chunks (bpe.counting), so the shards' ids
concatenate to exactly what `encode_file` writes to one `.npy`. Each shard is a task for
the executor: a Dask `Client` (`client.get_executor()` too) whose workers see the files
and the folder, any `concurrent.futures` executor, or by default a pool of threads. A task
reads its byte range in chunks, encodes them and writes the shard itself, so ids never
travel back: it returns only its number of ids and where its documents end. The client
then writes the folder's document offsets and, last, `manifest.json`, which lists the
shards in order with their ids, documents and source ranges:

    FOLDER/shard-00000.npy ...   the ids (or .bin: bare little-endian ids)
    FOLDER/offsets.npy           int64: where each document starts in the whole sequence,
                                 and the total at the end (as <name>.offsets.npy)
    FOLDER/manifest.json         what `open_shards` reads

Each file appears only when complete (bpe.atomic), the manifest after every shard; an
error removes the shards already written, so a folder holds a whole dataset or no
manifest.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bpe.atomic import AtomicFile, commit_together, naming
from bpe.counting import cut_rule, plan_chunks, safe_cut_after
from bpe.sources import Lines, Rows, Skipped, input_format, text_errors

if TYPE_CHECKING:
    from bpe.dataset import ChunkDropout
    from bpe.tokenizer import Tokenizer

MANIFEST = "manifest.json"
OFFSETS = "offsets.npy"
MANIFEST_FORMAT = "bpe sharded token ids"
MANIFEST_VERSION = 1
SHARD_BYTES = 256 << 20     # of text a shard at most: a second or two of one worker's time
SHARDS_ON_EXECUTORS = 64    # shards of a smaller input on an executor
SHARD_FORMATS = ("npy", "bin")


class EncodedShards(NamedTuple):
    manifest: Path
    offsets: Path
    shards: list[Path]
    n_tokens: int
    n_documents: int
    dtype: np.dtype  # of the ids: uint16 or uint32, little-endian
    skipped: int     # bad records skipped (errors="skip")


class _Shard(NamedTuple):
    file_index: int     # the source file's place among the inputs
    path: str           # the source file
    start: int          # its bytes [start, end), cut at safe places
    end: int
    size: int           # the file's size when the work was planned


def plan_shards(paths: Sequence[str], special_tokens: Sequence[str], native: bool | str,
                shard_bytes: int) -> list[_Shard]:
    """The byte ranges of the files, about shard_bytes each, cut only where no piece can
    straddle the cut (the cuts of chunk_ranges, looked for every shard_bytes). A file of
    records or a compressed one is a shard of its own (read as a stream)."""
    shards = []
    for index, path in enumerate(paths):
        size = os.path.getsize(path)
        if not input_format(path).plain:
            shards.append(_Shard(index, path, 0, size, size))
            continue
        start = 0
        while start + shard_bytes < size:
            cut = safe_cut_after(path, start + shard_bytes, special_tokens, native)
            if cut is None or cut >= size:
                break
            shards.append(_Shard(index, path, start, cut, size))
            start = cut
        shards.append(_Shard(index, path, start, size, size))
    return shards


def encode_shards(tokenizer: Tokenizer, paths: Sequence[str], folder: Path, *,
                  executor: Executor | None, workers: int, errors: str, chunk_bytes: int,
                  shard_bytes: int | None, shard_format: str, tokenizer_name: str | None,
                  progress_bar=None, dropout: ChunkDropout | None = None,
                  text_field: str = "text") -> EncodedShards:
    """encode_file's work for a folder (bpe.dataset checks the arguments first). Shards
    default to a quarter of each thread's share of the text on the threads here, and to a
    64th of the text on an executor (whose size is not known), so that every worker has
    work: no more than SHARD_BYTES, and no less than a chunk."""
    from bpe.dataset import EOT, record_separator

    _check_folder(folder)
    records = [path for path in paths if input_format(path).records]
    separator = record_separator(tokenizer, records[0]) if records else None
    dtype = np.dtype("<u2" if tokenizer.n_vocab <= 1 << 16 else "<u4")
    native = cut_rule(tokenizer.pattern) or False
    if shard_bytes is None:
        total = sum(map(os.path.getsize, paths))
        n_shards = SHARDS_ON_EXECUTORS if executor is not None else 4 * workers
        shard_bytes = max(chunk_bytes, min(SHARD_BYTES, -(-total // n_shards)))
    plan = plan_shards(paths, tokenizer.special_tokens, native, shard_bytes)
    eot = tokenizer.special_ids.get(EOT)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    names = [folder / f"shard-{k:05d}.{shard_format}" for k in range(len(plan))]
    own = executor is None
    pool = executor if executor is not None else ThreadPoolExecutor(
        workers, thread_name_prefix="bpe-encode")
    futures = []
    done = False
    try:
        if own:     # threads share the tokenizer: one piece table sized for all the text
            tokenizer._size_piece_cache(sum(os.path.getsize(p) for p in paths))
        futures = [pool.submit(encode_shard, tokenizer, shard, os.fspath(name), shard_format,
                               errors, chunk_bytes, eot, dropout, text_field, separator)
                   for shard, name in zip(plan, names, strict=True)]
        counts, ends, skipped = [], [], Skipped()
        for shard, future in zip(plan, futures, strict=True):
            n_ids, eots, skips = future.result()
            counts.append(n_ids)
            ends.append(eots)
            skipped.update(skips)
            if progress_bar is not None:
                progress_bar.update(shard.end - shard.start)
        result = _write_manifest(folder, plan, names, counts, ends, dtype, tokenizer,
                                 tokenizer_name)._replace(skipped=skipped.total)
        done = True
        skipped.warn(stacklevel=4)
        return result
    finally:
        if not done:
            for future in futures:
                future.cancel()
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        if not done:
            _remove_shards(futures, names, folder if made else None)


def _remove_shards(futures: list, names: list[Path], made: Path | None) -> None:
    """After an error: wait for the tasks still running, then remove the shards they wrote,
    and the folder if it was made for them."""
    for future in futures:
        if not future.cancelled():
            with suppress(Exception):
                future.result()
    for name in names:
        name.unlink(missing_ok=True)
    if made is not None and not any(made.iterdir()):
        made.rmdir()


def encode_shard(tokenizer: Tokenizer, shard: _Shard, out: str, shard_format: str,
                 errors: str, chunk_bytes: int, eot: int | None,
                 dropout: ChunkDropout | None = None, text_field: str = "text",
                 separator: int | None = None) -> tuple[int, np.ndarray, Skipped]:
    """One shard's task (on a worker): encode its bytes [start, end) of a text file, or
    all of a file of records or a compressed one, a chunk at a time (as encode_file does),
    into the shard file `out`. Returns the number of ids, the positions (in the shard)
    just after each end-of-text token, where a document ends, and the bad records skipped.
    dropout: encode_file's (ChunkDropout), seeded here for each chunk."""
    from bpe.dataset import IdsWriter, NpyWriter, encode_chunk, encode_range

    dtype = np.dtype("<u2" if tokenizer.n_vocab <= 1 << 16 else "<u4")
    writer = NpyWriter if shard_format == "npy" else IdsWriter
    native = cut_rule(tokenizer.pattern) or False
    ends, skipped = [], Skipped()
    with writer(out, dtype) as ids:
        def add(chunk: np.ndarray) -> None:
            if eot is not None:
                ends.append(np.flatnonzero(chunk == eot) + (ids.length + 1))
            ids.append(chunk)

        if input_format(shard.path).plain:
            position = shard.start
            while position < shard.end:
                cut = None
                if position + chunk_bytes < shard.end:
                    # the whole file's cuts: a cut safe in the file is safe in the shard
                    cut = safe_cut_after(shard.path, position + chunk_bytes,
                                         tokenizer.special_tokens, native)
                if cut is None or cut > shard.end:
                    cut = shard.end
                add(encode_range(tokenizer, shard.path, position, cut, shard.size,
                                 text_errors(errors),
                                 dropout and dropout.at(shard.file_index, position)))
                position = cut
        else:
            after_record = False     # as in encode_file: a separator between records
            for k, chunk in enumerate(plan_chunks([shard.path], tokenizer.special_tokens,
                                                  native, chunk_bytes, text_field=text_field)):
                chunk_ids, n_records, skips = encode_chunk(
                    tokenizer, chunk.job, errors, text_field, separator,
                    dropout and dropout.at(shard.file_index, k))
                if n_records and after_record:
                    chunk_ids = np.concatenate([np.array([separator], dtype=np.uint32),
                                                chunk_ids])
                after_record = (after_record or n_records > 0) and not chunk.last
                if skips is not None:
                    assert isinstance(chunk.job, (Lines, Rows))    # only records are skipped
                    skipped.add(chunk.job, skips)
                add(chunk_ids)
        ids.commit()
        n_ids = ids.length
    return n_ids, np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64), skipped


def _write_manifest(folder: Path, plan: list[_Shard], names: list[Path], counts: list[int],
                    ends: list[np.ndarray], dtype: np.dtype, tokenizer: Tokenizer,
                    tokenizer_name: str | None) -> EncodedShards:
    """The document offsets of the whole sequence and the manifest, written together.
    A document ends after each end-of-text token and at the end of each file (unless one
    just ended there): the rule of a single .npy's offsets."""
    offsets = [np.zeros(1, dtype=np.int64)]
    base = last = 0
    shards = []
    for shard, name, n_ids, eots in zip(plan, names, counts, ends, strict=True):
        shard_ends = eots.astype(np.int64) + base
        total = base + n_ids
        if shard.end == shard.size and total > (shard_ends[-1] if len(shard_ends) else last):
            shard_ends = np.append(shard_ends, total)
        if len(shard_ends):
            last = int(shard_ends[-1])
        offsets.append(shard_ends)
        shards.append({"path": name.name, "n_tokens": n_ids, "n_documents": len(shard_ends),
                       "source": os.fspath(shard.path), "start": shard.start,
                       "end": shard.end})
        base = total
    all_offsets = np.concatenate(offsets)
    fields = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "dtype": dtype.name,
        "byte_order": "little",
        "n_tokens": base,
        "n_documents": len(all_offsets) - 1,
        "offsets": OFFSETS,
        "tokenizer": tokenizer_name if tokenizer_name is not None else tokenizer.name,
        "n_vocab": tokenizer.n_vocab,
        "shards": shards,
    }
    from bpe.dataset import NpyWriter

    manifest = AtomicFile(folder / MANIFEST)
    with NpyWriter(folder / OFFSETS, np.dtype("<i8")) as offsets_file, manifest:
        offsets_file.append(all_offsets)
        manifest.write((json.dumps(fields, indent=2, ensure_ascii=False) + "\n").encode())
        commit_together(offsets_file, manifest)
    return EncodedShards(folder / MANIFEST, folder / OFFSETS, names, base,
                         len(all_offsets) - 1, dtype, 0)


def _check_folder(folder: Path) -> None:
    """The output folder must be new or empty: shards of another dataset would mix in."""
    name = os.fspath(folder)
    for path in (folder, *folder.parents):
        if path.exists() and not path.is_dir():
            where = "is a file" if path == folder else f"is under {os.fspath(path)!r}, a file"
            raise NotADirectoryError(f"output folder {name!r} {where}; expected a folder for "
                                     f"the shards")
    if folder.is_dir() and any(folder.iterdir()):
        raise FileExistsError(f"output folder {name!r} is not empty; shards go to a new or "
                              f"empty folder (remove it, or choose another)")


class ShardedIds(Sequence):
    """The ids of a sharded dataset as one sequence, each shard memory-mapped.

    ids[i] and ids[a:b] (a NumPy array, copied from the shards it spans), len(ids),
    np.asarray(ids) (the whole sequence in memory); offsets (int64: where each document
    starts, the total last), n_documents, document(k); shards (the memory maps)."""

    def __init__(self, manifest: Path, fields: dict, shards: list[np.ndarray],
                 offsets: np.ndarray):
        self.manifest = manifest
        self.fields = fields
        self.shards = shards
        self.offsets = offsets
        self.dtype = np.dtype(fields["dtype"]).newbyteorder("<")
        self._starts = np.cumsum([0] + [len(s) for s in shards], dtype=np.int64)

    @property
    def n_documents(self) -> int:
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return self[start:stop][::step] if stop > start else self[0:0]
            return self._range(start, stop)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"sharded ids take an int or a slice, not {type(index).__name__}")
        i = int(index) + len(self) if index < 0 else int(index)
        if not 0 <= i < len(self):
            raise IndexError(f"index {index} out of range for {len(self):,} ids")
        k = int(np.searchsorted(self._starts, i, side="right")) - 1
        return self.shards[k][i - self._starts[k]]

    def _range(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        last = int(np.searchsorted(self._starts, stop, side="left")) - 1
        parts = [self.shards[k][max(start - self._starts[k], 0):stop - self._starts[k]]
                 for k in range(first, last + 1)]
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])

    def document(self, k: int) -> np.ndarray:
        """The ids of document k (negative counts from the end)."""
        n = self.n_documents
        if not -n <= k < n:
            raise IndexError(f"document {k} out of range for {n:,} documents")
        k %= n
        return self._range(int(self.offsets[k]), int(self.offsets[k + 1]))

    def __array__(self, dtype=None, copy=None):
        ids = self._range(0, len(self))
        return ids if dtype is None else ids.astype(dtype)

    def __repr__(self) -> str:
        return (f"ShardedIds({os.fspath(self.manifest)!r}: {len(self):,} {self.dtype.name} ids "
                f"in {len(self.shards)} shard{'s' * (len(self.shards) != 1)}, "
                f"{self.n_documents:,} documents)")


_EXPECTED = "expected the manifest.json (or its folder) that encode_file writes for a folder"


def open_shards(manifest: str | os.PathLike) -> ShardedIds:
    """A sharded dataset (the folder encode_file wrote, or its manifest.json) as one
    sequence of ids, each shard memory-mapped. Every shard is checked against the manifest
    (its dtype and length) before any is used."""
    from bpe.dataset import load_ids

    path = Path(manifest)
    if path.is_dir():
        path = path / MANIFEST
    name = os.fspath(path)
    if not path.exists():
        raise FileNotFoundError(f"manifest {name!r} does not exist; {_EXPECTED}")
    try:
        with naming(path):
            fields = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{name!r} is not JSON: {e}; {_EXPECTED}") from None
    if not isinstance(fields, dict) or fields.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{name!r} is not a manifest of sharded ids (format "
                         f"{MANIFEST_FORMAT!r}); {_EXPECTED}")
    version = fields.get("version")
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        raise ValueError(f"{name!r} has format version {version!r}; this bpe reads version "
                         f"{MANIFEST_VERSION} and older: upgrade bpe to read it")
    dtype = fields.get("dtype")
    if dtype not in ("uint16", "uint32") or fields.get("byte_order") != "little":
        raise ValueError(f"{name!r} says dtype {dtype!r}, byte order "
                         f"{fields.get('byte_order')!r}; expected uint16 or uint32, little")
    ids_dtype = np.dtype(dtype).newbyteorder("<")
    shards = []
    for entry in fields.get("shards", []):
        shard = path.parent / entry["path"]
        if not shard.exists():
            raise FileNotFoundError(f"shard {os.fspath(shard)!r}, listed in {name!r}, does "
                                    f"not exist")
        if shard.suffix == ".npy":
            ids = load_ids(shard)
        else:
            expected = entry["n_tokens"] * ids_dtype.itemsize
            if shard.stat().st_size != expected:
                raise ValueError(f"shard {os.fspath(shard)!r} holds {shard.stat().st_size:,} "
                                 f"bytes; {name!r} says {entry['n_tokens']:,} {dtype} ids")
            ids = (np.memmap(shard, dtype=ids_dtype, mode="r") if expected
                   else np.zeros(0, dtype=ids_dtype))
        if len(ids) != entry["n_tokens"] or ids.dtype != ids_dtype:
            raise ValueError(f"shard {os.fspath(shard)!r} holds {len(ids):,} {ids.dtype} ids; "
                             f"{name!r} says {entry['n_tokens']:,} {dtype}")
        shards.append(ids)
    offsets = load_ids(path.parent / fields.get("offsets", OFFSETS))
    if sum(len(s) for s in shards) != fields.get("n_tokens") or (
            len(offsets) and int(offsets[-1]) != fields.get("n_tokens")):
        raise ValueError(f"{name!r} says {fields.get('n_tokens')!r} ids; its shards and "
                         f"offsets do not add up to that")
    return ShardedIds(path, fields, shards, offsets)
