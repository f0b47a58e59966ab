"""BPE-dropout's arguments: the probability checked, and the seeds of the random streams.

The rule itself is Hugging Face's (`MergeTable.merge_dropout` in _merge_table.pyx): in each
piece, every candidate merge taken off the heap is dropped with probability p and comes
back after the next merge; p = 0 is plain BPE, p = 1 leaves the bytes. The draws come from
a splitmix64 stream: one per encoded text, in text order, so a seed gives the same ids on
every run. encode_batch gives each text a stream of its own (seeded by the seed and the
text's place in the batch) and encode_file each chunk (by the file's place and the chunk's
start), so neither depends on the number of threads.
"""
from __future__ import annotations

import os
from typing import NamedTuple

_MASK = (1 << 64) - 1


class Dropout(NamedTuple):
    threshold: int      # merge_dropout's: p * 2**53
    seed: int           # 64 bits: the stream of the first text


def dropout_of(p: float | None, seed: int | None) -> Dropout | None:
    """The checked arguments (None: no dropout, for p None or 0). seed None: a new random
    stream for each call."""
    from bpe._merge_table import dropout_threshold

    if p is None:
        if seed is not None:
            raise ValueError(f"seed={seed!r} without dropout; give dropout=p as well")
        return None
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"dropout={p!r}; expected a probability in [0, 1], a float")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed={seed!r}; expected an int (or None for a random one)")
    threshold = dropout_threshold(float(p))         # (ValueError outside [0, 1])
    if threshold == 0:
        return None
    base = int.from_bytes(os.urandom(8), "little") if seed is None else seed & _MASK
    return Dropout(threshold, mix(base))


def mix(x: int) -> int:
    """splitmix64's finalizer: a bijection of 64-bit ints that scatters nearby ones."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def part_seed(seed: int, *place: int) -> int:
    """The seed of one part of the work (a text of a batch; a file's chunk) from the
    caller's seed and the part's place: the same for any number of threads."""
    seed &= _MASK
    for k in place:
        seed = mix((seed + (k + 1) * 0xD1B54A32D192ED03) & _MASK)
    return seed


def part_dropout(dropout: Dropout, *place: int) -> Dropout:
    """part_seed for a Dropout already checked."""
    return Dropout(dropout.threshold, part_seed(dropout.seed, *place))
