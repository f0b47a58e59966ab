"""encode_batch's threads: one pool, kept from call to call, and the cut of a batch into
slices of about equal length (a few per thread, so that the threads finish together even
when the texts differ widely in length).

The pool is as large as the most threads asked for; a call that asks for fewer runs on as
many of its threads. A call that asks for more replaces it: the old pool's threads leave
once their work is done, and with them their spare buffers (the kernels' per-thread
buffers are thread_local and freed when a thread exits). So the threads alive stay at most
the largest num_threads asked for, whatever mix of sizes is asked.

concurrent.futures (and the logging it brings) is imported when the first pool is made:
a program that only loads a tokenizer and encodes one text at a time never needs it."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def map_on_threads(function: Callable[[T], R], items: Sequence[T], num_threads: int
                   ) -> list[R]:
    """[function(item) for item in items], in order, on at most num_threads threads of the
    shared pool (each thread takes the next item when it is done with one). The first
    exception raised is raised here, once every thread has stopped."""
    global _POOL, _POOL_SIZE
    items = list(items)
    results: list = [None] * len(items)
    taking = threading.Lock()
    order = iter(range(len(items)))

    def work() -> None:
        while True:
            with taking:
                k = next(order, None)
            if k is None:
                return
            results[k] = function(items[k])

    count = min(num_threads, len(items))
    with _POOL_LOCK:    # submitted under the lock, so the pool is not replaced meanwhile
        pool = _POOL
        if pool is None or count > _POOL_SIZE:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(count, thread_name_prefix="bpe-encode")
            _POOL_SIZE = count
            if pool is not None:
                pool.shutdown(wait=False)   # its threads leave when their work is done
            pool = _POOL
        futures = [pool.submit(work) for _ in range(count)]
    error = None
    for future in futures:
        try:
            future.result()
        except BaseException as e:      # raised below, once all have stopped
            if error is None:
                error = e
    if error is not None:
        raise error
    return results


def pool_size() -> int:
    """The shared pool's number of threads (0 before the first)."""
    return _POOL_SIZE


def _forget_pool() -> None:
    """In a forked child: the pool's threads stayed in the parent."""
    global _POOL, _POOL_SIZE, _POOL_LOCK
    _POOL, _POOL_SIZE = None, 0
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


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
