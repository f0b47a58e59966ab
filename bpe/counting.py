"""Counting at scale: files cut into chunks, each chunk counted by a worker, tables added.

Counting is a map-reduce. A file is cut into chunks of a few MB at places where the cut
cannot change a single piece; each chunk is read, decoded and counted in a worker: threads
by default (each counts into a table of bounded size that hands its pieces to one shared,
sharded table when full, `_ThreadCounters`), a process pool where the GIL would serialize
them, or any `concurrent.futures.Executor`, a Dask cluster's included, whose tables are
added up in the parent. Only `workers * 2` chunks are in flight, so memory stays bounded
whatever the file size and the number of workers, and the result is identical for any
number of workers, chunk size or executor.

Safe cuts: right before a special token (documents never share a piece), or, for the
native patterns, at a newline where no piece of the pattern can span the cut whatever the
text around (`CUT_RULES`; each rule is derived in docs/architecture.md and checked against
`regex` on every short string in tests/test_counting.py). A rule's cut is not taken right
after a special token's last character and a newline: the rules read the character before
the newline as text (punctuation takes the newline into its piece), and after a special
token the newline starts a whitespace piece instead. A custom pattern is cut at
special tokens only. Cuts are searched in blocks read from the file, so memory stays
bounded however far the next cut is.

Other formats (bpe.sources: .gz and .zst text, JSONL, Parquet) are planned here too
(`plan_chunks`): compressed text is decompressed by the planning process and cut at the
same safe places as it arrives (`stream_text_chunks`); records come in chunks that
bpe.sources cuts and reads, each record counted as a document of its own.

Inputs must be regular files: a file is read by its size and at offsets, so a pipe or a
device is refused, and a file whose size changes while it is read (or that holds more than
its size says, as /proc's do) is an error, never a short count.

Texts in memory (`count_texts`, behind `bpe.train_from_iterator`) are counted here, each
text a document of its own: no piece spans two texts, as if a special token stood between
them.
"""
from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, islice
from typing import TYPE_CHECKING, NamedTuple

from bpe._count import PieceCounter, SharedCounter
from bpe.patterns import Pretokenizer
from bpe.sources import (
    Lines,
    Rows,
    Skipped,
    Skips,
    changed_size,
    check_errors,
    check_input,
    check_regular_file,
    check_text_field,
    decompressed_blocks,
    input_format,
    record_batches,
    record_chunks,
    text_errors,
)
from bpe.specials import ends_special, longest_first, native_specials, straddles

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import numpy as np

CHUNK_BYTES = 4 << 20
IN_FLIGHT_BYTES = 16 << 20  # count_files' chunks: this much text shared out among the workers
_BLOCK_BYTES = 1 << 16      # read at a time when searching for a cut
# Where a native pattern may be cut, as bytes: a cut at the end of each match. Every rule
# reads ASCII only, so it never lands inside a UTF-8 sequence. `True` (any native pattern)
# keeps the rules that all of them share.
_ASCII_PUNCT = rb"[!-/:-@\[-`{-~]"
# before a newline after a letter or digit (no letter or number piece takes whitespace);
# after a newline before a visible character (whitespace up to its last newline is one
# piece, `\s*[\r\n]`, or ends a punctuation piece's `[\r\n]*+`); after a newline that ends
# a punctuation piece, before anything but another newline
_CL100K_CUTS = re.compile(rb"[A-Za-z0-9](?=\n)|[\r\n](?=[!-~])|" + _ASCII_PUNCT
                          + rb"\n(?=[^\r\n])")
CUT_RULES: dict[str | bool, re.Pattern[bytes]] = {
    # a newline after a visible character: no gpt2 piece runs from one into whitespace;
    # and after such a newline, before a visible character ("\n" alone is a piece)
    "gpt2": re.compile(rb"[!-~](?=\n)|[!-~]\n(?=[!-~])"),
    "cl100k": _CL100K_CUTS,
    # cl100k's pieces but in digit runs (qwen2) and in a whitespace run that ends the text,
    # cut after its last newline: a cut is in no digit run, and the text before it ends
    # in a letter, a digit or a newline, so it is cl100k's cuts
    "llama3": _CL100K_CUTS,
    "qwen2": _CL100K_CUTS,
    # and DeepSeek V3's: its letter pieces take no whitespace either, and its punctuation
    # pieces take the newlines after them (a run of digits, where its Splits differ, holds
    # no newline)
    "deepseek_v3": _CL100K_CUTS,
    # as cl100k, but a punctuation piece also takes "/" after its newlines
    "o200k": re.compile(rb"[A-Za-z0-9](?=\n)|[\r\n](?=[!-.0-~])|" + _ASCII_PUNCT
                        + rb"\n(?=[^\r\n/])"),
    True: re.compile(rb"[A-Za-z0-9](?=\n)|[!-~]\n(?=[!-.0-~])"),
}


