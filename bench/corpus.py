"""Where the benchmark inputs come from: ../shared/data, decompressed once to a cache folder."""
from __future__ import annotations

import lzma
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("BPE_BENCH_CACHE", ROOT / "bench" / ".cache"))


def shared_data() -> Path:
    return Path(os.environ.get("BPE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def corpus_path() -> Path:
    """The 78 MB mix corpus as plain text (decompressed from mix.txt.xz on first use)."""
    target = CACHE / "mix.txt"
    if target.exists():
        return target
    source = shared_data() / "bench" / "mix.txt.xz"
    if not source.exists():
        raise SystemExit(f"{source} is not here: set BPE_SHARED_DATA to the folder that holds "
                         f"bench/mix.txt.xz, or pass --input FILE (any UTF-8 text) to a script "
                         f"that takes it")
    CACHE.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE, suffix=".tmp")
    with lzma.open(source) as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, target)
    return target


def slice_of(mb: float) -> Path:
    """The first `mb` MB of the corpus, ending at a document boundary (cached)."""
    source = corpus_path()
    target = CACHE / f"mix-{mb:g}MB.txt"
    if not target.exists():
        data = source.read_bytes()
        end = data.find(b"<|endoftext|>", int(mb * 1e6))
        target.write_bytes(data if end < 0 else data[:end])
    return target


def copies_of(path: Path, copies: int) -> Path:
    """The file written `copies` times over, back to back (cached beside the corpus)."""
    target = CACHE / f"{path.stem}-x{copies}{path.suffix}"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=CACHE, suffix=".tmp")
        with os.fdopen(fd, "wb") as dst:
            for _ in range(copies):
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, target)
    return target
