"""Inputs by format: what a path holds (by its name's ending), its records read in chunks,
and what becomes of a bad record.

    .jsonl .jsonl.gz .jsonl.zst   one JSON object per line; its `text_field` (a str) is a
                                  document (blank lines hold none)
    .parquet                      the string column `text_field` (dictionary-encoded too);
                                  each row a document
    .gz .zst                      UTF-8 text, compressed
    anything else                 UTF-8 text, read by bpe.counting at offsets

Records (JSONL lines, Parquet rows) are documents: training counts each on its own, and
encode_file puts "<|endoftext|>" between them, so either gives what it gives for a text
file of the records joined by that token. gzip is the standard library's; zstd is Python
3.14's `compression.zstd` or the `zstandard` package, Parquet the `pyarrow` package: the
optional extras `bpe-exact[zstd]` and `bpe-exact[parquet]`.

Chunks for workers, each read by the worker: an uncompressed JSONL file is cut after a
newline about every chunk_bytes (byte ranges, as a text file is cut at offsets); a Parquet
file into runs of row groups, read a batch of rows at a time. A compressed stream cannot
be read from the middle, so one reader decompresses it and hands out its whole lines
(compressed text is cut by bpe.counting at the places it cuts a text file). Memory stays
bounded: a chunk per job in flight, a batch of rows (within a row group) in a worker.

Bad records (a line that is not JSON or not an object, a missing field, a value that is
not a str, invalid UTF-8, a lone surrogate escaped in JSON): errors="strict" stops at the
first, naming the file and the line (JSONL, from 1) or row index (Parquet, from 0);
"replace" reads invalid UTF-8 and lone surrogates as U+FFFD and stops at the rest; "skip" skips
them all, counts them, and warns (`BadRecordsWarning`) with the count per file and the
first of each. Text files have no records: under "skip" they are read as under "strict".
A Parquet file without the column, or whose column is not of strings, is an error under
every setting, before any work: no row of it could be read.
"""
from __future__ import annotations

import gzip
import json
import os
import stat
import warnings
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:
    import pyarrow.parquet as pq

ERRORS = ("strict", "replace", "skip")
STREAM_BLOCK = 1 << 20      # decompressed bytes read at a time
BATCH_ROWS = 4096           # Parquet rows a worker holds at a time
_SEARCH_BLOCK = 1 << 16     # bytes read at a time when looking for a newline


class Format(NamedTuple):
    kind: str                   # "text", "jsonl" or "parquet"
    compression: str | None     # None, "gzip" or "zstd"

    @property
    def records(self) -> bool:
        """Whether the file holds records (JSONL lines, Parquet rows), each a document."""
        return self.kind != "text"

    @property
    def plain(self) -> bool:
        """Whether the file is uncompressed text, read at offsets."""
        return self.kind == "text" and self.compression is None

    def __str__(self) -> str:
        name = {"text": "text", "jsonl": "JSONL", "parquet": "Parquet"}[self.kind]
        return name if self.compression is None else f"{self.compression}-compressed {name}"


_ENDINGS = [
    (".jsonl.gz", Format("jsonl", "gzip")),
    (".jsonl.zst", Format("jsonl", "zstd")),
    (".jsonl", Format("jsonl", None)),
    (".parquet", Format("parquet", None)),
    (".gz", Format("text", "gzip")),
    (".zst", Format("text", "zstd")),
]
_TEXT = Format("text", None)


def input_format(path: str | os.PathLike) -> Format:
    """The format of path, by its name's ending (any case); plain text if none is known."""
    name = os.fspath(path).lower()
    return next((fmt for ending, fmt in _ENDINGS if name.endswith(ending)), _TEXT)


def check_errors(errors: str) -> None:
    """errors: one of ERRORS; a ValueError naming it otherwise."""
    if errors not in ERRORS:
        raise ValueError(f"errors={errors!r}; expected 'strict', 'replace' or 'skip'")


def text_errors(errors: str) -> str:
    """The UTF-8 error handler for text files: they have no records to skip."""
    return "replace" if errors == "replace" else "strict"


def check_text_field(text_field: str) -> None:
    """text_field: a non-empty str; a TypeError or ValueError naming it otherwise."""
    if not isinstance(text_field, str):
        raise TypeError(f"text_field={text_field!r}; expected the name of the field (JSONL) "
                        f"or column (Parquet) holding the text, a str")
    if not text_field:
        raise ValueError("text_field=''; expected the name of the field (JSONL) or column "
                         "(Parquet) holding the text")


