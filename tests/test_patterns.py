"""Pretokenizer: special-token splitting and streaming agree with the reference on any chunking."""
import re

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.patterns import (
    EQUIVALENT_PATTERNS,
    Pretokenizer,
    check_pattern,
    pattern_from_text,
    pattern_name,
)

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


@pytest.mark.parametrize("pattern", ["cl100k", "o200k", "llama3", "qwen2", r"\w+", r"[a-z]+|\d"])
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
    ("llama3", "x \n" + " " * 10, 6),             # cut after the last newline at the end
    ("llama3", "x \n" + " " * 10 + "\n", 6),      # ... and only there
    ("qwen2", "x \n" + " " * 10 + "1234", 6),
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
    ("llama-3", "llama3"), ("Qwen2", "qwen2"),
])
def test_unknown_pattern_names_are_errors(name, suggestion):
    """A misspelt name is never taken as a regex (which would match nothing)."""
    with pytest.raises(ValueError, match=f"unknown pattern name '{name}'. Did you mean "
                                         f"'{suggestion}'.*regex.compile"):
        Pretokenizer(name)


def test_pattern_aliases():
    for alias, name in [("gpt2", "gpt2"), ("r50k_base", "gpt2"), ("p50k_base", "gpt2"),
                        ("cl100k_base", "cl100k"), ("o200k_base", "o200k"),
                        ("o200k_harmony", "o200k"), ("llama3", "llama3"), ("llama3.1", "llama3"),
                        ("llama3.3", "llama3"), ("qwen2", "qwen2"), ("qwen2.5", "qwen2"),
                        ("qwen3", "qwen2")]:
        assert check_pattern(alias) == name
        assert Pretokenizer(alias).pattern == bpe.PATTERNS[name]
    # the regex text of a built-in, in any known spelling, is the built-in
    assert check_pattern(bpe.CL100K_PATTERN) == "cl100k"
    assert check_pattern(regex.compile(bpe.O200K_PATTERN)) == "o200k"


# Meta's tokenizer.json for Llama 3 and Qwen's for Qwen 2 to 3 (Split, Isolated) hold
# exactly these texts.
META_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


@pytest.mark.parametrize("text, name", [(META_LLAMA3, "llama3"), (QWEN2, "qwen2"),
                                        *EQUIVALENT_PATTERNS.items()])
def test_pattern_texts_are_read_as_their_builtin(text, name):
    """A built-in's text, in its own or another known spelling, from a file or compiled, is
    the built-in: it runs natively, and is named (saved, written to tokenizer.json) so."""
    assert pattern_from_text(text) == name
    assert check_pattern(text) == name
    assert check_pattern(regex.compile(text)) == name
    assert pattern_name(regex.compile(text)) == name
    assert Pretokenizer(text).pattern == bpe.PATTERNS[name]


# Patterns in use that look like Llama 3's or Qwen's but cut some text apart from them, each
# with the built-in it resembles: llama.cpp's contractions ('[sS] and so on: no case folding,
# so "'ſ" is no contraction), nanochat's \p{N}{1,2}, a cl100k with single digits (\s++$ kept).
NEAR_MISSES = [
    (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+"
     r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", "llama3"),
    (r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*"
     r"|\s*[\r\n]|\s+(?!\S)|\s+", "llama3"),
    (r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*+"
     r"|\s++$|\s*[\r\n]|\s+(?!\S)|\s", "qwen2"),
]


@pytest.mark.parametrize("text, resembles", NEAR_MISSES)
def test_patterns_that_differ_stay_on_the_regex_path(text, resembles):
    pre = Pretokenizer(regex.compile(text))
    assert pre.native_id is None and pattern_name(pre._regex) == text
    sample = "It'ſs 12345 x \n\n  y\n "
    assert pre.pieces(sample) == reference.pretokenize(sample, text)
    assert pre.pieces(sample) != Pretokenizer(resembles).pieces(sample)


@pytest.mark.parametrize("name", ["llama3", "qwen2"])
def test_one_character_less_is_not_the_builtin(name):
    """Recognition is by the whole text: the pattern less any one character (where that is
    still a regex) is a custom pattern, and cuts as `regex` does."""
    text, sample = bpe.PATTERNS[name], "It'ſs 12345 x \n\n  y!\n\n "
    for k in range(len(text)):
        try:
            shorter = regex.compile(text[:k] + text[k + 1:])
        except regex.error:
            continue
        pre = Pretokenizer(shorter)
        assert pre.native_id is None, text[:k] + text[k + 1:]
        assert pre.pieces(sample) == reference.pretokenize(sample, shorter.pattern)


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
