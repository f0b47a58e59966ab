"""The merge-loop kernel alone, on random WordTables, against the reference merge rule."""
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpe._merge import merge_words
from bpe.wordtable import WordTable

from . import reference
from .conftest import run_capped, under_memory_caps

words = st.dictionaries(
    st.binary(min_size=1, max_size=12).map(lambda b: bytes(x % 4 + 97 for x in b)),
    st.integers(1, 1000), max_size=30)


def reference_merges(counts: dict[bytes, int], n_merges: int,
                     **limits) -> list[tuple[bytes, bytes]]:
    words = Counter({tuple(bytes([b]) for b in w): c for w, c in counts.items()})
    return reference.learn_merges(words, n_merges, **limits)


def kernel_merges(counts: dict[bytes, int], n_merges: int,
                  **limits) -> list[tuple[bytes, bytes]]:
    """merge_words' merges as pairs of bytes."""
    table = WordTable.from_counts(counts)
    pairs = merge_words(table.symbols, table.offsets, table.counts, n_merges, **limits)
    vocab = {i: bytes([i]) for i in range(256)}
    got = []
    for k, (a, b) in enumerate(pairs.tolist()):
        vocab[256 + k] = vocab[a] + vocab[b]
        got.append((vocab[a], vocab[b]))
    return got


@given(words, st.integers(0, 60))
def test_equals_reference(counts, n_merges):
    assert kernel_merges(counts, n_merges) == reference_merges(counts, n_merges)


@given(words, st.integers(0, 60), st.integers(0, 3000), st.none() | st.integers(1, 9))
def test_limits_equal_reference(counts, n_merges, min_frequency, max_token_length):
    limits = {"min_frequency": min_frequency, "max_token_length": max_token_length}
    got = kernel_merges(counts, n_merges, **limits)
    assert got == reference_merges(counts, n_merges, **limits)
    assert all(len(a + b) <= (max_token_length or 12) for a, b in got)


def test_min_frequency_stops_the_loop():
    """The loop ends at the first pair rarer than min_frequency, with fewer merges."""
    counts = {"ab": 5, "cd": 2, "ef": 1}
    assert kernel_merges(counts, 10) == [(b"a", b"b"), (b"c", b"d"), (b"e", b"f")]
    assert kernel_merges(counts, 10, min_frequency=1) == kernel_merges(counts, 10)
    assert kernel_merges(counts, 10, min_frequency=2) == [(b"a", b"b"), (b"c", b"d")]
    assert kernel_merges(counts, 10, min_frequency=5) == [(b"a", b"b")]
    assert kernel_merges(counts, 10, min_frequency=6) == []


def test_min_frequency_applies_to_counts_after_merges():
    """(b, c) occurs 6 times at first; merging (a, b) leaves it 2, below min_frequency 3."""
    counts = {"abc": 4, "bc": 2, "ab": 4}
    assert kernel_merges(counts, 10) == [(b"a", b"b"), (b"ab", b"c"), (b"b", b"c")]
    assert kernel_merges(counts, 10, min_frequency=3) == [(b"a", b"b"), (b"ab", b"c")]


def test_max_token_length_skips_long_pairs_and_goes_on():
    """(ab, ab), the most frequent pair after (a, b), would make 4 bytes: the next pair in
    order is merged instead, and (ab, ab) never is, however often it occurs."""
    counts = {"abab": 10, "cd": 1}
    assert kernel_merges(counts, 10) == [(b"a", b"b"), (b"ab", b"ab"), (b"c", b"d")]
    assert kernel_merges(counts, 10, max_token_length=3) == [(b"a", b"b"), (b"c", b"d")]
    assert kernel_merges(counts, 10, max_token_length=1) == []


def test_a_long_pair_made_by_a_merge_is_never_merged():
    """(a, bc) comes into being, and its count rises, only when (b, c) is merged; at 3 bytes
    it is over the limit of 2 and stays unmerged, while (d, e), rarer, is merged."""
    counts = {"abc": 3, "bc": 5, "de": 1}
    assert kernel_merges(counts, 10) == [(b"b", b"c"), (b"a", b"bc"), (b"d", b"e")]
    assert kernel_merges(counts, 10, max_token_length=2) == [(b"b", b"c"), (b"d", b"e")]


