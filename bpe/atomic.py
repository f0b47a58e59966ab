"""Files that appear only when complete: written to a temporary name beside their path,
fsync'ed, then renamed into place (a rename in the same folder is atomic and needs no
space). Errors name the path the caller asked for, not the temporary one.

AtomicFile is one such file, written in pieces (the CLI's decode, the dataset's .npy);
commit_together moves several into place once all are written; write_files does both for
whole files held in memory (a tokenizer's vocab.json, merges.txt and config).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
    disk."""

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
        with naming(self.path):
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            self.file = os.fdopen(fd, "wb")
        except BaseException:  # Ctrl-C included: no `with` block holds this file yet
            os.close(fd)
            os.unlink(self.tmp)
            raise

    def write(self, data) -> None:
        with naming(self.path):
            self.file.write(data)

    def finish(self) -> None:
        """Flush everything to disk; the file is complete but not yet at `path`."""
        with naming(self.path):
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()

    def commit(self) -> None:
        commit_together(self)

    def discard(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # on a full disk the last flush fails too; the file goes anyway
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.discard()  # a no-op once committed


def commit_together(*files: AtomicFile) -> None:
    """Finish every file, then move each into place: none appears unless all were
    written (a rename in the same folder does not fail for want of space)."""
    try:
        for f in files:
            f.finish()
        for f in files:
            with naming(f.path):
                os.replace(f.tmp, f.path)
            f.tmp = None
    except BaseException:
        for f in files:
            f.discard()
        raise


def write_files(folder: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Write {name: data} into folder (made if missing): none of the files is replaced
    unless all were written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[AtomicFile] = []
    try:
        for name, data in files.items():
            written.append(AtomicFile(folder / name))
            written[-1].write(data)
        commit_together(*written)
    finally:
        for f in written:
            f.discard()  # a no-op once committed
