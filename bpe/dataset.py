"""Datasets: input files encoded to a file of token ids, streaming, on a pool of threads.

The CS336 step "encode the training set into a uint16 NumPy array", for files larger than
memory. Files are cut into chunks where no piece can straddle the cut
(`bpe.counting.plan_chunks`: each cut found as the work goes), so the chunks' ids
concatenate to exactly the file's encode; chunks are encoded on threads (the kernels
release the GIL) and written in order, with at most 2 x workers chunks in flight. Files of
records (JSONL, Parquet: bpe.sources) encode as the text of their records joined by
"<|endoftext|>": a chunk's records are joined by it, and one more goes between chunks. The
`.npy` is written without knowing its length: a fixed-size header is reserved, the ids
streamed after it, and the header rewritten with the final shape. Output goes to temporary
names and is renamed into place only when complete.

The output's suffix says its layout, and any other suffix is an error before any work:
  - `ids.npy`: a NumPy array, `np.load("ids.npy", mmap_mode="r")`;
  - `ids.bin`: the bare ids, little-endian, the layout nanoGPT and CS336 read with
    `np.memmap("ids.bin", dtype=np.uint16, mode="r")`. Nothing in it says its dtype, so
    `ids.bin.json` beside it does (with the number of tokens, the tokenizer and the offsets
    file); `load_ids` reads either layout.
Both are uint16 when the vocabulary fits 16 bits, else uint32. Next to either,
`ids.offsets.npy` (int64) holds where each document starts, and the total at the end:
document k is ids[offsets[k]:offsets[k + 1]]. A document ends after each "<|endoftext|>"
(when the tokenizer has it as a special token) and at the end of each file. All the files
appear together, or none.
"""
from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bpe.atomic import AtomicFile, commit_together, naming
from bpe.counting import (
    Job,
    TextBlock,
    TextRange,
    block_text,
    check_workers,
    cut_rule,
    plan_chunks,
    read_text_chunks,
)
from bpe.dropout import dropout_of, part_seed
from bpe.shards import SHARD_FORMATS, EncodedShards, encode_shards
from bpe.sources import (
    Skipped,
    Skips,
    check_errors,
    check_input,
    check_regular_file,
    check_text_field,
    input_format,
    read_range,
    record_batches,
    text_errors,
)
from bpe.specials import overlaps_separator

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from bpe.tokenizer import Tokenizer

EOT = "<|endoftext|>"
_HEADER_BYTES = 128  # a .npy v1.0 header, padded to this size whatever the length
SIDECAR_FORMAT = "bpe token ids"
SIDECAR_VERSION = 1
_EXPECTED = ("expected a .npy of integer token ids, or a .bin of raw ids with its sidecar "
             "<name>.bin.json, as `bpe encode` writes them")


class EncodedFile(NamedTuple):
    ids: Path
    offsets: Path
    n_tokens: int
    n_documents: int
    dtype: np.dtype  # of the ids: uint16 or uint32, little-endian
    sidecar: Path | None  # a .bin's <name>.bin.json (None for a .npy)
    skipped: int = 0  # records skipped under errors="skip" (JSONL, Parquet)


# The text a chunk holds. A worker holds about three chunks' worth at once (the text, its
# ids, ids waiting to be written), so the chunk sets encode_file's memory beside the piece
# cache: the mix corpus on one thread peaks at 91 MB with 1 MB chunks, 107 MB with 4 MB. A
# chunk's own cost (a future, a read, an array) stays near 1% of its encode.
ENCODE_CHUNK_BYTES = 1 << 20


