"""Stub for the compiled module bpe._merge (source: _merge.pyx)."""

import threading
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from typing_extensions import disjoint_base

@disjoint_base
class _MergeLoop:
    step: int
    """The merge being made (-1 before the first); read by the progress watcher."""

def merge_words(
    symbols: NDArray[np.int32],
    offsets: NDArray[np.int64],
    counts: NDArray[np.int64],
    n_merges: int,
    progress: Callable[[int], object] | None = None,
    *,
    tokens: Sequence[bytes] | None = None,
    min_frequency: int = 0,
    max_token_length: int | None = None,
    in_place: bool = False,
) -> NDArray[np.int32]: ...
def _watch(loop: _MergeLoop, progress: Callable[[int], object], stop: threading.Event) -> None: ...
