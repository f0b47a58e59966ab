"""The merge-loop kernel alone, on random WordTables, against the reference merge rule."""
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpe._merge import merge_words
from bpe.wordtable import WordTable

from . import reference

words = st.dictionaries(st.binary(min_size=1, max_size=12).map(lambda b: bytes(x % 4 + 97 for x in b)),
                        st.integers(1, 1000), max_size=30)


def reference_merges(counts: dict[bytes, int], n_merges: int) -> list[tuple[bytes, bytes]]:
    return reference.learn_merges(Counter({tuple(bytes([b]) for b in w): c for w, c in counts.items()}),
                                  n_merges)


@given(words, st.integers(0, 60))
def test_equals_reference(counts, n_merges):
    table = WordTable.from_counts(counts)
    pairs = merge_words(table.symbols, table.offsets, table.counts, n_merges)
    vocab = {i: bytes([i]) for i in range(256)}
    got = []
    for k, (a, b) in enumerate(pairs.tolist()):
        vocab[256 + k] = vocab[a] + vocab[b]
        got.append((vocab[a], vocab[b]))
    assert got == reference_merges(counts, n_merges)


def test_leaves_input_untouched():
    table = WordTable.from_counts({"abab": 3, "ba": 1})
    before = table.symbols.copy()
    merge_words(table.symbols, table.offsets, table.counts, 5)
    assert np.array_equal(table.symbols, before)


def test_large_counts_do_not_overflow():
    table = WordTable.from_counts({"ab": 2**40, "bc": 2**40 - 1})
    pairs = merge_words(table.symbols, table.offsets, table.counts, 2)
    assert pairs.tolist() == [[97, 98], [98, 99]]


def test_bad_offsets():
    with pytest.raises(ValueError, match="offsets"):
        merge_words(np.zeros(3, np.int32), np.array([0, 3], np.int64), np.ones(2, np.int64), 1)


def test_symbols_must_be_bytes():
    with pytest.raises(ValueError, match="byte ids"):
        merge_words(np.array([1, 300], np.int32), np.array([0, 2], np.int64), np.ones(1, np.int64), 1)