def output_paths(out: str | os.PathLike) -> tuple[Path, Path, Path | None]:
    """(ids, offsets, sidecar or None): the files encode_file writes for `out`, which must end
    in .npy or .bin (a ValueError naming it otherwise)."""
    out = Path(out)
    if out.name in (".npy", ".bin"):
        raise ValueError(f"output {os.fspath(out)!r} has no name before its suffix; give one, "
                         f"such as ids{out.name}")
    if out.suffix not in (".npy", ".bin"):
        raise ValueError(f"output {os.fspath(out)!r} must end in .npy (a NumPy array, for "
                         f"np.load) or .bin (raw little-endian uint16 or uint32 ids, for "
                         f"np.memmap, their dtype in <name>.bin.json), or be a folder (no "
                         f"suffix) for shards")
    sidecar = out.with_name(out.name + ".json") if out.suffix == ".bin" else None
    return out, out.with_suffix(".offsets.npy"), sidecar


def is_folder_output(out: str | os.PathLike) -> bool:
    """Whether encode_file writes `out` as a folder of shards: a name without a suffix, or
    an existing folder."""
    out = Path(out)
    if out.name in (".npy", ".bin") or out.suffix in (".npy", ".bin"):
        return False       # (".npy" has no suffix to Path: a file with no name, an error)
    return out.suffix == "" or out.is_dir()