def check_regular_file(path: str, what: str) -> int:
    """The size of path, which must be a regular file: a pipe, a device or a socket is
    refused with a ValueError naming it (bpe reads a file by its size, at offsets)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (pipe)" if stat.S_ISFIFO(mode) else "a character device"
                if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise ValueError(f"{what} {path!r} is {kind}; bpe reads regular files only (by their "
                         f"size, in chunks at offsets): save the text to a file first")
    return os.path.getsize(path)


def changed_size(path: str | os.PathLike, size: int, where: str) -> ValueError:
    """The error for a file whose size is not the one it had when the work was planned."""
    return ValueError(f"file {os.fspath(path)!r} changed size while it was read ({where}; "
                      f"it was {size:,} bytes when the work began), or is not an ordinary "
                      f"file (as /proc's, whose size says 0); nothing was written")


def read_range(path: str, start: int, end: int, size: int) -> bytes:
    """Bytes [start, end) of a file that was `size` bytes when the work was planned: one that
    ends early, or (read to its end) holds more, changed and is a ValueError."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
        if len(data) != end - start:
            raise changed_size(path, size, f"it ended at byte {start + len(data):,}")
        if end == size and f.read(1):
            raise changed_size(path, size, "it has grown")
    return data


def check_input(path: str, text_field: str = "text") -> Format:
    """The format of path (an existing regular file), with what reading it needs checked
    before any work: the optional package (an ImportError naming it and the extra to
    install), and for Parquet that text_field is a column of strings (a ValueError)."""
    fmt = input_format(path)
    if fmt.compression == "zstd":
        _zstd_module(path)
    if fmt.kind == "parquet":
        _string_column(_parquet_file(path), path, text_field)
    return fmt


# --- decompression ---------------------------------------------------------------------------

def _zstd_module(path: str):
    """Python 3.14's compression.zstd, else the zstandard package."""
    try:
        from compression import zstd  # type: ignore[import-not-found]
        return zstd
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise ImportError(f"reading {path!r} (zstd-compressed) needs the zstandard package "
                          f"(or Python 3.14's compression.zstd): pip install "
                          f"'bpe-exact[zstd]'") from None
    return zstandard


def _decompressed(raw, compression: str, path: str, block_bytes: int) -> Iterator[bytes]:
    """Pieces of raw's decompressed bytes, each at most about block_bytes."""
    if compression == "gzip":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    else:
        module = _zstd_module(path)
        if module.__name__ == "zstandard":
            yield from _zstandard_pieces(raw, module)
            return
        stream = module.ZstdFile(raw, "rb")
    with stream:
        while block := stream.read(block_bytes):
            yield block


_ZSTD_INPUT = 1 << 14   # compressed bytes fed at a time: what one feed makes stays small


def _zstandard_pieces(raw, zstandard) -> Iterator[bytes]:
    """zstandard's decompression, frame after frame (files written in several frames, by
    pzstd or concatenated), with a stream that ends inside a frame an EOFError (its
    stream_reader would end quietly there)."""
    new = zstandard.ZstdDecompressor().decompressobj
    frame, fed = new(), False
    while data := raw.read(_ZSTD_INPUT):
        while data:
            piece = frame.decompress(data)
            fed = True
            if piece:
                yield piece
            data = b""
            if frame.eof:
                data, frame, fed = frame.unused_data, new(), False
    if fed:
        raise EOFError("the compressed data ends inside a frame")


def decompressed_blocks(path: str, compression: str,
                        block_bytes: int = STREAM_BLOCK) -> Iterator[tuple[bytes, int]]:
    """(block of about block_bytes, compressed bytes read so far) through a compressed file;
    a corrupt or cut-short stream is a ValueError naming the file."""
    errors: tuple[type[BaseException], ...] = (EOFError, zlib.error, gzip.BadGzipFile)
    if compression == "zstd":
        errors += (_zstd_module(path).ZstdError,)
    with open(path, "rb") as raw:
        pieces, held = [], 0
        try:
            for piece in _decompressed(raw, compression, path, block_bytes):
                pieces.append(piece)
                held += len(piece)
                if held >= block_bytes:
                    yield b"".join(pieces), raw.tell()
                    pieces, held = [], 0
        except errors as e:
            raise ValueError(f"file {path!r} is not a valid {compression} stream "
                             f"({type(e).__name__}: {e}); nothing was written") from None
        if pieces:
            yield b"".join(pieces), raw.tell()


