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
