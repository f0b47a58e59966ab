"""WordTable layout: unique words, offsets, counts."""
from hypothesis import given
from hypothesis import strategies as st

from bpe.wordtable import WordTable


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 10**12), max_size=20))
def test_from_counts_layout(counts):
    table = WordTable.from_counts(counts)
    assert table.n_words == len(counts)
    assert table.offsets[0] == 0 and table.offsets[-1] == len(table.symbols)
    assert [table.word(i) for i in range(table.n_words)] == [w.encode() for w in counts]
    assert table.counts.tolist() == list(counts.values())
    assert table.symbols.dtype.name == "int32" and table.offsets.dtype.name == "int64"


@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(1, 100), max_size=10),
                max_size=4))
def test_merge_adds_counts(parts):
    merged = WordTable.merge(WordTable.from_counts(p) for p in parts)
    expected: dict[bytes, int] = {}
    for part in parts:
        for word, count in part.items():
            expected[word.encode()] = expected.get(word.encode(), 0) + count
    assert {merged.word(i): int(c) for i, c in enumerate(merged.counts)} == expected


def test_save_load_round_trip(tmp_path):
    table = WordTable.from_counts({"hello": 3, " world": 2, "é": 1})
    table.save(tmp_path / "counts.npz")
    loaded = WordTable.load(tmp_path / "counts.npz")
    assert [loaded.word(i) for i in range(3)] == [table.word(i) for i in range(3)]
    assert loaded.counts.tolist() == [3, 2, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["counts.npz"]


def test_load_rejects_other_files(tmp_path):
    import numpy as np
    import pytest

    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a count table"):
        WordTable.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        WordTable.load(tmp_path / "missing.npz")