def test_bad_limits():
    table = WordTable.from_counts({"ab": 1})
    with pytest.raises(ValueError, match="min_frequency=-1 must be >= 0"):
        merge_words(table.symbols, table.offsets, table.counts, 1, min_frequency=-1)
    with pytest.raises(ValueError, match="max_token_length=0 must be >= 1 or None"):
        merge_words(table.symbols, table.offsets, table.counts, 1, max_token_length=0)


# A base vocabulary: the 256 bytes and some longer tokens over "abcd", each of its own bytes.
base_tokens = st.sets(st.binary(min_size=2, max_size=4).map(lambda b: bytes(x % 4 + 97 for x in b)),
                      max_size=12).map(lambda longer: [bytes([b]) for b in range(256)]
                                        + sorted(longer))


@st.composite
def base_words(draw):
    """(tokens, {word as base ids: count}): words of random base tokens."""
    tokens = draw(base_tokens)
    ids = st.sampled_from([*range(97, 101), *range(256, len(tokens))])
    return tokens, draw(st.dictionaries(st.lists(ids, min_size=1, max_size=8).map(tuple),
                                        st.integers(1, 1000), max_size=30))


def as_arrays(words: dict[tuple[int, ...], int]):
    offsets = np.zeros(len(words) + 1, np.int64)
    np.cumsum([len(w) for w in words], out=offsets[1:])
    return (np.array([i for w in words for i in w], np.int32), offsets,
            np.array(list(words.values()), np.int64))


@given(base_words(), st.integers(0, 60))
def test_over_a_base_equals_reference(drawn, n_merges):
    """Words of base ids: merge k makes id len(tokens) + k, and a pair whose bytes together
    are a token already (a base one, or one made earlier) is never merged."""
    tokens, words = drawn
    pairs = merge_words(*as_arrays(words), n_merges, tokens=tokens)
    vocab = dict(enumerate(tokens))
    got = []
    for k, (a, b) in enumerate(pairs.tolist()):
        vocab[len(tokens) + k] = vocab[a] + vocab[b]
        got.append((vocab[a], vocab[b]))
    by_bytes = Counter({tuple(tokens[i] for i in w): c for w, c in words.items()})
    assert got == reference.learn_merges(by_bytes, n_merges, tokens=set(tokens))


@given(words, st.integers(0, 60))
def test_the_256_bytes_as_tokens_are_the_default(counts, n_merges):
    table = WordTable.from_counts(counts)
    arrays = table.symbols, table.offsets, table.counts
    assert np.array_equal(merge_words(*arrays, n_merges),
                          merge_words(*arrays, n_merges, tokens=[bytes([b]) for b in range(256)]))


def test_a_pair_that_makes_a_token_is_skipped():
    """[a][bc] five times, [x][a][bc] once, over a base holding "abc" (as GPT-2's merges make
    a token by one path while the base encodes a piece by another): (a, bc) would make
    "abc" again, so (x, a) and (xa, bc) are merged instead."""
    tokens = [bytes([b]) for b in range(256)] + [b"bc", b"abc"]
    pairs = merge_words(*as_arrays({(97, 256): 5, (120, 97, 256): 1}), 5, tokens=tokens)
    assert pairs.tolist() == [[120, 97], [258, 256]]


def test_base_tokens_checked():
    tokens = [bytes([b]) for b in range(256)] + [b"", b"ab"]
    arrays = as_arrays({(97, 257): 2})
    assert merge_words(*arrays, 1, tokens=tokens).tolist() == [[97, 257]]
    with pytest.raises(ValueError, match=r"symbols must be ids of tokens, in 0\.\.257; tokens "
                                         r"gives id 256 no bytes"):
        merge_words(*as_arrays({(97, 256): 2}), 1, tokens=tokens)
    with pytest.raises(ValueError, match=r"symbols must be ids of tokens, in 0\.\.257$"):
        merge_words(*as_arrays({(97, 258): 2}), 1, tokens=tokens)
    with pytest.raises(TypeError, match=r"tokens\[1\] is a str; expected bytes"):
        merge_words(*arrays, 1, tokens=[b"a", "b"])
    with pytest.raises(ValueError, match=r"n_merges=2147483390 must be in 0\.\.2147483389"):
        merge_words(*arrays, 2**31 - 258, tokens=tokens)