def cut_rule(pattern) -> str | None:
    """The name of a native pattern's cut rule (a key of CUT_RULES), or None for a custom
    pattern (cut at special tokens only)."""
    from bpe._pretokenize import PATTERN_IDS

    native_id = Pretokenizer(pattern).native_id
    return None if native_id is None else next(
        name for name, k in PATTERN_IDS.items() if k == native_id)


def chunk_ranges(path: str | os.PathLike, special_tokens: Sequence[str], native: bool | str,
                 chunk_bytes: int = CHUNK_BYTES, end: int | None = None) -> list[tuple[int, int]]:
    """Byte ranges covering the file (up to `end`), each about chunk_bytes long, cut only
    at safe places. native: a native pattern's name (its CUT_RULES), True (the rules all
    three share), or False (a custom pattern: special tokens only)."""
    return list(iter_chunk_ranges(path, special_tokens, native, chunk_bytes, end))


def iter_chunk_ranges(path: str | os.PathLike, special_tokens: Sequence[str],
                      native: bool | str, chunk_bytes: int = CHUNK_BYTES,
                      end: int | None = None) -> Iterator[tuple[int, int]]:
    """chunk_ranges one range at a time, each found when asked for: the first chunk can be
    at work while the next cuts are searched for (a search may scan megabytes)."""
    size = os.path.getsize(path) if end is None else end
    if size <= chunk_bytes:
        yield 0, size
        return
    with open(path, "rb") as f:
        yield from _ranges(f, path, size, special_tokens, native, chunk_bytes)


def text_chunk_ranges(data: bytes, special_tokens: Sequence[str], native: bool | str,
                      chunk_bytes: int) -> list[tuple[int, int]]:
    """chunk_ranges of UTF-8 text in memory (encode_to_numpy's num_threads)."""
    if len(data) <= chunk_bytes:
        return [(0, len(data))]
    return list(_ranges(io.BytesIO(data), "<text>", len(data), special_tokens, native,
                        chunk_bytes))


def _ranges(f, path: str | os.PathLike, size: int, special_tokens: Sequence[str],
            native: bool | str, chunk_bytes: int) -> Iterator[tuple[int, int]]:
    """The ranges of the size bytes read from f (a file, or BytesIO named path)."""
    specials = [t.encode("utf-8") for t in special_tokens]
    start = 0
    while start + chunk_bytes < size:
        cut = _next_safe_cut(f, path, size, start + chunk_bytes, specials, native)
        if cut is None or cut >= size:
            break
        yield start, cut
        start = cut
    yield start, size


def safe_cut_after(path: str | os.PathLike, position: int, special_tokens: Sequence[str],
                   native: bool | str) -> int | None:
    """The first safe cut at or after byte `position` of the file, or None."""
    size = os.path.getsize(path)
    if position >= size:
        return None
    with open(path, "rb") as f:
        specials = [t.encode("utf-8") for t in special_tokens]
        return _next_safe_cut(f, path, size, position, specials, native)


