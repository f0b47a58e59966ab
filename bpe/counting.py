"""Counting at scale: files cut into chunks, each chunk counted by a worker, tables added.

Counting is a map-reduce. A file is cut into chunks of a few MB at places where the cut
cannot change a single piece; each chunk is read, decoded and counted in a worker (a local
process pool by default, or any `concurrent.futures.Executor`, a Dask cluster's included);
the workers' tables are added up in the parent. Only `workers * 2` chunks are in flight, so
memory stays bounded whatever the file size, and the result is identical for any number of
workers, chunk size or executor.

Safe cuts: right before a special token (documents never share a piece), or, for the
native patterns, right after a newline that follows an ASCII letter or digit and precedes
an ASCII letter: under gpt2, cl100k and o200k both sides of such a newline are piece
boundaries, and none of the patterns looks behind. A custom pattern is cut at special
tokens only.

Texts in memory (`count_texts`, behind `bpe.train_from_iterator`) are counted here, each
text a document of its own: no piece spans two texts, as if a special token stood between
them.
"""
from __future__ import annotations

import mmap
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from bpe._count import PieceCounter
from bpe.patterns import Pretokenizer
from bpe.specials import straddles

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import numpy as np

CHUNK_BYTES = 4 << 20
_NEWLINE_CUT = re.compile(rb"[A-Za-z0-9]\n(?=[A-Za-z])")


def chunk_ranges(path: str | os.PathLike, special_tokens: Sequence[str], native: bool,
                 chunk_bytes: int = CHUNK_BYTES, end: int | None = None) -> list[tuple[int, int]]:
    """Byte ranges covering the file (up to `end`), each about chunk_bytes long, cut only
    at safe places."""
    return list(iter_chunk_ranges(path, special_tokens, native, chunk_bytes, end))


def iter_chunk_ranges(path: str | os.PathLike, special_tokens: Sequence[str], native: bool,
                      chunk_bytes: int = CHUNK_BYTES, end: int | None = None
                      ) -> Iterator[tuple[int, int]]:
    """chunk_ranges one range at a time, each found when asked for: the first chunk can be
    at work while the next cuts are searched for (a search may scan megabytes)."""
    size = os.path.getsize(path) if end is None else end
    if size <= chunk_bytes:
        yield 0, size
        return
    specials = [t.encode("utf-8") for t in special_tokens]
    start = 0
    found: dict = {}  # search results to reuse, so a rare special token is searched for once
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        while start + chunk_bytes < size:
            cut = _next_safe_cut(data, start + chunk_bytes, specials, native, found)
            if cut is None or cut >= size:
                break
            yield start, cut
            start = cut
    yield start, size


def safe_cut_after(path: str | os.PathLike, position: int, special_tokens: Sequence[str],
                   native: bool) -> int | None:
    """The first safe cut at or after byte `position` of the file, or None."""
    if position >= os.path.getsize(path):
        return None
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        specials = [t.encode("utf-8") for t in special_tokens]
        return _next_safe_cut(data, position, specials, native, {})


def _find(data: mmap.mmap, what: bytes, position: int, found: dict) -> int:
    """The next occurrence of `what` at or after position, or -1; `found` keeps earlier
    answers, valid while they lie ahead."""
    known = found.get(what)
    if known is not None and (known >= position or known == -1):
        return known
    at = found[what] = data.find(what, position)
    return at


def _next_safe_cut(data: mmap.mmap, start: int, specials: list[bytes], native: bool,
                   found: dict) -> int | None:
    """The first safe cut at or after `start`, or None."""
    position = start
    while True:
        hits = [i for i in (_find(data, t, position, found) for t in specials) if i >= position]
        if native:
            # Only a newline cut before the next special token can come first, so the
            # (slower) regex scans only that far: in some text the next one is megabytes on.
            newline = _NEWLINE_CUT.search(data, position, min(hits) + 1 if hits else len(data))
            if newline is not None:
                hits.append(newline.end())
        if not hits:
            return None
        cut = min(hits)
        if not straddles(data, cut, specials):
            return cut
        position = cut + 1


def read_text_chunks(path: str | os.PathLike, start: int = 0, end: int | None = None,
                     block_bytes: int = 1 << 22, errors: str = "strict") -> Iterator[str]:
    """Yield the UTF-8 text of bytes [start, end) of a file in blocks; a clear error names
    the file and the byte offset of the first invalid byte (errors="replace": U+FFFD)."""
    offset = start
    carry = b""
    try:
        # Opened alone so that only a missing file gets this message; `with f` closes it.
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise FileNotFoundError(f"file {os.fspath(path)!r} does not exist") from None
    with f:
        f.seek(start)
        left = (os.path.getsize(path) if end is None else end) - start
        while True:
            block = f.read(min(block_bytes, left))
            left -= len(block)
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
            if native is not None and not any(t in text for t in specials):
                # What feed would do with it, without its per-call cost (a few µs, as much
                # as counting a short text).
                counter.count_text(text, -1, native)
                continue
            # The whole text in one round: it is in memory already, and nothing after its
            # end can change its pieces (so no lookahead is held back for a next chunk).
            for _ in pretokenizer.feed((text,), sink, settle_chars=sys.maxsize):
                pass
    return counter, n_texts


def count_range(path: str, start: int, end: int, pattern: str, special_tokens: list[str],
                errors: str = "strict") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count one chunk (run in a worker): (text, offsets, counts) arrays of its pieces."""
    counter = count_pieces(read_text_chunks(path, start, end, errors=errors),
                           Pretokenizer(pattern, special_tokens))
    return counter.byte_arrays()


def check_workers(workers: int | None) -> None:
    """workers: None (all cores) or a number >= 1; a ValueError naming it otherwise."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers={workers!r}; expected a number >= 1, or None for all cores")


def count_files(paths: Sequence[str | os.PathLike], pattern: str, special_tokens: list[str],
                workers: int | None = None, executor: Executor | None = None,
                chunk_bytes: int = CHUNK_BYTES, errors: str = "strict",
                ends: dict[str, int] | None = None,
                on_bytes: Callable[[int], None] | None = None) -> PieceCounter:
    """Count the pieces of every file, chunks spread over `executor` (default: a process
    pool of `workers`, all cores if None; workers=1 counts in this process). `ends` stops
    a file early (at a safe cut); `on_bytes(n)` hears of each chunk counted. Every
    argument is checked before any counting starts."""
    native = Pretokenizer(pattern, special_tokens).native_id is not None
    check_workers(workers)
    jobs = []
    for path in paths:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"training file {path!r} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"training file {path!r} is a folder; expected a text file")
        end = (ends or {}).get(path)
        ranges = chunk_ranges(path, special_tokens, native, chunk_bytes, end)
        jobs += [(path, a, b) for a, b in ranges]
    total = PieceCounter()

    def add(job, table):
        total.add_table(*table)
        if on_bytes is not None:
            on_bytes(job[2] - job[1])

    if executor is None and (workers == 1 or len(jobs) <= 1):
        for job in jobs:
            add(job, count_range(*job, pattern, special_tokens, errors))
        return total
    own = executor is None
    if executor is None:
        # Imported here: concurrent.futures.process brings in multiprocessing, which no
        # caller that counts in this process (or on its own executor) needs.
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count())
    in_flight: deque = deque()
    try:
        limit = 2 * (workers or os.cpu_count() or 1)
        for job in jobs:
            future = executor.submit(count_range, *job, pattern, special_tokens, errors)
            in_flight.append((job, future))
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
    return total


def _done(item):
    job, future = item
    return job, future.result()
