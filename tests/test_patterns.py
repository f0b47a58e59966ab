"""Pretokenizer: special-token splitting and streaming agree with the reference on any chunking."""
import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.patterns import Pretokenizer

from . import reference
from .strategies import chunkings, documents, texts


def flatten(stream):
    out = []
    for pieces, special in stream:
        out.extend(pieces)
        if special is not None:
            out.append(("special", special))
    return out


def expected(text, specials, pattern=reference.GPT2_PATTERN):
    out = []
    for segment, is_special in reference.split_special(text, specials):
        out.extend([("special", segment)] if is_special
                   else reference.pretokenize(segment, pattern))
    return out


@given(documents())
def test_stream_whole_text(doc):
    text, specials = doc
    assert flatten(Pretokenizer("gpt2", specials).stream([text])) == expected(text, specials)


# settle_chars is tiny in these tests so that the safe-cut logic runs on small inputs.


@given(data=st.data(), settle=st.integers(1, 8))
def test_stream_any_chunking(data, settle):
    text, specials = data.draw(documents())
    chunks = data.draw(chunkings(text))
    got = flatten(Pretokenizer("gpt2", specials).stream(chunks, settle_chars=settle))
    assert got == expected(text, specials)


@pytest.mark.parametrize("pattern", ["cl100k", "o200k", r"\w+", r"[a-z]+|\d"])
@given(data=st.data(), settle=st.integers(1, 8))
def test_stream_other_patterns(pattern, data, settle):
    text = data.draw(texts)
    chunks = data.draw(chunkings(text))
    full = bpe.PATTERNS.get(pattern, pattern)
    got = flatten(Pretokenizer(pattern, []).stream(chunks, settle_chars=settle))
    assert got == reference.pretokenize(text, full)


@pytest.mark.parametrize("chunks, pieces", [
    (["don'", "t"], ["don", "'t"]),
    (["'l", "l"], ["'ll"]),
    (["a  ", "b"], ["a", " ", " b"]),
    (["<|endof", "text|>x"], [("special", "<|endoftext|>"), "x"]),
])
def test_stream_edge_cases(chunks, pieces):
    got = Pretokenizer("gpt2", ["<|endoftext|>"]).stream(chunks, settle_chars=1)
    assert flatten(got) == pieces


@pytest.mark.parametrize("pattern, text, cut", [
    ("o200k", "  \n" + " " * 10 + "\n", 13),    # \s*[\r\n]+ reads the whole space run
    ("cl100k", "  \n" + " " * 10 + "\n", 13),
    ("o200k", "中" + "A" * 10 + "b", 11),         # [Lu..]*[Ll..]+ backtracks over the run
    ("gpt2", "x" + " " * 10, 5),
])
def test_stream_long_lookahead_runs(pattern, text, cut):
    got = Pretokenizer(pattern).stream([text[:cut], text[cut:]], settle_chars=1)
    assert flatten(got) == reference.pretokenize(text, bpe.PATTERNS[pattern])


def test_named_patterns_compile():
    for name, pattern in bpe.PATTERNS.items():
        assert Pretokenizer(name).pattern == pattern
        regex.compile(pattern)


def test_bad_pattern():
    with pytest.raises(ValueError, match="not a valid regex"):
        Pretokenizer("(unclosed")


def test_stream_rejects_bytes():
    with pytest.raises(TypeError, match="expected str chunks"):
        list(Pretokenizer().stream([b"abc"]))