def stream_text_chunks(blocks: Iterable[bytes], special_tokens: Sequence[str],
                       native: bool | str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """A stream of bytes (a decompressed file, block by block) in chunks cut where
    chunk_ranges cuts the whole text: a cut is taken only once the bytes after it that its
    rule reads have arrived. Memory: a chunk, and the stretch to its next safe cut."""
    specials = [t.encode("utf-8") for t in special_tokens]
    reach = max([3, *map(len, specials)])      # the context _next_safe_cut reads after a cut
    data, searched = b"", chunk_bytes
    for block in blocks:
        data += block
        while len(data) - reach >= searched:
            cut = _next_safe_cut(io.BytesIO(data), "<stream>", len(data), searched, specials,
                                 native)
            if cut is None or cut > len(data) - reach:
                # Every place before len(data) - reach was judged with all its context.
                searched = max(searched, len(data) - reach)
                break
            yield data[:cut]
            data, searched = data[cut:], chunk_bytes
    while len(data) > searched:                 # the end: cut as chunk_ranges cuts a file's
        cut = _next_safe_cut(io.BytesIO(data), "<stream>", len(data), searched, specials,
                             native)
        if cut is None or cut >= len(data):
            break
        yield data[:cut]
        data, searched = data[cut:], chunk_bytes
    yield data


def _next_safe_cut(f, path: str | os.PathLike, size: int, start: int, specials: list[bytes],
                   native: bool | str) -> int | None:
    """The first safe cut at or after `start` and before `size`, or None: the file is read
    a block at a time (each with the context a rule or a straddling special token needs on
    either side), so memory stays bounded however far the cut is."""
    rule = CUT_RULES[native] if native else None
    reach = max([3, *map(len, specials)])
    position = start
    while position < size:
        low = max(0, position - reach)
        high = min(size, position + _BLOCK_BYTES + reach)
        f.seek(low)
        block = f.read(high - low)
        if len(block) != high - low:
            raise changed_size(path, size, f"it ended at byte {low + len(block):,}")
        # Cuts up to `last` have all their context in this block; the next block takes
        # over from there.
        last = high if high == size else high - reach
        hits = [i for i in (block.find(t, position - low, last - low) for t in specials)
                if i >= 0]
        if rule is not None:
            # Every rule's match holds a newline (or ends before one); the regex starts at
            # the first, so text without any (one long line) costs a memchr, not a regex.
            lines = [i for i in (block.find(b"\n", position - low),
                                 block.find(b"\r", position - low)) if i >= 0]
            begin = max(0, min(lines, default=len(block)) - 2)
            for match in rule.finditer(block, begin, min(len(block), last - low + 2)):
                if (position - low <= match.end() <= last - low
                        and not ends_special(block, match.end() - 1, specials)):
                    hits.append(match.end())
                    break
        for cut in sorted(hits):
            if not straddles(block, cut, specials):
                return low + cut
        position = last if last > position else position + 1
    return None


def read_text_chunks(path: str | os.PathLike, start: int = 0, end: int | None = None,
                     block_bytes: int = 1 << 22, errors: str = "strict",
                     size: int | None = None) -> Iterator[str]:
    """Yield the UTF-8 text of bytes [start, end) of a file in blocks; a clear error names
    the file and the byte offset of the first invalid byte (errors="replace": U+FFFD).
    A file that ends before `end`, or holds bytes past `end` when that is its `size` (its
    size when the work was planned; end=None reads to the size it has now), changed while
    it was read: a ValueError."""
    offset = start
    carry = b""
    try:
        # Opened alone so that only a missing file gets this message; `with f` closes it.
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise FileNotFoundError(f"file {os.fspath(path)!r} does not exist") from None
    with f:
        f.seek(start)
        if end is None:
            end = size = os.fstat(f.fileno()).st_size
        left = end - start
        while True:
            block = f.read(min(block_bytes, left))
            left -= len(block)
            if not block and left > 0:
                raise changed_size(path, end if size is None else size,
                                   f"it ended at byte {end - left:,}")
            if not block and end == size and f.read(1):
                raise changed_size(path, size, "it has grown")
            data = carry + block
            # Hold back an incomplete UTF-8 sequence at the end for the next block.
            cut = len(data) if not block else _last_char_boundary(data)
            try:
                text = data[:cut].decode("utf-8", errors)
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"file {os.fspath(path)!r} is not valid UTF-8: byte offset "
                    f"{offset + e.start} ({data[e.start:e.start + 1]!r}): {e.reason}"
                ) from None
            if text:
                yield text
            offset += cut
            carry = data[cut:]
            if not block:
                return