# --- chunks of records -----------------------------------------------------------------------

class Lines(NamedTuple):
    """Whole JSONL lines: `data` (decompressed by the planner), or bytes [start, end) of the
    file (data None, read by the worker)."""
    path: str
    start: int
    end: int
    size: int                   # the file's size when planned (data None)
    data: bytes | None = None
    first_line: int = 0         # the number of the first line (from 1); 0: not counted

    def where(self, index: int) -> str:
        """Where the chunk's line `index` (from 0) is, for a message."""
        first = self.first_line or line_number(self.path, self.start)
        return f"line {first + index}"


class Rows(NamedTuple):
    """Parquet row groups `groups` of a file, their rows numbered from first_row."""
    path: str
    groups: tuple[int, ...]
    first_row: int

    def where(self, index: int) -> str:
        return f"row index {self.first_row + index}"


def line_number(path: str, offset: int) -> int:
    """The number (from 1) of the line starting at byte `offset` of a file."""
    newlines = 0
    with open(path, "rb") as f:
        while offset > 0:
            block = f.read(min(offset, 1 << 22))
            if not block:
                break
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def record_chunks(path: str, fmt: Format, chunk_bytes: int,
                  text_field: str = "text") -> Iterator[tuple[Lines | Rows, int]]:
    """(chunk, bytes of the file it accounts for) through a JSONL or Parquet file, each
    chunk about chunk_bytes of text (a Parquet file: whole row groups)."""
    size = os.path.getsize(path)
    if fmt.kind == "parquet":
        yield from _row_chunks(path, size, chunk_bytes, text_field)
    elif fmt.compression is None:
        for start, end in _line_ranges(path, size, chunk_bytes):
            yield Lines(path, start, end, size), end - start
    else:
        yield from _stream_lines(path, fmt.compression, size, chunk_bytes)