def encode_file(tokenizer: Tokenizer, paths: str | os.PathLike | Sequence[str | os.PathLike],
                out: str | os.PathLike = "ids.npy", workers: int | None = None,
                progress: bool | None = None, errors: str = "strict",
                chunk_bytes: int = ENCODE_CHUNK_BYTES, *, tokenizer_name: str | None = None,
                text_field: str = "text", executor: Executor | None = None,
                shard_bytes: int | None = None, shard_format: str = "npy",
                dropout: float | None = None, seed: int | None = None
                ) -> EncodedFile | EncodedShards:
    """Encode text files, one after the other, into `out` (uint16 when the vocabulary fits,
    else uint32) and its document offsets `<out stem>.offsets.npy`. `out` ending in .npy
    is a NumPy array; in .bin, the raw little-endian ids (np.memmap's layout) and the
    sidecar `<out>.json` saying their dtype, number, tokenizer (`tokenizer_name`, default
    the tokenizer's name) and offsets file. Any other suffix is an error.

    Each file is encoded on its own (no separator added, no piece spans two files), so the
    ids are the concatenation of the files' encodes: the encode of the concatenated text
    whenever a file ends at a piece boundary, as after "<|endoftext|>".
    Inputs are read by their name's ending (bpe.sources): text, .gz or .zst text, JSONL
    (.jsonl, .jsonl.gz, .jsonl.zst: the str field `text_field` of each line) and Parquet
    (the string column `text_field`). Records are documents: a file of them encodes as the
    text file of its records joined by "<|endoftext|>", which the tokenizer must have.
    workers: threads (default: all cores). progress: a bar of bytes on stderr (default:
    when stderr is a terminal). errors: "strict" stops at invalid UTF-8 or a bad record,
    naming the file and byte offset, line or row; "replace" encodes U+FFFD for invalid
    UTF-8; "skip" skips bad records (counted in `skipped`, and a BadRecordsWarning).
    Nothing is left at `out` unless complete.

    `out` a folder (a name without a suffix; new or empty): the ids go to shards there, each
    about `shard_bytes` of text (a JSONL, Parquet or compressed file is one shard, read as a
    stream; `shard_format` "npy" or "bin"), with `offsets.npy` and a
    `manifest.json` written last; `open_shards` reads them back as one sequence, equal to
    the single file's ids (bpe.shards). The shards are encoded on `executor` (a Dask
    Client, or any concurrent.futures.Executor, whose workers can read the inputs and
    write the folder), or on `workers` threads. Returns a bpe.shards.EncodedShards.

    dropout, seed: BPE-dropout as in Tokenizer.encode; each chunk draws from a stream of
    its own, seeded by seed, the file's place and the chunk's start, so a seed gives the
    same ids for the same arguments on any number of workers.

    >>> encode_file(tok, ["train.txt"], "train.npy")
    EncodedFile(ids=PosixPath('train.npy'), offsets=PosixPath('train.offsets.npy'), ...)
    >>> encode_file(tok, ["train.txt"], "train.bin").dtype   # + train.bin.json
    dtype('uint16')
    """
    check_errors(errors)
    check_text_field(text_field)
    check_workers(workers)
    _check_chunk_bytes(chunk_bytes, "chunk_bytes")
    drop = dropout_of(dropout, seed)
    chunk_dropout = None if drop is None or dropout is None else ChunkDropout(dropout, seed)
    if is_folder_output(out):
        if shard_format not in SHARD_FORMATS:
            raise ValueError(f"shard_format={shard_format!r}; expected one of "
                             f"{', '.join(map(repr, SHARD_FORMATS))}")
        if shard_bytes is not None:
            _check_chunk_bytes(shard_bytes, "shard_bytes")
        paths = _input_paths(paths, text_field)
        bar = _progress_bar(sum(map(os.path.getsize, paths)), progress)
        try:
            return encode_shards(tokenizer, paths, Path(out), executor=executor,
                                 workers=int(workers or os.cpu_count() or 1), errors=errors,
                                 chunk_bytes=chunk_bytes, shard_bytes=shard_bytes,
                                 shard_format=shard_format, tokenizer_name=tokenizer_name,
                                 progress_bar=bar, dropout=chunk_dropout, text_field=text_field)
        finally:
            if bar is not None:
                bar.close()
    if executor is not None:
        raise ValueError(f"an executor encodes shards on its workers: give a folder as out "
                         f"(such as 'ids'), not the single file {os.fspath(out)!r}")
    out, offsets_path, sidecar_path = output_paths(out)
    paths = _input_paths(paths, text_field)
    _refuse_overwriting_inputs(paths, [out, offsets_path, sidecar_path])
    records = [path for path in paths if input_format(path).records]
    separator = record_separator(tokenizer, records[0]) if records else None
    dtype = np.dtype("<u2" if tokenizer.n_vocab <= 1 << 16 else "<u4")
    writer = IdsWriter if sidecar_path is not None else NpyWriter
    # Made (not opened) now, so that a sidecar path that cannot be written fails first.
    sidecar = AtomicFile(sidecar_path) if sidecar_path is not None else None
    native = cut_rule(tokenizer.pattern) or False
    sizes = {path: os.path.getsize(path) for path in paths}
    chunks = plan_chunks(paths, tokenizer.special_tokens, native, chunk_bytes,
                         text_field=text_field)
    workers = int(workers or os.cpu_count() or 1)
    tokenizer._size_piece_cache(sum(_text_bytes(path, size) for path, size in sizes.items()))
    bar = _progress_bar(sum(sizes.values()), progress)
    skipped = Skipped()
    in_flight: deque = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="bpe-encode")
    try:
        with writer(out, dtype) as ids, NpyWriter(offsets_path, np.dtype("<i8")) as offsets:
            documents = _Documents(offsets, tokenizer.special_ids.get(EOT))
            # Whether the file being written has had a record: the next one follows a separator.
            after_record = False

            def write_oldest() -> None:
                nonlocal after_record
                chunk, future = in_flight.popleft()
                chunk_ids, n_records, skips = future.result()
                if n_records and after_record:
                    chunk_ids = np.concatenate([np.array([separator], dtype=np.uint32), chunk_ids])
                after_record = (after_record or n_records > 0) and not chunk.last
                if skips is not None:
                    skipped.add(chunk.job, skips)
                documents.add(chunk_ids, ids.length, chunk.last)
                ids.append(chunk_ids)
                if bar is not None:
                    bar.update(chunk.n_bytes)

            for k, chunk in enumerate(chunks):
                future = pool.submit(encode_chunk, tokenizer, chunk.job, errors, text_field,
                                     separator, chunk_dropout and chunk_dropout.at(k))
                in_flight.append((chunk, future))
                if len(in_flight) >= 2 * workers:
                    write_oldest()
            while in_flight:
                write_oldest()
            if sidecar is None:
                commit_together(ids, offsets)
            else:
                with sidecar:
                    sidecar.write(_sidecar_json(tokenizer, tokenizer_name, ids, offsets))
                    commit_together(ids, offsets, sidecar)
    finally:
        for _, future in in_flight:  # an error or Ctrl-C: drop the chunks not yet started
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    skipped.warn()
    return EncodedFile(out, offsets_path, ids.length, offsets.length - 1, dtype, sidecar_path,
                       skipped.total)


