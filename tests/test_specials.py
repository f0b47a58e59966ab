"""bpe/specials.py: validation, ids, tiktoken's check, and the leftmost-then-longest rule,
in Python (find_specials) and in the kernels (Specials.next_one), held equal."""
import os
import random
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.specials import (
    allowed_in,
    assign_ids,
    check_special_tokens,
    find_specials,
    first_special,
    longest_first,
    native_specials,
    overlaps_separator,
    straddles,
)

from .conftest import repo_file

# Token sets for the native searches: one first byte held nowhere else (one memchr pass),
# few tokens and more than MEMMEM_MAX (8: each candidate by a walk through sorted tokens);
# tokens that overlap, nest and repeat their first byte (a memmem pass per token); more such
# tokens than MEMMEM_MAX, of one byte and more (the walk at each candidate pair of bytes).
TOKEN_SETS = [
    ["<|endoftext|>", "<|fim|>", "<|end|>"],
    ["<|a|>", "<|ab|>", "<|b|>", "<|c|>", "<|d|>", "<|e|>", "<|f|>", "<|g|>", "<|h|>", "<x", "<"],
    ["<|a|>", "<|a|>b", "a<|", "aa", "a", "é<", "<"],
    ["<|a|>", "<|a|>b", "a<|", "aa", "a", "é<", "<", "b", "ba", "|", "é", "éé"],
]


def regex_rule(text: str, tokens: list[str]) -> list[tuple[int, str]]:
    """The rule as a regex alternation of the tokens, longest first: the slow twin."""
    pattern = re.compile("|".join(map(re.escape, longest_first(tokens))))
    return [(m.start(), m.group()) for m in pattern.finditer(text)]


def native_find_all(text: str, tokens: list[str]) -> list[tuple[int, str]]:
    """Specials.find_all's matches as (character start, token)."""
    ordered = longest_first(tokens)
    data = text.encode("utf-8")
    native = native_specials(tokens, {token: 1000 + k for k, token in enumerate(tokens)})
    return [(len(data[:at].decode("utf-8")), ordered[k]) for at, k in native.find_all(data)]


@pytest.mark.parametrize("tokens", TOKEN_SETS)
@given(data=st.data())
def test_python_and_native_search_agree(tokens, data):
    alphabet = [*tokens, *{c for t in tokens for c in t}, " ", "x"]
    text = "".join(data.draw(st.lists(st.sampled_from(alphabet), max_size=30)))
    expected = regex_rule(text, tokens)
    assert list(find_specials(text, longest_first(tokens))) == expected
    assert native_find_all(text, tokens) == expected


@pytest.mark.parametrize("tokens", TOKEN_SETS)
@given(data=st.data())
def test_native_search_stops_where_told(tokens, data):
    """find_all(buffer, stop): the matches in buffer[:stop] (a bytearray longer than the
    text, as counting's chunk buffer is), as find_specials finds them with its stop."""
    alphabet = [*tokens, *{c for t in tokens for c in t}, " ", "x"]
    text = "".join(data.draw(st.lists(st.sampled_from(alphabet), max_size=30)))
    encoded = text.encode("utf-8")
    stop = data.draw(st.integers(0, len(encoded)))
    ordered = [t.encode("utf-8") for t in longest_first(tokens)]     # native_specials' order
    native = native_specials(tokens, dict.fromkeys(tokens, 0))
    found = native.find_all(bytearray(encoded + b"<|x|>" * 3), stop)
    assert [(at, ordered[k]) for at, k in found] == list(find_specials(encoded, ordered, stop))


SMALL_ALPHABET = "ab<é"     # few characters (é of two bytes): tokens overlap, prefix each other


