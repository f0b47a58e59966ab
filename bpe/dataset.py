"""Datasets: text files encoded to a `.npy` of token ids, streaming, on a pool of threads.

The CS336 step "encode the training set into a uint16 NumPy array", for files larger than
memory. Files are cut into chunks where no piece can straddle the cut
(`bpe.counting.iter_chunk_ranges`: each cut found as the work goes), so the chunks' ids
concatenate to exactly the file's encode; chunks are encoded on threads (the kernels
release the GIL) and written in order, with at most 2 x workers chunks in flight. The
`.npy` is written without knowing its length: a fixed-size header is reserved, the ids
streamed after it, and the header rewritten with the final shape. Output goes to temporary
names and is renamed into place only when complete.

Next to `ids.npy`, `ids.offsets.npy` (int64) holds where each document starts, and the
total at the end: document k is ids[offsets[k]:offsets[k + 1]]. A document ends after each
"<|endoftext|>" (when the tokenizer has it as a special token) and at the end of each file.
"""
from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bpe.atomic import AtomicFile, commit_together, naming
from bpe.counting import CHUNK_BYTES, iter_chunk_ranges, read_text_chunks
from bpe.patterns import Pretokenizer

if TYPE_CHECKING:
    from bpe.tokenizer import Tokenizer

EOT = "<|endoftext|>"
_HEADER_BYTES = 128  # a .npy v1.0 header, padded to this size whatever the length


class EncodedFile(NamedTuple):
    ids: Path
    offsets: Path
    n_tokens: int
    n_documents: int


def encode_file(tokenizer: Tokenizer, paths: str | os.PathLike | Sequence[str | os.PathLike],
                out: str | os.PathLike = "ids.npy", workers: int | None = None,
                progress: bool | None = None, errors: str = "strict",
                chunk_bytes: int = CHUNK_BYTES) -> EncodedFile:
    """Encode text files, one after the other, into the .npy `out` (uint16 when the
    vocabulary fits, else uint32) and its document offsets `<out stem>.offsets.npy`.

    Each file is encoded on its own (no separator added, no piece spans two files), so the
    ids are the concatenation of the files' encodes: the encode of the concatenated text
    whenever a file ends at a piece boundary, as after "<|endoftext|>".
    workers: threads (default: all cores). progress: a bar of bytes on stderr (default:
    when stderr is a terminal). errors: "strict" stops at invalid UTF-8, naming the file
    and byte offset; "replace" encodes U+FFFD. Nothing is left at `out` unless complete.

    >>> encode_file(tok, ["train.txt"], "train.npy")
    EncodedFile(ids=PosixPath('train.npy'), offsets=PosixPath('train.offsets.npy'), ...)
    """
    if errors not in ("strict", "replace"):
        raise ValueError(f"errors={errors!r}; expected 'strict' or 'replace'")
    paths = _input_paths(paths)
    out = Path(out)
    offsets_path = out.with_suffix(".offsets.npy")
    dtype = np.dtype("<u2" if tokenizer.n_vocab <= 1 << 16 else "<u4")
    native = Pretokenizer(tokenizer.pattern).native_id is not None
    jobs = ((path, start, end, end == size) for path in paths
            for size in [os.path.getsize(path)]
            for start, end in iter_chunk_ranges(path, tokenizer.special_tokens, native,
                                                chunk_bytes))
    workers = workers or os.cpu_count() or 1
    bar = _progress_bar(sum(os.path.getsize(p) for p in paths), progress)
    in_flight: deque = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="bpe-encode")
    try:
        with NpyWriter(out, dtype) as ids, NpyWriter(offsets_path, np.dtype("<i8")) as offsets:
            documents = _Documents(offsets, tokenizer.special_ids.get(EOT))

            def write_oldest() -> None:
                (_, start, end, file_end), future = in_flight.popleft()
                chunk = future.result()
                documents.add(chunk, ids.length, file_end)
                ids.append(chunk)
                if bar is not None:
                    bar.update(end - start)

            for job in jobs:
                future = pool.submit(_encode_range, tokenizer, *job[:3], errors)
                in_flight.append((job, future))
                if len(in_flight) >= 2 * workers:
                    write_oldest()
            while in_flight:
                write_oldest()
            commit_together(ids, offsets)
    finally:
        for _, future in in_flight:  # an error or Ctrl-C: drop the chunks not yet started
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return EncodedFile(out, offsets_path, ids.length, offsets.length - 1)


def _input_paths(paths) -> list[str]:
    """The input files as a list, each checked to be an existing file."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    checked = []
    for path in map(os.fspath, paths):
        if not os.path.exists(path):
            raise FileNotFoundError(f"input file {path!r} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"input {path!r} is a folder, expected a text file")
        checked.append(path)
    return checked


def _encode_range(tokenizer, path: str, start: int, end: int, errors: str) -> np.ndarray:
    """The ids of bytes [start, end) of a file (run on a worker thread). Valid UTF-8 goes
    to the kernel as bytes, with no str made; otherwise the text path names the bad byte
    (or, with errors="replace", encodes U+FFFD)."""
    if errors == "strict":
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        try:
            return tokenizer.encode_utf8_to_numpy(data)
        except UnicodeDecodeError:
            pass                # the text path says which file and byte
    return tokenizer.encode_to_numpy("".join(read_text_chunks(path, start, end, errors=errors)))


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


class NpyWriter(AtomicFile):
    """A 1-D .npy (format version 1.0) of `dtype`, appended to in pieces; its header
    gets the final length when the file is finished."""

    def __init__(self, path: str | os.PathLike, dtype: np.dtype):
        super().__init__(path)
        self.dtype, self.length = np.dtype(dtype), 0

    def started(self) -> None:
        self.write(npy_header(self.dtype, 0))

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self.write(values.data.cast("B"))
        self.length += len(values)

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