def record_separator(tokenizer: Tokenizer, path: str) -> int:
    """The id put between records: "<|endoftext|>"'s. A ValueError if the tokenizer has no
    such special token, or has one that could overlap it and join two records' text."""
    eot = tokenizer.special_ids.get(EOT)
    if eot is None:
        raise ValueError(f"input {path!r} holds records, which encode_file separates with "
                         f"{EOT!r}; this tokenizer has no such special token (its special "
                         f"tokens: {tokenizer.special_tokens}): train or load it with "
                         f"{EOT!r}, or encode a text file")
    overlap = overlaps_separator(EOT, tokenizer.special_tokens)
    if overlap is not None:
        raise ValueError(f"input {path!r} holds records, which encode_file separates with "
                         f"{EOT!r}; this tokenizer's special token {overlap!r} can overlap "
                         f"that separator, so a record's ids would depend on its neighbours: "
                         f"encode a text file of the records instead")
    return eot


def _text_bytes(path: str, size: int) -> int:
    """About how much text a file holds, for sizing the piece cache: compressed files and
    Parquet hold about four times their size."""
    fmt = input_format(path)
    return size if fmt.compression is None and fmt.kind != "parquet" else 4 * size


def _sidecar_json(tokenizer: Tokenizer, name: str | None, ids: IdsWriter,
                  offsets: IdsWriter) -> bytes:
    """What a .bin's sidecar says: all a reader needs that the bare ids do not."""
    fields = {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "dtype": ids.dtype.name,
        "byte_order": "little",
        "n_tokens": ids.length,
        "n_documents": offsets.length - 1,
        "offsets": offsets.path.name,
        "tokenizer": name if name is not None else tokenizer.name,
        "n_vocab": tokenizer.n_vocab,
    }
    return (json.dumps(fields, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def load_ids(path: str | os.PathLike) -> np.ndarray:
    """The token ids of a file encode_file wrote, memory-mapped: a .npy of integers, or a
    .bin read as its sidecar <name>.bin.json says. Anything else is an error naming the
    file and saying what was expected."""
    name, path = os.fspath(path), Path(path)
    if not path.exists():
        raise FileNotFoundError(f"ids file {name!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"ids file {name!r} is a folder; {_EXPECTED}")
    if path.suffix == ".bin":
        return _load_bin(path)
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY":
        raise ValueError(f"{name!r} is not a file of token ids: {_EXPECTED}")
    try:
        ids = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise ValueError(f"{name!r} is a .npy that cannot be read as token ids ({e}); "
                         f"{_EXPECTED}") from None
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"{name!r} holds dtype {ids.dtype}, shape {ids.shape}; expected a 1-D "
                         f"array of integer token ids")
    return ids


def _load_bin(path: Path) -> np.ndarray:
    """A .bin's ids, as its sidecar describes them; a clear error if it is missing, is not
    one, or does not fit the file."""
    name = os.fspath(path)
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.exists():
        raise ValueError(f"{name!r} is raw token ids without its sidecar {sidecar.name!r}, "
                         f"which says their dtype; {_EXPECTED}")
    try:
        fields = json.loads(sidecar.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{os.fspath(sidecar)!r} is not JSON: {e}; {_EXPECTED}") from None
    if not isinstance(fields, dict) or fields.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{os.fspath(sidecar)!r} is not the sidecar `bpe encode` writes "
                         f"(format {SIDECAR_FORMAT!r}); {_EXPECTED}")
    version, dtype, n_tokens = fields.get("version"), fields.get("dtype"), fields.get("n_tokens")
    if not isinstance(version, int) or version > SIDECAR_VERSION:
        raise ValueError(f"{os.fspath(sidecar)!r} has format version {version!r}; this bpe "
                         f"reads version {SIDECAR_VERSION} and older: upgrade bpe to read it")
    if (dtype not in ("uint16", "uint32") or fields.get("byte_order") != "little"
            or not isinstance(n_tokens, int) or n_tokens < 0):
        raise ValueError(f"{os.fspath(sidecar)!r} says dtype {dtype!r}, byte order "
                         f"{fields.get('byte_order')!r}, n_tokens {n_tokens!r}; expected "
                         f"uint16 or uint32, little, and a count")
    ids_dtype = np.dtype(dtype).newbyteorder("<")
    size = path.stat().st_size
    if size != n_tokens * ids_dtype.itemsize:
        raise ValueError(f"{name!r} holds {size:,} bytes, but its sidecar says {n_tokens:,} "
                         f"{dtype} ids ({n_tokens * ids_dtype.itemsize:,} bytes): the file is "
                         f"cut short or is not the one the sidecar describes")
    if n_tokens == 0:
        return np.zeros(0, dtype=ids_dtype)     # np.memmap cannot map an empty file
    return np.memmap(path, dtype=ids_dtype, mode="r", shape=(n_tokens,))


def _check_chunk_bytes(value, name: str) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r}; expected a number of bytes >= 1")


def _input_paths(paths, text_field: str = "text") -> list[str]:
    """The input files as a list, each checked to be an existing regular file, and
    readable (bpe.sources.check_input)."""
    paths = [paths] if isinstance(paths, (str, bytes, os.PathLike)) else list(paths)
    checked = []
    for path in map(os.fspath, paths):
        if not os.path.exists(path):
            raise FileNotFoundError(f"input file {path!r} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"input {path!r} is a folder, expected a text file")
        check_regular_file(path, "input")
        check_input(path, text_field)
        checked.append(path)
    if not checked:
        raise ValueError("encode_file was given no input files")
    return checked


def _refuse_overwriting_inputs(inputs: list[str], outputs: list[Path | None]) -> None:
    """A ValueError if an output file is one of the inputs (the same file, by any name:
    a symbolic or hard link included): it would be replaced by its own encoding."""
    for output in outputs:
        if output is None or not output.exists():
            continue
        for path in inputs:
            if os.path.samefile(path, output):
                raise ValueError(f"output {os.fspath(output)!r} is the input {path!r}; "
                                 f"writing it would replace the text with its ids: choose "
                                 f"another output name")


def encode_chunk(tokenizer: Tokenizer, job: Job, errors: str, text_field: str,
                 separator: int | None, dropout: ChunkDropout | None = None
                 ) -> tuple[np.ndarray, int, tuple[int, tuple[int, str] | None] | None]:
    """(ids, number of records, records skipped or None) of one chunk of any format (run on
    a worker thread). A chunk's records are joined by the separator; the caller puts one
    before a chunk whose file had records before it. dropout: this chunk's (ChunkDropout.at),
    or None."""
    if isinstance(job, TextRange):
        return encode_range(tokenizer, *job, text_errors(errors), dropout), 0, None
    if isinstance(job, TextBlock):
        if errors != "replace":
            try:
                return tokenizer.encode_utf8_to_numpy(job.data, **_keywords(dropout)), 0, None
            except UnicodeDecodeError:
                pass                # block_text says which file and byte
        return tokenizer.encode_to_numpy(block_text(job, errors), allowed_special="all",
                                         **_keywords(dropout)), 0, None
    parts, n_records, skips = [], 0, Skips()
    for k, texts in enumerate(record_batches(job, text_field, errors, skips)):
        if texts and n_records:
            parts.append(np.array([separator], dtype=np.uint32))
        if texts:
            parts.append(tokenizer.encode_to_numpy(EOT.join(texts), allowed_special="all",
                                                   **_keywords(dropout, k)))
        n_records += len(texts)
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return ids, n_records, skips.result()


def encode_range(tokenizer, path: str, start: int, end: int, size: int, errors: str,
                 dropout: ChunkDropout | None = None) -> np.ndarray:
    """The ids of bytes [start, end) of a file of `size` bytes (run on a worker thread).
    Valid UTF-8 goes to the kernel as bytes, with no str made; otherwise the text path names
    the bad byte (or, with errors="replace", encodes U+FFFD). A file that is shorter, or
    longer, than when the work was planned is an error. dropout: this chunk's BPE-dropout
    (ChunkDropout.at), or None."""
    p, seed = (None, None) if dropout is None else dropout
    if errors == "strict":
        data = read_range(path, start, end, size)
        try:
            return tokenizer.encode_utf8_to_numpy(data, dropout=p, seed=seed)
        except UnicodeDecodeError:
            pass                # the text path says which file and byte
    text = "".join(read_text_chunks(path, start, end, errors=errors, size=size))
    return tokenizer.encode_to_numpy(text, allowed_special="all", dropout=p, seed=seed)


class ChunkDropout(NamedTuple):
    """encode_file's BPE-dropout: the probability and the caller's seed (None: random)."""
    p: float
    seed: int | None

    def at(self, *place: int) -> ChunkDropout:
        """The dropout of one part of the work, by its place (a chunk's number; a file's
        and a byte offset): a seed of its own."""
        return self if self.seed is None else ChunkDropout(self.p, part_seed(self.seed, *place))


def _keywords(dropout: ChunkDropout | None, *place: int) -> dict:
    """The encode keywords of a chunk's dropout (of its part `place`, if given)."""
    if dropout is None:
        return {}
    dropout = dropout.at(*place)
    return {"dropout": dropout.p, "seed": dropout.seed}


class _Documents:
    """Turns chunks of ids into document ends, appended to the offsets file."""

    def __init__(self, offsets: NpyWriter, eot: int | None):
        self.offsets, self.eot, self.last = offsets, eot, 0
        offsets.append(np.zeros(1, dtype=np.int64))

    def add(self, chunk: np.ndarray, base: int, file_end: bool) -> None:
        ends = np.zeros(0, dtype=np.int64)
        if self.eot is not None:
            ends = np.flatnonzero(chunk == self.eot) + (base + 1)
        total = base + len(chunk)
        if file_end and total > (ends[-1] if len(ends) else self.last):
            ends = np.append(ends, total)  # a file's end ends a document, unless one just ended
        if len(ends):
            self.offsets.append(ends)
            self.last = int(ends[-1])


def _progress_bar(n_bytes: int, progress: bool | None):
    if not (sys.stderr.isatty() if progress is None else progress):
        return None
    from tqdm import tqdm

    return tqdm(total=n_bytes, unit="B", unit_scale=True, leave=False, file=sys.stderr)


class IdsWriter(AtomicFile):
    """A file of bare values of `dtype` (a .bin), appended to in pieces."""

    def __init__(self, path: str | os.PathLike, dtype: np.dtype):
        super().__init__(path)
        self.dtype, self.length = np.dtype(dtype), 0

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self.write(values.data.cast("B"))
        self.length += len(values)


class NpyWriter(IdsWriter):
    """A 1-D .npy (format version 1.0) of `dtype`, appended to in pieces; its header
    gets the final length when the file is finished."""

    def started(self) -> None:
        self.write(npy_header(self.dtype, 0))

    def finish(self) -> None:
        assert self.file is not None, "open() first"
        with naming(self.path):
            self.file.seek(0)
        self.write(npy_header(self.dtype, self.length))
        super().finish()


def npy_header(dtype: np.dtype, length: int) -> bytes:
    """The .npy v1.0 header of a 1-D array, always _HEADER_BYTES long (a multiple of 64,
    as numpy aligns its own), so it can be rewritten in place once the length is known."""
    fields = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                   "shape": (length,)}).encode("latin1")
    size = _HEADER_BYTES - 10  # after the magic string, version and the 2-byte size
    return (b"\x93NUMPY\x01\x00" + size.to_bytes(2, "little")
            + fields + b" " * (size - len(fields) - 1) + b"\n")
