"""Pretokenizer: special-token splitting and streaming agree with the reference on any chunking."""
import re

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.patterns import Pretokenizer, check_pattern, pattern_from_text

from . import reference
from .strategies import chunkings, documents, random_patterns, texts


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
    compiled = pattern if pattern in bpe.PATTERNS else regex.compile(pattern)
    got = flatten(Pretokenizer(compiled, []).stream(chunks, settle_chars=settle))
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


@pytest.mark.parametrize("name, suggestion", [
    ("gpt-2", "gpt2"), ("gpt4", "gpt2"), ("cl100", "cl100k"), ("o200k-base", "o200k_base"),
])
def test_unknown_pattern_names_are_errors(name, suggestion):
    """A misspelt name is never taken as a regex (which would match nothing)."""
    with pytest.raises(ValueError, match=f"unknown pattern name '{name}'. Did you mean "
                                         f"'{suggestion}'.*regex.compile"):
        Pretokenizer(name)


def test_pattern_aliases():
    for alias, name in [("gpt2", "gpt2"), ("r50k_base", "gpt2"), ("p50k_base", "gpt2"),
                        ("cl100k_base", "cl100k"), ("o200k_base", "o200k"),
                        ("o200k_harmony", "o200k")]:
        assert check_pattern(alias) == name
        assert Pretokenizer(alias).pattern == bpe.PATTERNS[name]
    # the regex text of a built-in, in any known spelling, is the built-in
    assert check_pattern(bpe.CL100K_PATTERN) == "cl100k"
    assert check_pattern(regex.compile(bpe.O200K_PATTERN)) == "o200k"


def test_custom_patterns_are_compiled_regex_objects():
    with pytest.raises(TypeError, match=r"compiled by `re`.*regex.compile\('a\+'\)"):
        Pretokenizer(re.compile("a+"))
    with pytest.raises(ValueError, match="flags: write them inline"):
        Pretokenizer(regex.compile("a+", regex.IGNORECASE))
    assert Pretokenizer(regex.compile("(?i)a+")).pieces("aAb") == ["aA", "b"]
    # matches found right to left would repeat or lose text between them
    for reverse in [r"(?r)ab|.", r"a|(?r:b)", r"\p{L}+|\d|(?r:c)"]:
        with pytest.raises(ValueError, match=r"matches right to left"):
            Pretokenizer(regex.compile(reverse))
        with pytest.raises(ValueError, match=r"matches right to left"):
            pattern_from_text(reverse)
    with pytest.raises(TypeError, match="pattern must be a name"):
        Pretokenizer(42)
    with pytest.raises(ValueError, match="not a valid regex"):
        pattern_from_text("(unclosed")


@pytest.mark.parametrize("pattern, text, pieces", [
    (r"[a-z]+", "ab, cd!", ["ab", ", ", "cd", "!"]),
    (r"\d", "x12y", ["x", "1", "2", "y"]),
    (r"(?=a)", "bab", ["b", "ab"]),           # an empty match cuts, adding no piece
    (r"", "", []),
])
def test_unmatched_text_is_kept(pattern, text, pieces):
    """Text a custom pattern does not match is kept, each stretch a piece (HF's Split)."""
    assert Pretokenizer(regex.compile(pattern)).pieces(text) == pieces


@given(pattern=random_patterns, text=texts)
def test_random_patterns_keep_all_text(pattern, text):
    """Pieces of any pattern join back to the text, and equal the reference's."""
    pieces = Pretokenizer(regex.compile(pattern)).pieces(text)
    assert "".join(pieces) == text
    assert pieces == reference.pretokenize(text, pattern)


def test_stream_rejects_bytes():
    with pytest.raises(TypeError, match="expected str chunks"):
        list(Pretokenizer().stream([b"abc"]))
