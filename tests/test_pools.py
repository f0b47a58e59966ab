"""bpe/pools.py: encode_batch's slices cover the batch in order, about evenly."""
import os
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe import pools
from bpe.pools import even_slices, map_on_threads


@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 16))
def test_even_slices_cover_the_batch_in_order(lengths, count):
    bounds = even_slices(lengths, count)
    assert [k for a, b in bounds for k in range(a, b)] == list(range(len(lengths)))
    assert all(a < b for a, b in bounds)
    target = max(1, sum(lengths) // count)       # each run but the last reaches it
    assert all(sum(lengths[a:b]) >= target for a, b in bounds[:-1])


def test_threads_stay_bounded_whatever_sizes_are_asked():
    """encode_batch with 1..64 threads, one after the other: the pool grows to the largest
    size asked for and the smaller pools' threads leave (there was a pool per size, 923
    threads left alive)."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {256: b"ab"}, [(b"a", b"b")])
    batch = ["abc " * k for k in range(300)]
    expected = [tok.encode(t) for t in batch]
    before = threading.active_count()
    for n in range(1, 65):
        assert tok.encode_batch(batch, num_threads=n) == expected
    assert pools.pool_size() <= 64
    deadline = time.monotonic() + 10
    while threading.active_count() > before + 64 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before + 64
    assert tok.encode_batch(batch, num_threads=3) == expected      # fewer than the pool has
    assert pools.pool_size() <= 64
    assert len(tok._free_caches) <= max(8, os.cpu_count() or 1)    # the rest given back


def test_map_on_threads_keeps_order_and_raises_the_first_error():
    assert map_on_threads(lambda x: x * x, list(range(50)), 4) == [x * x for x in range(50)]
    assert map_on_threads(lambda x: x, [], 4) == []

    def fail(x):
        if x == 7:
            raise ValueError("seven")
        return x

    with pytest.raises(ValueError, match="seven"):
        map_on_threads(fail, list(range(20)), 3)