@given(data=st.data())
def test_many_specials_agree(data):
    """Many tokens with no one first byte (the walk through the sorted tokens), in texts
    made of them, their pieces, and single characters: the native search is the rule."""
    tokens = data.draw(st.lists(st.text(SMALL_ALPHABET, min_size=1, max_size=6), min_size=20,
                                max_size=300, unique=True))
    piece = st.sampled_from(tokens).flatmap(
        lambda token: st.tuples(st.integers(0, len(token)), st.integers(0, len(token))).map(
            lambda ends: token[min(ends):max(ends)]))
    text = "".join(data.draw(st.lists(
        st.one_of(st.sampled_from(tokens), piece, st.sampled_from([*SMALL_ALPHABET, " "])),
        max_size=60)))
    expected = list(find_specials(text, longest_first(tokens)))
    assert expected == regex_rule(text, tokens)
    assert native_find_all(text, tokens) == expected


def random_specials(count: int, rng: random.Random) -> list[str]:
    """count distinct tokens of 3 to 12 bytes, each of one alphabet (ASCII, Greek, Cyrillic,
    CJK): first bytes of every kind. None holds a space or a newline."""
    alphabets = [("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<>|[]_", 1),
                 ("αβγδεζηθικλμνξοπρστυφχψω", 2), ("абвгдежзийклмнопрстуфхцчшщ", 2),
                 ("日本語中文字漢字東京大阪", 3)]
    tokens: set[str] = set()
    while len(tokens) < count:
        alphabet, width = rng.choice(alphabets)
        tokens.add("".join(rng.choices(alphabet, k=rng.randint(-(-3 // width), 12 // width))))
    return sorted(tokens)


@pytest.mark.parametrize("first_bytes", ["varied", "one"])
def test_a_hundred_thousand_specials_encode_a_megabyte(first_bytes):
    """100,000 special tokens, with varied first bytes or all starting with "<" (held
    nowhere else), in 1 MB of text dense with them and their pieces: encode (the native
    search) cuts where find_specials does. (A memmem pass per token, or a comparison with
    each token at each "<", took seconds to minutes for this; the walk through the sorted
    tokens, milliseconds.) The text repeats a block that starts and ends with a newline,
    which no token holds, so the block's matches, shifted, are the text's: find_specials (a
    Python loop over every token for each match) runs on the block alone."""
    rng = random.Random(0)
    specials = random_specials(100_000, rng)
    if first_bytes == "one":
        specials = ["<" + token.replace("<", "") + "|" for token in specials]
        specials = sorted(set(specials) - {"<|"})
    tok = bpe.Tokenizer.from_files(repo_file("gpt2/encoder.json"), repo_file("gpt2/vocab.bpe"),
                                   special_tokens=specials)
    pieces = []
    for _ in range(150):
        token = rng.choice(specials)
        i, j = sorted(rng.sample(range(len(token) + 1), 2))
        pieces.append(rng.choice([token, token[i:j], rng.choice(token), " "]))
    block = "\n" + "".join(pieces) + "\n"
    found = list(find_specials(block, longest_first(specials)))
    copies = 1_000_000 // len(block.encode("utf-8")) + 1
    text = block * copies
    expected, pos = [], 0
    for k in range(copies):
        for at, token in found:
            at += k * len(block)
            expected += [*tok.encode_ordinary(text[pos:at]), tok.special_ids[token]]
            pos = at + len(token)
    expected += tok.encode_ordinary(text[pos:])
    assert len(found) > 30
    assert tok.encode(text) == expected


def test_longest_wins_at_one_place():
    assert list(find_specials("<|a|>b", longest_first(["<|a|>", "<|a|>b"]))) == [(0, "<|a|>b")]


def test_check_special_tokens_refuses_bad_tokens():
    assert check_special_tokens(None) == []
    with pytest.raises(ValueError, match="must be a non-empty str"):
        check_special_tokens([""])
    with pytest.raises(ValueError, match="must be a non-empty str"):
        check_special_tokens([b"<|x|>"])
    with pytest.raises(ValueError, match="is given twice"):
        check_special_tokens(["<|x|>", "<|x|>"])
    with pytest.raises(ValueError, match=r"'<\\ud800>' holds a lone surrogate"):
        check_special_tokens(["<|x|>", "<\ud800>"])


def test_assign_ids_from_a_list_and_a_dict():
    vocab = {i: bytes([i]) for i in range(256)}
    token_ids = {token: i for i, token in vocab.items()}
    assert assign_ids(["<|a|>", "a"], vocab, token_ids) == {"<|a|>": 256, "a": 97}
    assert vocab[256] == b"<|a|>"
    vocab = {i: bytes([i]) for i in range(256)}
    assert assign_ids({"<|b|>": 1000}, vocab, dict(token_ids)) == {"<|b|>": 1000}
    with pytest.raises(ValueError, match="which the vocabulary gives to"):
        assign_ids({"<|b|>": 97}, dict(vocab), dict(token_ids))
    # two may share an id, as in tiktoken: the first's bytes are the id's
    shared = dict(vocab)
    assert assign_ids({"<|b|>": 500, "<|c|>": 500}, shared, dict(token_ids)) == {
        "<|b|>": 500, "<|c|>": 500}
    assert shared[500] == b"<|b|>"


def test_allowed_in_follows_tiktoken():
    specials = ["<|endoftext|>", "<|fim|>"]
    assert allowed_in("hi", specials, None, None) == frozenset()
    assert allowed_in("<|fim|>", specials, "all", None) == frozenset(specials)
    assert allowed_in("<|endoftext|>", specials, None, ()) == frozenset()
    assert allowed_in("<|fim|>", specials, {"<|fim|>"}, None) == {"<|fim|>"}
    with pytest.raises(ValueError, match=re.escape("disallowed special token '<|endoftext|>'")):
        allowed_in("a <|endoftext|>", specials, {"<|fim|>"}, None)


def test_straddles():
    data = b"ab<|x|>cd"
    assert straddles(data, 4, [b"<|x|>"])
    assert not straddles(data, 2, [b"<|x|>"]) and not straddles(data, 7, [b"<|x|>"])


@pytest.mark.parametrize("tokens", [*TOKEN_SETS, [f"<{i}>" for i in range(9)],
                                    ["ab", "b", "x<", "<x"]])
@given(data=st.data())
def test_first_special_is_the_regex_rules_first(tokens, data):
    """first_special (a str.find pass per shared prefix) finds what the regex finds first."""
    alphabet = [*tokens, *{c for t in tokens for c in t}, " ", "x"]
    text = "".join(data.draw(st.lists(st.sampled_from(alphabet), max_size=30)))
    matches = regex_rule(text, tokens)
    assert first_special(text, frozenset(tokens)) == (matches[0][1] if matches else None)


@pytest.mark.parametrize("tokens", TOKEN_SETS)
@given(data=st.data())
def test_the_kernels_check_of_disallowed_tokens_is_tiktokens(tokens, data):
    """encode and encode_to_numpy check for disallowed special tokens in the kernel, on the
    UTF-8 they encode: they raise exactly where first_special finds one (and name it), and
    otherwise give the ids of an encode that checks nothing."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], special_tokens=tokens)
    alphabet = [*tokens, *{c for t in tokens for c in t}, " ", "x", "\ud800"]
    text = "".join(data.draw(st.lists(st.sampled_from(alphabet), max_size=30)))
    allowed = data.draw(st.sets(st.sampled_from(tokens)))
    bad = first_special(text, frozenset(tokens) - allowed)
    for encode in (tok.encode, lambda *a, **k: tok.encode_to_numpy(*a, **k).tolist()):
        if bad is not None:
            with pytest.raises(ValueError, match=re.escape(f"special token {bad!r}.")):
                encode(text, allowed_special=allowed, disallowed_special="all")
        else:
            assert encode(text, allowed_special=allowed, disallowed_special="all") == \
                tok.encode(text, allowed_special=allowed, disallowed_special=())


@pytest.mark.parametrize("tokens", TOKEN_SETS[:2])
@given(data=st.data())
def test_encode_batch_raises_for_the_first_text_holding_a_disallowed_token(tokens, data):
    """encode_batch's texts are checked in the kernel as they are encoded, on threads; the
    error is the one tiktoken's check of the texts in order gives (the first text holding a
    disallowed token, naming its first such token), whichever thread met it first."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], special_tokens=tokens)
    alphabet = [*tokens, *{c for t in tokens for c in t}, " ", "x", "\ud800"]
    words = st.lists(st.sampled_from(alphabet), max_size=12).map("".join)
    texts = data.draw(st.lists(words, max_size=12))
    allowed = data.draw(st.sets(st.sampled_from(tokens)))
    threads = data.draw(st.sampled_from([1, 2, 4]))
    refused = frozenset(tokens) - allowed
    bad = next((first_special(t, refused) for t in texts if first_special(t, refused)), None)
    if bad is not None:
        with pytest.raises(ValueError, match=re.escape(f"special token {bad!r}.")):
            tok.encode_batch(texts, num_threads=threads, allowed_special=allowed,
                             disallowed_special="all")
    else:
        assert tok.encode_batch(texts, num_threads=threads, allowed_special=allowed,
                                disallowed_special="all") == \
            [tok.encode(t, allowed_special=allowed, disallowed_special=()) for t in texts]


@pytest.mark.parametrize("argument", ["allowed_special", "disallowed_special"])
def test_a_str_is_not_a_set_of_special_tokens(argument):
    """"<|endoftext|>" as a set would be its characters."""
    with pytest.raises(TypeError, match=r"write \{'<\|endoftext\|>'\} for a set of one"):
        allowed_in("hi", ["<|endoftext|>"], **{"allowed_special": None, "disallowed_special": None,
                                               argument: "<|endoftext|>"})


def test_special_tokens_given_as_a_str_or_a_set():
    """A str is not a list of one-character tokens; a set gets the same ids in every run."""
    with pytest.raises(TypeError, match=r"write \['<eot>'\] for a list of one"):
        check_special_tokens("<eot>")
    assert check_special_tokens({"<b>", "<a>", "<c>"}) == ["<a>", "<b>", "<c>"]
    script = ("import bpe; print(bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], "
              "special_tokens=set('<%d>' % i for i in range(20))).special_ids)")
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
            for seed in range(4)}
    assert len(runs) == 1


_tokens = st.lists(st.text("ab<", min_size=1, max_size=4), min_size=1, max_size=4, unique=True)


def _split(text: str, tokens: list[str]) -> list[tuple[int, str]]:
    return list(find_specials(text, longest_first(tokens)))


def _cut_alone(x: str, separator: str, y: str, tokens: list[str]) -> bool:
    """Whether x + separator + y is cut as x alone, the separator, y alone."""
    shifted = [(at + len(x) + len(separator), t) for at, t in _split(y, tokens)]
    return (_split(x + separator + y, tokens)
            == [*_split(x, tokens), (len(x), separator), *shifted])


@given(tokens=_tokens, pick=st.integers(0, 3), x=st.text("ab<", max_size=6),
       y=st.text("ab<", max_size=6))
def test_a_separator_nothing_overlaps_cuts_texts_as_alone(tokens, pick, x, y):
    """The rule's oracle: with no token overlapping the separator, any two texts joined by
    it are cut as each alone; a token said to overlap does join some two texts."""
    separator = tokens[pick % len(tokens)]
    overlap = overlaps_separator(separator, tokens)
    if overlap is None:
        assert _cut_alone(x, separator, y, tokens)
    else:
        pieces = [overlap[:i] for i in range(len(overlap) + 1)]
        ends = [overlap[i:] for i in range(len(overlap) + 1)]
        assert not all(_cut_alone(a, separator, b, tokens) for a in pieces for b in ends)


def test_overlaps_separator_on_real_tokens():
    cl100k = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
              "<|endofprompt|>"]
    assert overlaps_separator("<|endoftext|>", cl100k) is None
    assert overlaps_separator("<|endoftext|>", ["<|endoftext|>", "<s>", "</s>", "\n"]) is None
    for token in ["<|endoftext|><|endoftext|>", "!<|endoftext|>", "<|endoftext|>!", "x<|end"]:
        assert overlaps_separator("<|endoftext|>", ["<|endoftext|>", token]) == token
    assert overlaps_separator("<|endoftext|>", ["<|endoftext|>", "|>x", "text"]) is None
    assert overlaps_separator("aa", ["aa"]) == "aa"    # a separator that overlaps itself