def _last_char_boundary(data: bytes) -> int:
    """The largest cut <= len(data) that does not split a UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


class TextRange(NamedTuple):
    """Bytes [start, end) of a text file of `size` bytes (read by the worker)."""
    path: str
    start: int
    end: int
    size: int


class TextBlock(NamedTuple):
    """Decompressed text: `data`, from byte `offset` of the decompressed stream."""
    path: str
    data: bytes
    offset: int


Job = TextRange | TextBlock | Lines | Rows


class Chunk(NamedTuple):
    """A job for a worker, with the bytes of its file it accounts for (on disk, for
    progress) and whether it is its file's last."""
    job: Job
    n_bytes: int
    last: bool


def block_text(block: TextBlock, errors: str = "strict") -> str:
    """The text of decompressed bytes; a clear error names the file and the offset of the
    first invalid byte in its decompressed text (errors="replace": U+FFFD)."""
    try:
        return block.data.decode("utf-8", text_errors(errors))
    except UnicodeDecodeError as e:
        raise ValueError(
            f"file {block.path!r} is not valid UTF-8: byte offset {block.offset + e.start} of "
            f"its decompressed text ({block.data[e.start:e.start + 1]!r}): {e.reason}"
        ) from None


def plan_chunks(paths: Sequence[str], special_tokens: Sequence[str], native: bool | str,
                chunk_bytes: int = CHUNK_BYTES, ends: dict[str, int] | None = None,
                text_field: str = "text") -> Iterator[Chunk]:
    """The chunks of every file in order, each found when asked for: text files cut at
    safe places (up to `ends[path]`, if given), compressed text decompressed here and cut
    alike, records as bpe.sources cuts them."""
    for path in paths:
        fmt = input_format(path)
        jobs: Iterator[tuple[Job, int]]
        if fmt.records:
            jobs = record_chunks(path, fmt, chunk_bytes, text_field)
        elif fmt.compression is not None:
            jobs = _stream_blocks(path, fmt.compression, special_tokens, native, chunk_bytes)
        else:
            size = os.path.getsize(path)
            jobs = ((TextRange(path, a, b, size), b - a) for a, b in iter_chunk_ranges(
                path, special_tokens, native, chunk_bytes, (ends or {}).get(path, size)))
        held = next(jobs, None)
        for job in jobs:
            yield Chunk(*held, last=False)      # type: ignore[misc]
            held = job
        if held is not None:
            yield Chunk(*held, last=True)


def _stream_blocks(path: str, compression: str, special_tokens: Sequence[str],
                   native: bool | str, chunk_bytes: int) -> Iterator[tuple[TextBlock, int]]:
    """Compressed text, decompressed and cut at safe places, with the compressed bytes
    read for each chunk (the last takes the rest of the file)."""
    read, offset, reported = 0, 0, 0

    def blocks():
        nonlocal read
        for block, at in decompressed_blocks(path, compression):
            read = at
            yield block

    held = None
    for data in stream_text_chunks(blocks(), special_tokens, native, chunk_bytes):
        if held is not None:
            yield held
        held = (TextBlock(path, data, offset), read - reported)
        offset, reported = offset + len(data), read
    assert held is not None             # stream_text_chunks yields at least one chunk
    yield held[0], held[1] + os.path.getsize(path) - reported


class _CountSink:
    """Receives the pre-tokenizer's output and counts pieces (see patterns.Sink)."""

    def __init__(self, counter: PieceCounter):
        self.counter = counter

    def native(self, text: str, limit: int, pattern_id: int) -> int:
        return self.counter.count_text(text, limit, pattern_id)

    def pieces(self, pieces: list[str]) -> None:
        self.counter.add(pieces)

    def special(self, token: str) -> None:
        pass  # special tokens separate documents and are never counted


def count_pieces(texts: Iterable[str], pretokenizer: Pretokenizer,
                 counter: PieceCounter | None = None) -> PieceCounter:
    """Count the pieces of a stream of text chunks (special tokens excluded)."""
    counter = counter if counter is not None else PieceCounter()
    for _ in pretokenizer.feed(texts, _CountSink(counter)):
        pass
    return counter


