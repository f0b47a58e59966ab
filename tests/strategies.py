"""Hypothesis strategies for text that exercises the tricky parts of BPE and its patterns."""
from itertools import pairwise

from hypothesis import strategies as st

TRICKY = [
    " ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u3000", "'", "'s", "'ll", "'VE", "a", "b", "ab",
    "aaa", "e", "é", "e\u0301", "1", "123", "\u0663", "\u00bd", "😀", "👍🏽", "\u200d", "!", "?!",
    "中文", "Ω", "ǅ", "x", "the", " the", "<|", "|>", "A", "Ab", "\u02b0", "\u0301", "/",
    "   ", "\n\n", " \n ", "123456", "'S", "'Re",
]

chars = st.characters(exclude_categories=("Cs",))
pieces = st.one_of(st.sampled_from(TRICKY), st.text(chars, min_size=1, max_size=3))
texts = st.lists(pieces, max_size=40).map("".join)

# For comparisons with tiktoken. Its Rust regex and the `regex` module may ship different
# Unicode versions, so a code point assigned only in the newer one (U+3D000 is a letter for
# regex 2026.11 and unassigned for tiktoken 0.14) is classed differently. Code points that
# Python's own, older unicodedata already assigns are classed alike by both.
assigned_chars = st.characters(exclude_categories=("Cs", "Cn"))
tiktoken_texts = st.lists(st.one_of(st.sampled_from(TRICKY),
                                    st.text(assigned_chars, min_size=1, max_size=3)),
                          max_size=40).map("".join)
# A small alphabet gives many repeated pairs, so merges and ties happen often.
small_texts = st.text(st.sampled_from("ab c\n'é1"), max_size=60)
specials = st.lists(st.sampled_from(["<|endoftext|>", "<|a|>", "<|a|><|a|>", "<s>", "</s>",
                                     "<|endoftext|><|endoftext|>", "ab"]), unique=True, max_size=4)


@st.composite
def documents(draw):
    """(text, special_tokens): documents (some empty) joined by special tokens."""
    tokens = draw(specials)
    docs = draw(st.lists(st.one_of(texts, small_texts), max_size=6))
    if not tokens:
        return "".join(docs), tokens
    seps = draw(st.lists(st.sampled_from(tokens), min_size=len(docs), max_size=len(docs)))
    return "".join(d + s for d, s in zip(docs, seps, strict=True)), tokens


@st.composite
def chunkings(draw, text: str):
    """text cut at random places (including empty chunks)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


# Custom pre-tokenizer patterns: alternations of classes and literals under quantifiers,
# most of which leave some text unmatched.
_atoms = st.sampled_from([r"[a-z]", r"\d", r"\s", r"\p{L}", r"[^\s\p{L}]", r"ab", r"\w",
                          r"'s", r"."])
_quantifiers = st.sampled_from(["", "+", "*", "?", "{1,3}", "+?", "++"])
random_patterns = st.lists(st.tuples(_atoms, _quantifiers).map("".join), min_size=1,
                           max_size=4).map("|".join)


# Text with no newline between letters, one shape per kind of file (counting and encode_file
# must find cuts in each).
SHAPES = {
    "jsonl": '{"text": "line %d of the corpus, with a number 12"}\n',
    "csv": "%d,2,3,4.5\n",
    "code": "    x = %d\n    if x:\n        y = f(x)\n",
}


def shape_text(shape: str, lines: int) -> str:
    return "".join(SHAPES[shape] % k for k in range(lines))
