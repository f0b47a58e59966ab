"""Files that appear only when complete: write_files and AtomicFile leave either the whole
new files or what was there before, never a part, and no temporary file behind."""
import os
import subprocess
import sys

import pytest

from bpe import atomic
from bpe.atomic import AtomicFile, write_files

from .conftest import interrupt_at_every_step


def test_write_files_writes_and_replaces(tmp_path):
    write_files(tmp_path / "new", {"a.txt": b"one", "b.txt": b"two"})
    write_files(tmp_path / "new", {"a.txt": b"three"})
    assert (tmp_path / "new" / "a.txt").read_bytes() == b"three"
    assert (tmp_path / "new" / "b.txt").read_bytes() == b"two"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["a.txt", "b.txt"]


def test_write_files_replaces_none_when_one_fails(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"old")
    (tmp_path / "b.txt").mkdir()                      # b.txt cannot be written: a folder
    with pytest.raises(IsADirectoryError, match=r"cannot write '.*b\.txt': it is a folder"):
        write_files(tmp_path, {"a.txt": b"new", "b.txt": b"x", "c.txt": b"y"})
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_write_files_leaves_no_folder_it_made_when_one_fails(tmp_path):
    """A failed save into a new folder left the folder behind, empty."""
    with pytest.raises(OSError):
        write_files(tmp_path / "new" / "deeper", {"a.txt": b"one", "n" * 300: b"name too long"})
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(OSError):
        write_files(tmp_path / "kept" / "new", {"a.txt": b"one", "n" * 300: b"x"})
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
    assert not any((tmp_path / "kept").iterdir())


def test_atomic_file_appears_only_when_committed(tmp_path):
    path = tmp_path / "out.bin"
    with AtomicFile(path) as f:
        f.write(b"part")
    assert list(tmp_path.iterdir()) == []             # left uncommitted: gone
    with AtomicFile(path) as f:
        f.write(b"whole")
        assert not path.exists()
        f.commit()
    assert path.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [path]


def test_atomic_file_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder '.*nowhere' does not exist"):
        AtomicFile(tmp_path / "nowhere" / "out.bin")


def test_ctrl_c_anywhere_leaves_all_files_or_none_and_no_temporary_file(tmp_path):
    def check():
        contents = [p.read_bytes() for p in sorted(tmp_path.iterdir())]
        assert contents in ([], [b"one", b"two"]), sorted(tmp_path.iterdir())
        for p in tmp_path.iterdir():
            p.unlink()

    run = lambda: write_files(tmp_path, {"a.txt": b"one", "b.txt": b"two"})  # noqa: E731
    assert interrupt_at_every_step(run, [atomic], tmp_path, check) > 100


def test_temporary_files_left_open_are_removed_at_exit(tmp_path):
    script = ("import sys; from bpe.atomic import AtomicFile; "
              "AtomicFile(sys.argv[1]).open().write(b'part'); raise KeyboardInterrupt")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out.bin")],
                          capture_output=True, text=True)
    assert "KeyboardInterrupt" in done.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_start_writeback_starts_the_kernel_writing_a_file_and_refuses_a_pipe(tmp_path):
    with open(tmp_path / "out.bin", "wb") as f:
        f.write(b"x" * 100_000)
        assert atomic.start_writeback(f)
    reading, writing = os.pipe()
    with open(writing, "wb") as pipe:
        assert not atomic.start_writeback(pipe)   # ESPIPE: nothing to start, no error
    os.close(reading)


def test_a_big_atomic_file_is_handed_to_the_disk_as_it_is_written(tmp_path, monkeypatch):
    """Each WRITEBACK_BYTES written (counted in bytes, whatever the items of a
    memoryview) start the kernel writing, so the fsync at commit has only the rest."""
    calls = []

    def counted(file):
        calls.append(file.tell())
        return real(file)

    real = atomic.start_writeback
    monkeypatch.setattr(atomic, "WRITEBACK_BYTES", 1 << 16)
    monkeypatch.setattr(atomic, "start_writeback", counted)
    path = tmp_path / "out.bin"
    wide = memoryview(bytes(range(256)) * 64).cast("I")       # 16 KB as 4,096 items
    with AtomicFile(path) as f:
        for _ in range(9):
            f.write(wide)                                      # 144 KB: twice past 64 KB
        f.write(b"tail")
        f.commit()
    assert calls == [1 << 16, 2 << 16]
    assert path.read_bytes() == bytes(range(256)) * 64 * 9 + b"tail"