def count_texts(texts: Iterable[str | Sequence[str]], pretokenizer: Pretokenizer,
                counter: PieceCounter | None = None) -> tuple[PieceCounter, int]:
    """Count the pieces of each text as a document of its own (special tokens excluded):
    no piece spans two texts. Items are str, or lists/tuples of str (batches, as Hugging
    Face's train_from_iterator takes them). Returns the counter and the number of texts."""
    if isinstance(texts, (str, bytes, bytearray, os.PathLike)):
        raise TypeError(f"texts is one {type(texts).__name__}; expected an iterable of texts "
                        f"(a list of str, a generator, a dataset column)")
    try:
        items = iter(texts)
    except TypeError:
        raise TypeError(f"texts: expected an iterable of str, got {type(texts).__name__}"
                        ) from None
    counter = counter if counter is not None else PieceCounter()
    sink = _CountSink(counter)
    native, specials = pretokenizer.native_id, pretokenizer.special_tokens
    n_texts = 0
    for k, item in enumerate(items):
        batch = item if isinstance(item, (list, tuple)) else (item,)
        for text in batch:
            if not isinstance(text, str):
                what = type(text).__name__
                if batch is item:
                    what = f"a {type(item).__name__} holding {what}"
                raise TypeError(f"texts item {k}: expected a str (or a list of str), "
                                f"got {what}")
            n_texts += 1
            try:
                if native is not None and not any(t in text for t in specials):
                    # What feed would do with it, without its per-call cost (a few µs, as
                    # much as counting a short text).
                    counter.count_text(text, -1, native)
                    continue
                # The whole text in one round: it is in memory already, and nothing after
                # its end can change its pieces (so no lookahead is held back for a next
                # chunk).
                for _ in pretokenizer.feed((text,), sink, settle_chars=sys.maxsize):
                    pass
            except UnicodeEncodeError:
                at = next(i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff")
                raise ValueError(f"texts item {k}: a lone surrogate ({text[at]!r}) at "
                                 f"character {at}; training reads valid Unicode only "
                                 f"(encode replaces it with U+FFFD, as tiktoken does)") from None
    return counter, n_texts


def count_range(path: str, start: int, end: int, pattern: str, special_tokens: list[str],
                errors: str = "strict", size: int | None = None,
                counter: PieceCounter | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Count one chunk (run in a worker): (text, offsets, counts) arrays of its pieces, or,
    given a counter, into it (None). size: the file's size when the work was planned
    (checked when the chunk ends there)."""
    into = counter if counter is not None else PieceCounter()
    pretokenizer = Pretokenizer(pattern, special_tokens)
    if not (pretokenizer.native_id is not None and end - start <= _UTF8_RANGE_BYTES
            and _count_utf8(path, start, end, size, pretokenizer, into)):
        count_pieces(read_text_chunks(path, start, end, errors=errors, size=size),
                     pretokenizer, into)
    return into.byte_arrays() if counter is None else None


# A chunk up to this size is counted from its bytes at once (_count_utf8); a larger one (a
# whole file counted as one chunk) is read as str, a block at a time.
_UTF8_RANGE_BYTES = 64 << 20


def _count_utf8(path: str, start: int, end: int, size: int | None,
                pretokenizer: Pretokenizer, counter: PieceCounter) -> bool:
    """Count bytes [start, end) of a file under a native pattern straight from its UTF-8:
    special tokens found in the bytes (the same rule as in text: a token's UTF-8 starts on
    a character and orders alike), then one kernel call validating the UTF-8 and counting
    each stretch between them; both without the GIL (a thread holds it for tens of
    microseconds a megabyte, so many threads count at once), and no str is made. False,
    with nothing counted, where the bytes are not valid UTF-8 (read_text_chunks then names
    the first bad byte or replaces it). A file that changed size since its chunks were
    planned: a ValueError."""
    native_id = pretokenizer.native_id
    assert native_id is not None
    n = end - start
    buffer = _chunk_buffer(n)
    with open(path, "rb") as f:
        f.seek(start)
        got = f.readinto(memoryview(buffer)[:n])
        if got < n:
            raise changed_size(path, end if size is None else size,
                               f"it ended at byte {start + got:,}")
        if end == size and f.read(1):
            raise changed_size(path, size, "it has grown")
    tokens = longest_first(pretokenizer.special_tokens)
    specials = native_specials(tokens, dict.fromkeys(tokens, 0))
    sizes = [len(token.encode("utf-8")) for token in tokens]
    stretches, at = [], 0
    for found, k in specials.find_all(buffer, n):   # (searched without the GIL)
        stretches.append((at, found))
        at = found + sizes[k]
    stretches.append((at, n))
    return counter.count_utf8(memoryview(buffer)[:n], stretches, native_id)


_buffers = threading.local()


def _chunk_buffer(n: int) -> bytearray:
    """This thread's buffer for chunks' bytes, at least n long: one allocation a thread
    rather than one a chunk. (A chunk's bytes allocated and freed each time would also
    raise glibc's threshold for mapping allocations, and the freed chunks would then stay
    in the thread's heap: megabytes of peak memory for the rest of the process.)"""
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) < n:
        buffer = _buffers.buffer = bytearray(n + (n >> 2))
    return buffer


def check_workers(workers: int | None) -> None:
    """workers: None (all cores) or a number >= 1; a ValueError naming it otherwise."""
    from bpe.formats import is_integer

    if workers is not None and (not is_integer(workers) or isinstance(workers, bool)
                                or workers < 1):
        raise ValueError(f"workers={workers!r}; expected a number >= 1, or None for all cores")


def count_chunk(job: Job, pattern: str, special_tokens: list[str], errors: str = "strict",
                text_field: str = "text", counter: PieceCounter | None = None):
    """Count one chunk of any format (run in a worker): ((text, offsets, counts) arrays of
    its pieces, or None where it was counted into the given counter; the records it
    skipped or None). Each record counts as a document of its own."""
    into = counter if counter is not None else PieceCounter()
    skips = Skips()
    if isinstance(job, TextRange):
        count_range(job.path, job.start, job.end, pattern, special_tokens,
                    text_errors(errors), job.size, into)
    elif isinstance(job, TextBlock):
        count_pieces([block_text(job, errors)], Pretokenizer(pattern, special_tokens), into)
    else:
        pretokenizer = Pretokenizer(pattern, special_tokens)
        for texts in record_batches(job, text_field, errors, skips):
            count_texts(texts, pretokenizer, into)
    return (into.byte_arrays() if counter is None else None), skips.result()


class _ThreadCounters:
    """count_chunk on threads: each thread counts into a PieceCounter of its own (the
    kernel releases the GIL), which hands its pieces to one SharedCounter whenever it fills
    and once at the end. The threads' counters share LOCAL_SLOTS between them, so memory
    does not grow with the number of threads; no table is copied or pickled per chunk, and
    no process per worker holds its own interpreter and tables."""

    def __init__(self, workers: int) -> None:
        self.local = threading.local()
        self.counters: list[PieceCounter] = []
        self.lock = threading.Lock()
        self.shared = SharedCounter()
        self.max_slots = max(_MIN_SLOTS, 1 << ((LOCAL_SLOTS // workers).bit_length() - 1))

    def count(self, job: Job, pattern: str, special_tokens: list[str], errors: str,
              text_field: str):
        counter = getattr(self.local, "counter", None)
        if counter is None:
            with self.lock:
                counter = self.local.counter = self.shared.counter(self.max_slots)
                self.counters.append(counter)
        return count_chunk(job, pattern, special_tokens, errors, text_field, counter)

    def total(self) -> PieceCounter | SharedCounter:
        """Every thread's counts in one counter (once the pool's threads, and their chunk
        buffers, are gone). Where none has filled, the smaller counters are added into the
        largest, whose pieces stay where they are; else what each holds still is handed
        over to the shared counter, on threads of its own."""
        counters, self.counters = sorted(self.counters, key=len), []
        if len(self.shared) == 0 and counters:
            total = counters.pop()
            total.keep_all()
            while counters:
                total.add_table(*counters.pop().byte_arrays())
            return total
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(1, len(counters))) as pool:
            for _ in pool.map(self.shared.add_counter, counters):
                pass
        return self.shared


# The slots of all threads' own counters together (32 bytes each): a thread's counter
# takes an equal share (a power of two, at least _MIN_SLOTS), and hands its pieces over
# when it fills: on 2 threads, at 786,432 pieces each, more than the 78 MB mix corpus holds
# (490,000); on 16, at 98,304.
LOCAL_SLOTS = 1 << 21
_MIN_SLOTS = 1 << 16


def counts_on_threads(pattern: str, paths: Sequence[str]) -> bool:
    """Whether count_files' own pool is threads: where the counting kernel does the work
    without the GIL (a native pattern) and no file is of records (their JSON or Parquet
    decoding holds it); else processes."""
    return (Pretokenizer(pattern, []).native_id is not None
            and not any(input_format(path).records for path in paths))


def count_files(paths: Sequence[str | os.PathLike], pattern: str, special_tokens: list[str],
                workers: int | None = None, executor: Executor | None = None,
                chunk_bytes: int | None = None, errors: str = "strict",
                ends: dict[str, int] | None = None,
                on_bytes: Callable[[int], None] | None = None,
                text_field: str = "text") -> PieceCounter | SharedCounter:
    """Count the pieces of every file (of any format bpe.sources reads; text_field names
    the records' text), chunks spread over `executor` (default: `workers` threads, all
    cores if None, where the pattern is native and no file holds records; else a process
    pool: see counts_on_threads; workers=1 counts in this process). `ends` stops a text
    file early (at a safe cut); `on_bytes(n)` hears of each chunk counted. Records skipped
    under errors="skip" are counted and warned of (BadRecordsWarning). Every argument is
    checked before any counting starts. chunk_bytes: the size of a chunk, by default
    IN_FLIGHT_BYTES shared out among the workers (between 1 MB and CHUNK_BYTES). Returns
    the counts: a PieceCounter, or the SharedCounter the threads counted into."""
    Pretokenizer(pattern, special_tokens)       # checks both
    native = cut_rule(pattern) or False
    check_workers(workers)
    check_errors(errors)
    check_text_field(text_field)
    checked = []
    for path in [os.fspath(p) for p in paths]:
        if not os.path.exists(path):
            raise FileNotFoundError(f"training file {path!r} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"training file {path!r} is a folder; expected a text file")
        check_regular_file(path, "training file")
        check_input(path, text_field)
        checked.append(path)
    if chunk_bytes is None:
        chunk_bytes = max(1 << 20, min(CHUNK_BYTES, IN_FLIGHT_BYTES // (workers or _cores())))
    chunks = plan_chunks(checked, special_tokens, native, chunk_bytes, ends, text_field)
    first = list(islice(chunks, 2))
    total, skipped = PieceCounter(), Skipped()

    def add(chunk: Chunk, result) -> None:
        table, skips = result
        if table is not None:
            total.add_table(*table)
        if skips is not None:
            skipped.add(chunk.job, skips)     # type: ignore[arg-type]
        if on_bytes is not None:
            on_bytes(chunk.n_bytes)

    args = (pattern, special_tokens, errors, text_field)
    if executor is None and (workers == 1 or len(first) <= 1):
        try:
            for chunk in chain(first, chunks):
                add(chunk, count_chunk(chunk.job, *args, counter=total))
        finally:
            vars(_buffers).pop("buffer", None)      # this thread's, not a pool thread's
        skipped.warn()
        return total
    own = executor is None
    task: Callable = count_chunk
    threads = None
    if executor is None and counts_on_threads(pattern, checked):
        from concurrent.futures import ThreadPoolExecutor

        threads = _ThreadCounters(workers or _cores())
        task = threads.count
        executor = ThreadPoolExecutor(workers or _cores(), thread_name_prefix="bpe-count")
    elif executor is None:
        # Imported here: concurrent.futures.process brings in multiprocessing, which no
        # caller that counts in this process (or on its own executor) needs.
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=workers or _cores())
    in_flight: deque = deque()
    result: PieceCounter | SharedCounter = total
    try:
        limit = 2 * (workers or _cores())
        for chunk in chain(first, chunks):
            in_flight.append((chunk, executor.submit(task, chunk.job, *args)))
            if len(in_flight) >= limit:
                add(*_done(in_flight.popleft()))
        while in_flight:
            add(*_done(in_flight.popleft()))
    except BaseException:
        for _, future in in_flight:     # Ctrl-C or a failed chunk: drop the rest
            future.cancel()
        raise
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    if threads is not None:
        result = threads.total()        # (nothing was added to `total`)
    skipped.warn()
    return result


def _cores() -> int:
    return os.cpu_count() or 1


def _done(item):
    chunk, future = item
    return chunk, future.result()
