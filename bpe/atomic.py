"""Files that appear only when complete: written to a temporary name beside their path,
fsync'ed, then renamed into place (a rename in the same folder is atomic and needs no
space). Errors name the path the caller asked for, not the temporary one.

AtomicFile is one such file, written in pieces (the CLI's decode, the dataset's .npy);
commit_together moves several into place once all are written; write_files does both for
whole files held in memory (a tokenizer's vocab.json, merges.txt and config).

A file is handed to the disk as it is written, every WRITEBACK_BYTES (on Linux, by
sync_file_range, which starts the writing and returns), so the disk works while the rest
is made and the fsync before the rename waits for the last megabytes only: encode_file's
ids of the 78 MB benchmark corpus took 17 ms to fsync at the end, and of four times that
corpus 50-80 ms, all of it after the last chunk was encoded; now 3 ms.

A Ctrl-C can land between any two bytecodes, cleanup code included, so no `try` can
promise to remove a temporary file. Each temporary name is therefore recorded before its
file is made and forgotten once the file is renamed or removed; whatever is still
recorded when the interpreter exits (a Ctrl-C that ended the program, included) is
removed then. Cleanup in the normal flow removes it at once.
"""
from __future__ import annotations

import atexit
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_pending: set[Path] = set()  # temporary files of this process not yet renamed or removed
WRITEBACK_BYTES = 8 << 20    # a file is handed to the disk each time this much more is written


def remove_pending() -> None:
    """Remove every temporary file this process made and has not yet renamed or removed."""
    for tmp in list(_pending):
        _remove(tmp)


def _remove(tmp: Path) -> None:
    # A read-only folder, say, where it was never made: nothing to remove.
    with suppress(OSError):
        tmp.unlink(missing_ok=True)
    _pending.discard(tmp)


atexit.register(remove_pending)
if hasattr(os, "register_at_fork"):  # POSIX only; Windows has no fork
    os.register_at_fork(after_in_child=_pending.clear)  # a child must not remove its parent's


def start_writeback(file: io.BufferedWriter) -> bool:
    """Flush file and have the kernel start writing its dirty pages to disk, without
    waiting for them (Linux's sync_file_range). True if it did; False where the system has
    no such call or the file cannot take it (a pipe): the fsync at the end does it all, and
    any error writing is reported there."""
    file.flush()
    call = _sync_file_range()
    return call is not None and call(file.fileno(), 0, 0, _SYNC_FILE_RANGE_WRITE) == 0


_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writing the range's dirty pages
_sync_call: list = []       # [sync_file_range or None], looked up once


def _sync_file_range():
    if not _sync_call:
        call = None
        if sys.platform.startswith("linux"):
            import ctypes

            # sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags);
            # offset 0 and nbytes 0: the whole file.
            with suppress(AttributeError, OSError):
                call = ctypes.CDLL(None).sync_file_range
                call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                call.restype = ctypes.c_int
        _sync_call.append(call)
    return _sync_call[0]


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Re-raise an OSError with the output path in its message."""
    try:
        yield
    except OSError as e:
        message = f"cannot write {os.fspath(path)!r}: {e.strerror or e}"
        raise (type(e)(e.errno, message) if e.errno else type(e)(message)) from None


class AtomicFile:
    """A binary file written to a temporary name beside `path` that appears at `path` only
    when committed (after fsync). Leaving its `with` block uncommitted, by an exception or
    Ctrl-C included, removes it. Errors name `path`: a missing or read-only folder, a full
    disk.

    The constructor only checks the folder; `open` (which `with` calls) picks the
    temporary name, records it, and only then makes the file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        folder = self.path.parent
        if not folder.exists():
            raise FileNotFoundError(f"cannot write {os.fspath(path)!r}: folder "
                                    f"{os.fspath(folder)!r} does not exist")
        if not folder.is_dir():
            raise NotADirectoryError(f"cannot write {os.fspath(path)!r}: {os.fspath(folder)!r} "
                                     f"is not a folder")
        if self.path.is_dir():
            raise IsADirectoryError(f"cannot write {os.fspath(path)!r}: it is a folder")
        self.file: io.BufferedWriter | None = None  # open() makes both
        self.tmp: Path | None = None
        self.unsynced = 0   # bytes written since the file was last handed to the disk

    def open(self) -> AtomicFile:
        """Make the temporary file and write what every such file starts with."""
        try:
            with naming(self.path):
                while self.file is None:
                    # (secrets.token_hex(6), without importing secrets and hmac)
                    self.tmp = self.path.with_name(f".{self.path.name}.{os.urandom(6).hex()}.tmp")
                    _pending.add(self.tmp)
                    try:
                        # Exclusive: never another's file. Kept open on self and closed
                        # by finish() or discard(), so no `with` here.
                        self.file = open(self.tmp, "xb")  # noqa: SIM115
                    except FileExistsError:
                        _pending.discard(self.tmp)
            self.started()
        except BaseException:
            self.discard()
            raise
        return self

    def started(self) -> None:
        """Called once the file is open; subclasses write their header here."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self.file is not None, "open() first"
        with naming(self.path):
            self.file.write(data)
            self.unsynced += data.nbytes if isinstance(data, memoryview) else len(data)
            if self.unsynced >= WRITEBACK_BYTES:
                self.unsynced = 0
                start_writeback(self.file)

    def finish(self) -> None:
        """Flush everything to disk; the file is complete but not yet at `path`."""
        assert self.file is not None, "open() first"
        with naming(self.path):
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()

    def commit(self) -> None:
        commit_together(self)

    def discard(self) -> None:
        """Remove the temporary file, if any; a no-op once committed."""
        try:
            if self.file is not None:
                self.file.close()
        except OSError:
            pass  # on a full disk the last flush fails too; the file goes anyway
        finally:
            if self.tmp is not None:
                _remove(self.tmp)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc) -> None:
        self.discard()


def commit_together(*files: AtomicFile) -> None:
    """Finish every file, then move each into place: none appears unless all were
    written (a rename in the same folder does not fail for want of space)."""
    try:
        for f in files:
            f.finish()
        _move_all(files)
    except BaseException:
        for f in files:
            f.discard()  # a no-op for those moved
        raise


def _move_all(files) -> None:
    """Rename each finished file into place. A Ctrl-C meanwhile is let through only once
    all are moved, so it never leaves some files new and some old."""
    moving = [f for f in files if f.tmp is not None]
    try:
        # (No `if` in this loop: on Python 3.13 the jump of such a test to the next turn
        # lies outside the try, and a Ctrl-C landing on it would escape the handler.)
        for f in moving:
            with naming(f.path):
                os.replace(f.tmp, f.path)
            _pending.discard(f.tmp)
            f.tmp = None
    except KeyboardInterrupt:
        for f in files:
            if f.tmp is not None and not f.tmp.exists():  # moved just before the Ctrl-C
                _pending.discard(f.tmp)
                f.tmp = None
        _move_all(files)
        raise


def write_files(folder: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Write {name: data} into folder (made if missing): none of the files is replaced
    unless all were written, and a folder made for them is removed again if they were not."""
    folder = Path(folder)
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    written: list[AtomicFile] = []
    try:
        for name, data in files.items():
            written.append(AtomicFile(folder / name))  # nothing on disk until open()
            written[-1].open().write(data)
        commit_together(*written)
        made = []
    finally:
        for f in written:
            f.discard()  # a no-op once committed
        for path in made:           # innermost first; one something else filled stays
            try:
                path.rmdir()
            except OSError:
                break
