"""bpe/pools.py: encode_batch's slices cover the batch in order, about evenly."""
from hypothesis import given
from hypothesis import strategies as st

from bpe.pools import even_slices


@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 16))
def test_even_slices_cover_the_batch_in_order(lengths, count):
    bounds = even_slices(lengths, count)
    assert [k for a, b in bounds for k in range(a, b)] == list(range(len(lengths)))
    assert all(a < b for a, b in bounds)
    target = max(1, sum(lengths) // count)       # each run but the last reaches it
    assert all(sum(lengths[a:b]) >= target for a, b in bounds[:-1])
