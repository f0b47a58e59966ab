"""Counting at scale: files cut into chunks, each chunk counted by a worker, tables added.

Counting is a map-reduce. A file is cut into chunks of a few MB at places where the cut
cannot change a single piece; each chunk is read, decoded and counted in a worker (a local
process pool by default, or any `concurrent.futures.Executor`, a Dask cluster's included);
the workers' tables are added up in the parent. Only `workers * 2` chunks are in flight, so
memory stays bounded whatever the file size, and the result is identical for any number of
workers, chunk size or executor.

Safe cuts: right before a special token (documents never share a piece), or, for the
native patterns, at a newline where no piece of the pattern can span the cut whatever the
text around (`CUT_RULES`; each rule is derived in docs/architecture.md and checked against
`regex` on every short string in tests/test_counting.py). A rule's cut is not taken right
after a special token's last character and a newline: the rules read the character before
the newline as text (punctuation takes the newline into its piece), and after a special
token the newline starts a whitespace piece instead. A custom pattern is cut at
special tokens only. Cuts are searched in blocks read from the file, so memory stays
bounded however far the next cut is.

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
import stat
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from bpe._count import PieceCounter
from bpe.patterns import Pretokenizer
from bpe.specials import ends_special, straddles

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import numpy as np

CHUNK_BYTES = 4 << 20
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
                errors: str = "strict", size: int | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count one chunk (run in a worker): (text, offsets, counts) arrays of its pieces.
    size: the file's size when the work was planned (checked when the chunk ends there)."""
    counter = count_pieces(read_text_chunks(path, start, end, errors=errors, size=size),
                           Pretokenizer(pattern, special_tokens))
    return counter.byte_arrays()


def check_workers(workers: int | None) -> None:
    """workers: None (all cores) or a number >= 1; a ValueError naming it otherwise."""
    from bpe.formats import is_integer

    if workers is not None and (not is_integer(workers) or isinstance(workers, bool)
                                or workers < 1):
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
    Pretokenizer(pattern, special_tokens)       # checks both
    native = cut_rule(pattern) or False
    check_workers(workers)
    jobs = []
    for path in paths:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"training file {path!r} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"training file {path!r} is a folder; expected a text file")
        size = check_regular_file(path, "training file")
        end = (ends or {}).get(path, size)
        ranges = chunk_ranges(path, special_tokens, native, chunk_bytes, end)
        jobs += [(path, a, b, size) for a, b in ranges]
    total = PieceCounter()

    def add(job, table):
        total.add_table(*table)
        if on_bytes is not None:
            on_bytes(job[2] - job[1])

    if executor is None and (workers == 1 or len(jobs) <= 1):
        for job in jobs:
            add(job, count_range(*job[:3], pattern, special_tokens, errors, job[3]))
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
            future = executor.submit(count_range, *job[:3], pattern, special_tokens, errors,
                                     job[3])
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
