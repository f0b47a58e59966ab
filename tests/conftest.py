"""Shared fixtures: the test data inside the repository (bundled package data and
tests/fixtures), the benchmark corpus outside it, GPT-2 loaded by bpe and by tiktoken (offline)."""
from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import bpe

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=1000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_configure(config: pytest.Config) -> None:
    # Here rather than in pyproject.toml: the tests also run from a copy outside the checkout.
    config.addinivalue_line("markers", "slow: takes more than a few seconds; still runs in CI")
    if os.environ.get("BPE_SANITIZED") == "1":
        # Under .ci/sanitize, process pools start their workers from a fresh one-threaded
        # server: GCC's AddressSanitizer allocator is not safe to fork while other threads
        # allocate, and a worker forked from the test process (whose pools keep threads)
        # could wait forever on a lock that one of them held at the fork.
        import multiprocessing

        multiprocessing.set_start_method("forkserver", force=True)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Only the benchmark corpus lives outside the repository (../shared/data unless this is set).
SHARED_DATA = Path(os.environ.get("BPE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _bundled() -> Path:
    """The package's bundled data (bpe.data, from data/), as installed; the checkout's data/
    where bpe.data is not importable (bpe imported from the source folder)."""
    try:
        return Path(str(resources.files("bpe.data")))
    except ModuleNotFoundError:
        return ROOT / "data"


BUNDLED = _bundled()
_CS336 = ["address.txt", "german.txt", "train-bpe-reference-merges.txt",
          "train-bpe-reference-vocab.json"]
# Each test data file by name (the names of ../shared/data, where they came from) -> where the
# repository holds it (licences in data/README.md and tests/fixtures/README.md).
REPO_FILES = {
    "gpt2/encoder.json": BUNDLED / "pretrained" / "encoder.json",
    "gpt2/vocab.bpe": BUNDLED / "pretrained" / "vocab.bpe",
    "tiktoken/cl100k_base.tiktoken.gz": BUNDLED / "pretrained" / "cl100k_base.tiktoken.gz",
    "tiktoken/o200k_base.tiktoken.gz": BUNDLED / "pretrained" / "o200k_base.tiktoken.gz",
    "cs336/corpus.en": BUNDLED / "corpus.en",
    "cs336/tinystories_sample.txt": BUNDLED / "tinystories_sample.txt",
    **{f"cs336/{name}": FIXTURES / "cs336" / name for name in _CS336},
}


def repo_file(name: str) -> Path:
    """A test data file from inside the repository (see REPO_FILES); never skips: a missing
    one fails the test."""
    path = REPO_FILES[name]
    assert path.is_file(), f"{path} ({name}) is missing from the repository"
    return path


def bench_corpus() -> Path:
    """The 78 MB benchmark corpus, mix.txt.xz, which is not in the repository: from
    $BPE_SHARED_DATA/bench (default ../shared/data/bench), or skip saying so."""
    path = SHARED_DATA / "bench" / "mix.txt.xz"
    if not path.is_file():
        pytest.skip(f"needs the 78 MB benchmark corpus, not in the repository: {path} is not "
                    "here (set BPE_SHARED_DATA to the folder holding bench/mix.txt.xz)")
    return path


def _too_many_skips(config) -> str | None:
    """With BPE_MAX_SKIPS=N set, what is wrong when more than N tests skipped (CI's check that
    the tests stand alone: only those needing the benchmark corpus may skip)."""
    limit = os.environ.get("BPE_MAX_SKIPS")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if limit is None or reporter is None:
        return None
    skipped = len(reporter.stats.get("skipped", []))
    return (f"{skipped} tests skipped, more than BPE_MAX_SKIPS={limit}"
            if skipped > int(limit) else None)


def pytest_sessionfinish(session, exitstatus):
    if _too_many_skips(session.config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    message = _too_many_skips(config)
    if message:
        terminalreporter.write_sep("=", message, red=True, bold=True)


@pytest.fixture(scope="session")
def gpt2() -> bpe.Tokenizer:
    return bpe.Tokenizer.from_files(repo_file("gpt2/encoder.json"), repo_file("gpt2/vocab.bpe"),
                                    special_tokens=["<|endoftext|>"])


@pytest.fixture(scope="session")
def gpt2_tiktoken():
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    ranks = data_gym_to_mergeable_bpe_ranks(str(repo_file("gpt2/vocab.bpe")),
                                            str(repo_file("gpt2/encoder.json")))
    return tiktoken.Encoding("gpt2-offline", pat_str=bpe.GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})


def tiktoken_pair(name: str):
    """(bpe.Tokenizer, tiktoken.Encoding) for cl100k_base or o200k_base, both built offline
    from the bundled rank file NAME.tiktoken.gz."""
    tiktoken = pytest.importorskip("tiktoken")
    from bpe.formats import merges_from_ranks, read_tiktoken_ranks

    ranks = read_tiktoken_ranks(repo_file(f"tiktoken/{name}.tiktoken.gz"))
    pattern = {"cl100k_base": "cl100k", "o200k_base": "o200k"}[name]
    special = {"<|endoftext|>": 100257 if name == "cl100k_base" else 199999}
    enc = tiktoken.Encoding(name, pat_str=bpe.PATTERNS[pattern], mergeable_ranks=ranks,
                            special_tokens=special)
    vocab, merges = merges_from_ranks(ranks)
    vocab.update({i: t.encode() for t, i in special.items()})
    return bpe.Tokenizer(vocab, merges, special_tokens=list(special), pattern=pattern), enc


@pytest.fixture(scope="session", params=["cl100k_base", "o200k_base"])
def tiktoken_encoding(request):
    return tiktoken_pair(request.param)


_TIKTOKEN_FILES = {"encoder.json": "gpt2/encoder.json", "vocab.bpe": "gpt2/vocab.bpe",
                   "cl100k_base.tiktoken": "tiktoken/cl100k_base.tiktoken.gz",
                   "o200k_base.tiktoken": "tiktoken/o200k_base.tiktoken.gz"}


def official_tiktoken(name: str):
    """tiktoken's own encoding `name`, built by tiktoken_ext.openai_public's constructor
    (its pattern, special tokens and hash checks) with each download served from the
    bundled files instead of the network."""
    import gzip
    import hashlib

    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken import load
    from tiktoken_ext import openai_public

    def read_local(blobpath: str, expected_hash: str | None = None) -> bytes:
        path = repo_file(_TIKTOKEN_FILES[blobpath.rsplit("/", 1)[-1]])
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert expected_hash is None or hashlib.sha256(data).hexdigest() == expected_hash, blobpath
        return data

    # r50k_base's own rank file is not bundled; it holds GPT-2's vocabulary, and
    # tiktoken gives both the same pattern and special token, so gpt2's constructor stands in.
    constructor = openai_public.ENCODING_CONSTRUCTORS["gpt2" if name == "r50k_base" else name]
    original, load.read_file_cached = load.read_file_cached, read_local
    try:
        return tiktoken.Encoding(**constructor())
    finally:
        load.read_file_cached = original


_CAP = """
import resource, sys
import numpy as np

def random_words(count, shortest, longest, dtype):
    \"\"\"(bytes of count random words of shortest..longest - 1 bytes, back to back, as
    dtype; their int64 offsets; a count of 1 each).\"\"\"
    rng = np.random.default_rng(0)
    lengths = rng.integers(shortest, longest, size=count)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return (rng.integers(0, 256, size=int(offsets[-1])).astype(dtype), offsets,
            np.ones(count, dtype=np.int64))

def cap():
    \"\"\"Cap the address space at what the process holds now plus argv[1] MB.\"\"\"
    if sys.argv[1] != "none":
        vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + (int(sys.argv[1]) << 20),
                                                resource.RLIM_INFINITY))
"""


def run_capped(script: str, cap: str) -> str:
    """Run script (as under_memory_caps runs it) in a fresh interpreter, cap() lifting the
    address space by `cap` MB ("none": no cap): its output line. It must exit cleanly (no
    abort, no crash) and print no "Exception ignored" (a failure a kernel swallowed).
    Skips under AddressSanitizer (.ci/sanitize sets BPE_SANITIZED=1): its shadow memory
    reserves terabytes of address space, so no cap can be set above it."""
    if os.environ.get("BPE_SANITIZED") == "1":
        pytest.skip("caps the address space (RLIMIT_AS), which AddressSanitizer's shadow "
                    "memory cannot run under")
    out = subprocess.run([sys.executable, "-c", _CAP + script, cap],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "Exception ignored" not in out.stderr, out.stderr[-2000:]
    return out.stdout.strip()


def under_memory_caps(script: str, caps_mb: list[int]) -> tuple[str, list[str]]:
    """Run script (it builds its inputs, random_words() at hand, calls cap(), works, prints
    one line) in a fresh interpreter uncapped and under each cap (run_capped): (the uncapped
    line, the capped lines)."""
    return run_capped(script, "none"), [run_capped(script, str(mb)) for mb in caps_mb]


def interrupt_at_every_step(run, modules, folder: Path, check) -> int:
    """Run `run()` once per bytecode executed in `modules`' code (this thread), raising
    KeyboardInterrupt at that bytecode: a Ctrl-C can land between any two, cleanup code
    included (more finely than Python's own checks). After each run, every temporary file
    left in `folder` must be one that bpe.atomic removes at exit; they are then removed,
    as at exit, and `check()` looks at what is left. Returns how many runs were
    interrupted."""
    from bpe import atomic

    files = {m.__file__ for m in modules}

    def runner(stop_at: int) -> bool:
        step = 0

        def trace(frame, event, arg):
            nonlocal step
            if frame.f_code.co_filename not in files:
                return None
            frame.f_trace_opcodes = True
            if event == "opcode":
                step += 1
                if step == stop_at:
                    raise KeyboardInterrupt
            return trace

        sys.settrace(trace)
        try:
            run()
        except KeyboardInterrupt:
            return True
        finally:
            sys.settrace(None)
            left = {p for p in folder.iterdir() if p.name.endswith(".tmp")}
            assert left <= atomic._pending, (stop_at, left)
            atomic.remove_pending()
            check()
        return False

    runner(0)   # once through: Python 3.12 sends a code's opcode events from its next call
    stop_at = 1
    while runner(stop_at):
        stop_at += 1
    return stop_at - 1


def in_child_while_held(lock, work, timeout: float = 30) -> bytes | None:
    """Fork while another thread holds `lock`; the child runs work() (which returns bytes)
    and writes its answer. The answer, or None if the child did not answer within
    `timeout` seconds (it waited on the lock a parent's thread held)."""
    import select
    import signal
    import threading

    taken, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            taken.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait()
    read, write = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:                # the child: answer, then leave
            try:
                os.write(write, work())
            finally:
                os._exit(0)
        os.close(write)
        answered, _, _ = select.select([read], [], [], timeout)
        if not answered:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return os.read(read, 100) if answered else None
    finally:
        release.set()
        holder.join()
        os.close(read)


# Every input format but plain text, by the ending that names it (bpe.sources).
RECORD_ENDINGS = [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"]
TEXT_ENDINGS = [".txt.gz", ".txt.zst"]


def corpus_documents() -> list[str]:
    """CS336's corpus.en as documents of five lines each (203 of them)."""
    lines = repo_file("cs336/corpus.en").read_text(encoding="utf-8").splitlines(keepends=True)
    return ["".join(lines[k:k + 5]) for k in range(0, len(lines), 5)]


def compress(data: bytes, ending: str) -> bytes:
    """data gzip- or zstd-compressed by the real libraries, as an ending asks (else as is)."""
    import gzip

    import zstandard

    if ending.endswith(".gz"):
        return gzip.compress(data)
    if ending.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(data)
    return data


def write_records(path: Path, texts: list[str], field: str = "text",
                  row_group_size: int = 1024) -> Path:
    """texts as the records of a file in the format path's ending names: a JSONL line each
    (with a field before and after the text's) or a Parquet row each."""
    import json

    name = str(path)
    if name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": list(range(len(texts))), field: pa.array(texts, pa.string())})
        pq.write_table(table, path, row_group_size=max(1, row_group_size))
        return path
    lines = "".join(json.dumps({"id": k, field: t, "meta": {"n": [k]}}) + "\n"
                    for k, t in enumerate(texts))
    path.write_bytes(compress(lines.encode("utf-8"), name))
    return path
