"""bpe/_signals.pxd: Ctrl-C stops a long encode and the training merge loop within a
fraction of a second. Each case runs in a child interpreter that starts the work, says so,
and prints when KeyboardInterrupt reached it; the test sends SIGINT and measures the lag."""
import signal
import subprocess
import sys
import time

import pytest

# The child: build the input, print "ready", run the work; print "interrupted <time>" at
# KeyboardInterrupt (CLOCK_MONOTONIC, which both processes share), or "finished <seconds>".
_CHILD = """
import signal, sys, time
import numpy as np
import bpe
signal.signal(signal.SIGINT, signal.default_int_handler)  # as under a shell's background job
rng = np.random.default_rng(0)
if sys.argv[1] == "encode":
    # 120 MB of random letters and spaces: pieces never seen, seconds to encode
    letters = rng.integers(97, 123, size=120_000_000, dtype=np.uint8)
    letters[rng.integers(0, len(letters), size=len(letters) // 50)] = 32
    text = letters.tobytes().decode("ascii")
    tok = bpe.Tokenizer.from_pretrained("gpt2")
    work = lambda: tok.encode_ordinary(text)
else:
    # 300,000 random words of 8 to 40 letters, trained to 200,000 tokens: seconds of merges
    sizes = rng.integers(8, 41, size=300_000)
    letters = rng.integers(97, 123, size=int(sizes.sum()), dtype=np.uint8).tobytes().decode()
    ends = np.cumsum(sizes)
    words = {letters[end - size:end]: int(count) for end, size, count
             in zip(ends, sizes, rng.integers(1, 100, size=len(sizes)))}
    table = bpe.WordTable.from_counts(words, pattern="gpt2")
    work = lambda: bpe.train(table, 200_000, progress=False)
print("ready", flush=True)
start = time.monotonic()
try:
    work()
    print("finished", time.monotonic() - start, flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("work", ["encode", "merge"])
def test_ctrl_c_stops_the_kernels_at_once(work):
    """Half a second into the work (several seconds' worth), SIGINT: KeyboardInterrupt
    reaches Python within a second (the kernels look every ~1 MB of text or 64 merges,
    milliseconds apart; without the checks the work ran to its end)."""
    child = subprocess.Popen([sys.executable, "-c", _CHILD, work], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        time.sleep(0.5)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, err[-2000:]
    assert out.startswith("interrupted "), out
    lag = float(out.split()[1]) - sent
    assert 0 <= lag < 1.0, lag