def _line_ranges(path: str, size: int, chunk_bytes: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of a file, each ending after a newline, at least chunk_bytes long (but
    the last)."""
    start = 0
    with open(path, "rb") as f:
        while start + chunk_bytes < size:
            position, cut = start + chunk_bytes - 1, None
            while cut is None and position < size:
                f.seek(position)
                block = f.read(_SEARCH_BLOCK)
                if not block:
                    break
                at = block.find(b"\n")
                if at >= 0:
                    cut = position + at + 1
                position += len(block)
            if cut is None or cut >= size:
                break
            yield start, cut
            start = cut
    yield start, size


def _stream_lines(path: str, compression: str, size: int,
                  chunk_bytes: int) -> Iterator[tuple[Lines, int]]:
    """Chunks of whole lines of a compressed JSONL file, decompressed here."""
    buffer, searched, offset, line, reported = b"", chunk_bytes - 1, 0, 1, 0

    def chunk(data: bytes, read: int) -> tuple[Lines, int]:
        nonlocal offset, line, reported
        lines = Lines(path, offset, offset + len(data), size, data, line)
        offset, line = offset + len(data), line + data.count(b"\n")
        reported, n_bytes = read, read - reported
        return lines, n_bytes

    for block, read in decompressed_blocks(path, compression):
        buffer += block
        while True:
            at = buffer.find(b"\n", searched)
            if at < 0:
                searched = max(searched, len(buffer))
                break
            yield chunk(buffer[:at + 1], read)
            buffer, searched = buffer[at + 1:], chunk_bytes - 1
    yield chunk(buffer, size)       # the rest, and the rest of the file's bytes


def _parquet_file(path: str) -> pq.ParquetFile:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"reading {path!r} (Parquet) needs the pyarrow package: "
                          f"pip install 'bpe-exact[parquet]'") from None
    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as e:      # pyarrow's ArrowInvalid is a ValueError
        raise ValueError(f"file {path!r} is not a Parquet file that can be read: {e}") from None


def _string_column(pf: pq.ParquetFile, path: str, text_field: str) -> int:
    """The index among the file's leaf columns of text_field, a column of strings."""
    import pyarrow as pa

    schema = pf.schema_arrow
    if text_field not in schema.names:
        raise ValueError(f"file {path!r} has no column {text_field!r} (its columns: "
                         f"{', '.join(map(repr, schema.names))}); name the text column with "
                         f"text_field (--text-field)")
    kind = schema.field(text_field).type
    if pa.types.is_dictionary(kind):        # dictionary-encoded strings: read decoded
        kind = kind.value_type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
        raise ValueError(f"column {text_field!r} of file {path!r} holds "
                         f"{schema.field(text_field).type}; expected a column of strings")
    paths = [pf.metadata.schema.column(i).path for i in range(pf.metadata.num_columns)]
    return paths.index(text_field)


def _row_chunks(path: str, size: int, chunk_bytes: int,
                text_field: str) -> Iterator[tuple[Rows, int]]:
    """Runs of row groups of about chunk_bytes of text, each accounting for its share of the
    file by its column's compressed size."""
    pf = _parquet_file(path)
    column = _string_column(pf, path, text_field)
    meta = pf.metadata
    groups = [meta.row_group(g) for g in range(meta.num_row_groups)]
    compressed = sum(g.column(column).total_compressed_size for g in groups) or 1
    run: list[int] = []
    first_row = row = text_bytes = done = reported = 0
    for g, group in enumerate(groups):
        run.append(g)
        row += group.num_rows
        text_bytes += group.column(column).total_uncompressed_size
        done += group.column(column).total_compressed_size
        if text_bytes >= chunk_bytes or g == len(groups) - 1:
            share = size if g == len(groups) - 1 else size * done // compressed
            yield Rows(path, tuple(run), first_row), share - reported
            run, first_row, text_bytes, reported = [], row, 0, share


# --- reading records (in a worker) -----------------------------------------------------------

class Skips:
    """The bad records a chunk skipped: how many, and the first (index in the chunk, why)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: tuple[int, str] | None = None

    def add(self, index: int, why: str) -> None:
        if self.first is None:
            self.first = (index, why)
        self.count += 1

    def result(self) -> tuple[int, tuple[int, str] | None] | None:
        """What travels back from the worker (None when nothing was skipped)."""
        return (self.count, self.first) if self.count else None


def record_batches(chunk: Lines | Rows, text_field: str, errors: str,
                   skips: Skips) -> Iterator[list[str]]:
    """The texts of a chunk's records, in order, a batch at a time. A bad record is an error
    naming the file and its line or row, or (errors="skip") added to skips."""

    def bad(index: int, why: str) -> None:
        if errors == "skip":
            skips.add(index, why)
            return
        raise ValueError(f"file {chunk.path!r} {chunk.where(index)}: {why} "
                         f"(errors='skip', or --errors skip on the command line, skips bad "
                         f"records)")

    if isinstance(chunk, Rows):
        yield from _row_batches(chunk, text_field, errors, bad)
    else:
        yield _line_texts(chunk, text_field, errors, bad)


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", int: "a number",
               float: "a number", bool: "a boolean", type(None): "null"}
_MISSING = object()


def _line_texts(chunk: Lines, text_field: str, errors: str, bad) -> list[str]:
    data = chunk.data
    if data is None:
        data = read_range(chunk.path, chunk.start, chunk.end, chunk.size)
    lines: Sequence[str | bytes]
    try:
        lines = data.decode("utf-8", text_errors(errors)).split("\n")
    except UnicodeDecodeError:
        lines = data.split(b"\n")       # decoded one by one, to find the bad ones
    texts = []
    loads = json.loads
    for index, item in enumerate(lines):
        if isinstance(item, bytes):
            try:
                line = item.decode("utf-8")
            except UnicodeDecodeError as e:
                bad(index, f"not valid UTF-8 (byte {item[e.start]:#04x} at byte "
                           f"{e.start + 1} of the line)")
                continue
        else:
            line = cast(str, item)      # (mypy keeps bytes-like types in the union)
        if not line or line.isspace():
            continue
        try:
            record = loads(line)
        except ValueError as e:
            bad(index, f"not JSON ({getattr(e, 'msg', e)} at column {getattr(e, 'colno', '?')})")
            continue
        if type(record) is not dict:
            bad(index, f"{_JSON_KINDS.get(type(record), 'a value')}, not a JSON object")
            continue
        value = record.get(text_field, _MISSING)
        if value is _MISSING:
            keys = ", ".join(map(repr, list(record)[:8])) + (", ..." if len(record) > 8 else "")
            bad(index, f"no field {text_field!r} (the record's fields: {keys or 'none'})")
            continue
        if type(value) is not str:
            bad(index, f"field {text_field!r} is {_JSON_KINDS.get(type(value), 'a value')}, "
                       f"not a string")
            continue
        if ("\\ud" in line or "\\uD" in line) and _has_surrogate(value):
            if errors != "replace":
                bad(index, f"field {text_field!r} holds a lone surrogate (an escape such as "
                           f"\\ud800 that is half of a pair); errors='replace' reads it as "
                           f"U+FFFD")
                continue
            from bpe.surrogates import without_surrogates

            value = without_surrogates(value)
        texts.append(value)
    return texts


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _row_batches(chunk: Rows, text_field: str, errors: str, bad) -> Iterator[list[str]]:
    import pyarrow as pa

    pf = _parquet_file(chunk.path)
    row = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=list(chunk.groups),
                                 columns=[text_field], use_threads=False):
        column = batch.column(0)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        values: list[Any]
        try:
            values = column.to_pylist()
            raw = False
        except UnicodeDecodeError:      # the bytes, decoded one by one to find the bad ones
            kind = column.type
            binary = (pa.large_binary() if pa.types.is_large_string(kind)
                      else pa.binary() if pa.types.is_string(kind) else pa.binary_view())
            values, raw = column.view(binary).to_pylist(), True
        if column.null_count or raw:
            texts = []
            for k, value in enumerate(values):
                if value is None:
                    bad(row + k, f"column {text_field!r} is null, not a string")
                    continue
                if raw:
                    try:
                        value = value.decode("utf-8", text_errors(errors))
                    except UnicodeDecodeError as e:
                        bad(row + k, f"not valid UTF-8 (byte {value[e.start]:#04x} at byte "
                                     f"{e.start + 1} of the value)")
                        continue
                texts.append(value)
            values = texts
        row += batch.num_rows
        yield values


def first_text(path: str, fmt: Format, text_field: str, errors: str, limit: int) -> str:
    """About the first `limit` characters of a file's text (records joined by newlines), for
    a report."""
    if fmt.records:
        parts, n = [], 0
        for chunk, _ in record_chunks(path, fmt, limit, text_field):
            for texts in record_batches(chunk, text_field, errors, Skips()):
                for text in texts:
                    parts.append(text)
                    n += len(text) + 1
                    if n >= limit:
                        return "\n".join(parts)
        return "\n".join(parts)
    if fmt.compression is None:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    data = b""
    for block, _ in decompressed_blocks(path, fmt.compression):
        data += block
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", "replace")


# --- what was skipped ------------------------------------------------------------------------

class BadRecordsWarning(UserWarning):
    """Records skipped under errors="skip". `counts`: file -> number skipped."""

    def __init__(self, message: str, counts: dict[str, int]):
        super().__init__(message)
        self.counts = counts


class Skipped:
    """The bad records a run skipped, file by file, with the first of each (chunks are
    added in order)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}

    def add(self, chunk: Lines | Rows, skips: tuple[int, tuple[int, str] | None] | None
            ) -> None:
        if not skips:
            return
        count, first = skips
        self.counts[chunk.path] = self.counts.get(chunk.path, 0) + count
        if first is not None and chunk.path not in self.first:
            self.first[chunk.path] = f"{chunk.where(first[0])}: {first[1]}"

    def update(self, other: Skipped) -> None:
        """Add what another run of later chunks skipped (a shard's, from its worker)."""
        for path, count in other.counts.items():
            self.counts[path] = self.counts.get(path, 0) + count
            if path in other.first:
                self.first.setdefault(path, other.first[path])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def warn(self, stacklevel: int = 3) -> None:
        """A BadRecordsWarning saying what was skipped, if anything was."""
        if not self.counts:
            return
        files = "; ".join(f"{n:,} in {path!r} (the first at {self.first[path]})"
                          for path, n in self.counts.items())
        total = self.total
        warnings.warn(BadRecordsWarning(
            f"skipped {total:,} bad record{'s' if total != 1 else ''} (errors='skip'): {files}",
            dict(self.counts)), stacklevel=stacklevel)