def test_leaves_input_untouched():
    table = WordTable.from_counts({"abab": 3, "ba": 1})
    before = table.symbols.copy()
    merge_words(table.symbols, table.offsets, table.counts, 5)
    assert np.array_equal(table.symbols, before)


@given(words, st.integers(0, 60))
def test_in_place_rewrites_the_symbols_and_learns_the_same(counts, n_merges):
    table = WordTable.from_counts(counts)
    expected = merge_words(table.symbols, table.offsets, table.counts, n_merges)
    symbols = table.symbols.copy()
    pairs = merge_words(symbols, table.offsets, table.counts, n_merges, in_place=True)
    assert np.array_equal(pairs, expected)
    if len(pairs):
        assert not np.array_equal(symbols, table.symbols)   # the loop's words, merged


def test_in_place_needs_a_writable_array():
    table = WordTable.from_counts({"abab": 3})
    symbols = table.symbols.copy()
    symbols.flags.writeable = False
    with pytest.raises(ValueError, match="in_place needs symbols to be a writable int32"):
        merge_words(symbols, table.offsets, table.counts, 2, in_place=True)


def test_large_counts_do_not_overflow():
    table = WordTable.from_counts({"ab": 2**40, "bc": 2**40 - 1})
    pairs = merge_words(table.symbols, table.offsets, table.counts, 2)
    assert pairs.tolist() == [[97, 98], [98, 99]]


def test_bad_offsets():
    with pytest.raises(ValueError, match="offsets"):
        merge_words(np.zeros(3, np.int32), np.array([0, 3], np.int64), np.ones(2, np.int64), 1)


def test_symbols_must_be_bytes():
    with pytest.raises(ValueError, match="byte ids"):
        merge_words(np.array([1, 300], np.int32), np.array([0, 2], np.int64),
                    np.ones(1, np.int64), 1)


OUT_OF_MEMORY_SCRIPT = """
import hashlib
from bpe import _merge
symbols, offsets, counts = random_words(300_000, 6, 13, np.int32)
cap()
try:
    merges = _merge.merge_words(symbols, offsets, counts, 3000)
    print("done", hashlib.sha256(merges.tobytes()).hexdigest())
except MemoryError as e:
    print("MemoryError:", e)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
def test_out_of_memory_in_the_loop_is_a_clean_memory_error():
    """With the address space capped at several heights above what the inputs take, the
    merge loop either finishes with the uncapped merges or raises MemoryError; it never
    swallows the failure and carries on (which once ended in heap corruption)."""
    free, capped = under_memory_caps(OUT_OF_MEMORY_SCRIPT, [20, 50, 80, 90, 110])
    assert "MemoryError: out of memory in the merge loop" in capped
    assert all(o in (free, "MemoryError: out of memory in the merge loop") for o in capped)


WORD_STAMPS_SCRIPT = """
from bpe import _merge
n = 5_000_000
symbols, offsets, counts = np.full(n, 97, np.int32), np.arange(n + 1), np.ones(n, np.int64)


class CapAfterZeros:
    # numpy for _merge, capping the address space once merge_words has made its output
    # (its last array before the loop's own vectors): 10 MB more, not the 20 of the stamps
    def __getattr__(self, name):
        return getattr(np, name)

    def zeros(self, *args, **kwargs):
        out = np.zeros(*args, **kwargs)
        vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + (10 << 20), resource.RLIM_INFINITY))
        return out


_merge.np = CapAfterZeros()
try:
    _merge.merge_words(symbols, offsets.astype(np.int64), counts, 0)
    print("done")
except MemoryError as e:
    print("MemoryError:", e)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
def test_no_memory_for_the_word_stamps_is_a_memory_error():
    """The loop's per-word array is the allocation that fails (the inputs and output fit):
    MemoryError naming the words, not an abort from an uncaught std::bad_alloc."""
    assert run_capped(WORD_STAMPS_SCRIPT, "none") == (
        "MemoryError: no memory for the merge loop's 5000000 words")
