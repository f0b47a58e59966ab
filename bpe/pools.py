"""encode_batch's threads: a pool per thread count, kept from call to call, and the cut of a
batch into slices of about equal length (a few per thread, so that the threads finish
together even when the texts differ widely in length).

concurrent.futures (and the logging it brings) is imported when the first pool is made:
a program that only loads a tokenizer and encodes one text at a time never needs it."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def thread_pool(num_threads: int) -> ThreadPoolExecutor:
    """encode_batch's pool of num_threads threads, kept for the next call: its threads keep
    their buffers, warm in memory, where a new pool's threads would first touch new ones on
    every call."""
    with _POOLS_LOCK:
        pool = _POOLS.get(num_threads)
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = _POOLS[num_threads] = ThreadPoolExecutor(
                num_threads, thread_name_prefix=f"bpe-encode-{num_threads}")
        return pool


def _forget_pools() -> None:
    """In a forked child: the pools' threads stayed in the parent."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def even_slices(lengths: list[int], count: int) -> list[tuple[int, int]]:
    """Cut range(len(lengths)) into about `count` runs of about equal total length (a run
    holds at least one item): their (start, end)."""
    target = max(1, sum(lengths) // count)
    bounds, start, total = [], 0, 0
    for k, length in enumerate(lengths):
        total += length
        if total >= target:
            bounds.append((start, k + 1))
            start, total = k + 1, 0
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds
