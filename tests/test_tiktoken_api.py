"""The rest of tiktoken's Encoding interface on Tokenizer (bpe/tiktoken_api.py and the thin
methods over it): encode_single_token, encode_single_piece, token_byte_values,
is_special_token, max_token_value, name, decode_with_offsets, decode_batch,
decode_bytes_batch, encode_ordinary_batch and encode_with_unstable, each equal to
tiktoken's own result on the bundled vocabularies (tiktoken built offline from the same
files)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe

from .conftest import official_tiktoken, repo_file
from .strategies import texts, tiktoken_texts

tiktoken = pytest.importorskip("tiktoken")

FIXTURES = ["cs336/tinystories_sample.txt", "cs336/german.txt", "cs336/address.txt"]
SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>"]
with_specials = st.lists(st.one_of(tiktoken_texts, st.sampled_from(SPECIALS)),
                         max_size=6).map("".join)


@pytest.fixture(scope="module", params=["gpt2", "cl100k_base", "o200k_base"])
def pair(request):
    return bpe.get_encoding(request.param), official_tiktoken(request.param)


@pytest.fixture(scope="module")
def cl100k():
    return bpe.get_encoding("cl100k_base"), official_tiktoken("cl100k_base")


@pytest.fixture(scope="module")
def trained():
    vocab, merges = bpe.train_bpe(repo_file("cs336/corpus.en"), 600, ["<|endoftext|>"])
    return bpe.Tokenizer(vocab, merges, special_tokens=["<|endoftext|>"])


def outcome(function, *args, **kwargs):
    """function's result, or the type and message of the error it raised."""
    try:
        return function(*args, **kwargs)
    except (KeyError, ValueError, TypeError, UnicodeError) as e:
        return type(e).__name__


def fixture_text(name: str, limit: int = 20_000) -> str:
    return repo_file(name).read_text(encoding="utf-8")[:limit]


# --- views ------------------------------------------------------------------------------

def test_names_and_sizes(pair):
    tok, enc = pair
    assert (tok.name, tok.max_token_value, tok.n_vocab, tok.eot_token, tok.special_tokens_set) \
        == (enc.name, enc.max_token_value, enc.n_vocab, enc.eot_token, enc.special_tokens_set)


def test_r50k_base_is_named_so():
    assert bpe.get_encoding("r50k_base").name == "r50k_base"


def test_token_byte_values(pair):
    tok, enc = pair
    assert tok.token_byte_values() == enc.token_byte_values()


def test_is_special_token(pair):
    tok, enc = pair
    ids = [*range(0, tok.n_vocab, 101), *tok.special_ids.values(), tok.n_vocab, 10**9, -1]
    assert [tok.is_special_token(i) for i in ids] == [enc.is_special_token(i) for i in ids]
    with pytest.raises(TypeError, match="token_id must be an int, got str"):
        tok.is_special_token("<|endoftext|>")


def test_encode_single_token_every_token(pair):
    """Every token's bytes (and text, where they are UTF-8) give its id; special tokens
    by their text, as tiktoken."""
    tok, enc = pair
    for token_id in [*range(0, tok.n_vocab, 7), *tok.special_ids.values()]:
        if token_id not in tok.vocab:
            continue
        token = tok.decode_single_token_bytes(token_id)
        assert tok.encode_single_token(token) == enc.encode_single_token(token) == token_id
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert tok.encode_single_token(text) == enc.encode_single_token(text) == token_id


@pytest.mark.parametrize("value", ["hello world and more", b"\xff\xfe\xfd\xfc\xfb",
                                   "<|endoftext|>x", "<|endoftext", b"", ""])
def test_encode_single_token_not_a_token(pair, value):
    tok, enc = pair
    assert outcome(tok.encode_single_token, value) == outcome(enc.encode_single_token, value) \
        == "KeyError"
    with pytest.raises(KeyError, match="is not one token of this vocabulary"):
        tok.encode_single_token(value)


def test_encode_single_token_type():
    tok = bpe.get_encoding("gpt2")
    with pytest.raises(TypeError, match="encode_single_token expects str or bytes, got int"):
        tok.encode_single_token(5)
    assert tok.encode_single_token(bytearray(b"hello")) == 31373


@given(st.one_of(tiktoken_texts.filter(bool), st.binary(min_size=1, max_size=30),
                 st.sampled_from(["<|endoftext|>", " hello world", "helloqqqq"])))
@settings(max_examples=200)
def test_encode_single_piece(pair, piece):
    """One piece merged whole (no pre-tokenization, special tokens as plain text), bytes
    that are not UTF-8 included: tiktoken's _encode_single_piece."""
    tok, enc = pair
    assert tok.encode_single_piece(piece) == enc._encode_single_piece(piece)


def test_encode_single_piece_type():
    tok = bpe.get_encoding("gpt2")
    assert tok.encode_single_piece(bytearray(b"helloqqqq")) == [31373, 38227, 38227]
    assert tok.encode_single_piece("") == []
    with pytest.raises(TypeError, match="encode_single_piece expects str or bytes, got int"):
        tok.encode_single_piece(5)


# --- decoding ---------------------------------------------------------------------------

def test_decode_with_offsets_tiktoken_examples(cl100k):
    """tiktoken's own test cases (tests/test_offsets.py), tokens that split characters
    included."""
    tok, enc = cl100k
    for text in ["hello world", "hello world<|endoftext|> green cow",
                 "我非常渴望与人工智能一起工作", "நடிகர் சூர்யா", " Ġ除"]:
        ids = enc.encode(text, allowed_special="all")
        assert tok.decode_with_offsets(ids) == enc.decode_with_offsets(ids)
    assert tok.decode_with_offsets(enc.encode("hello world")) == ("hello world", [0, 5])
    assert tok.decode_with_offsets(enc.encode("நடிகர் சூர்யா"))[1] == [
        0, 0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 9, 10, 11, 12, 12]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_decode_with_offsets_fixtures(pair, fixture):
    tok, enc = pair
    ids = enc.encode(fixture_text(fixture) + "<|endoftext|>😀 中文", allowed_special="all")
    assert tok.decode_with_offsets(ids) == enc.decode_with_offsets(ids)


@given(data=st.data())
@settings(max_examples=200)
def test_decode_with_offsets_random_tokens(pair, data):
    """Random token sequences: most split characters; those that are not UTF-8 raise
    UnicodeDecodeError in both, the others (re-encoded, as tiktoken's test does) give the
    same text and offsets."""
    tok, enc = pair
    ids = data.draw(st.lists(st.one_of(st.integers(0, tok.n_vocab - 1),
                                       st.sampled_from(list(tok.special_ids.values()))),
                             max_size=20))
    ids = [i for i in ids if i in tok.vocab]
    assert outcome(tok.decode_with_offsets, ids) == outcome(enc.decode_with_offsets, ids)
    valid = enc.encode(enc.decode(ids, errors="ignore"), allowed_special="all")
    assert tok.decode_with_offsets(valid) == enc.decode_with_offsets(valid)


@given(text=tiktoken_texts)
def test_decode_with_offsets_random_text(pair, text):
    tok, enc = pair
    ids = enc.encode_ordinary(text)
    assert tok.decode_with_offsets(ids) == enc.decode_with_offsets(ids)


def test_decode_with_offsets_unknown_id(cl100k):
    tok, enc = cl100k
    assert outcome(tok.decode_with_offsets, [100261]) == outcome(enc.decode_with_offsets,
                                                                 [100261]) == "KeyError"


@given(batch=st.lists(st.lists(st.integers(0, 50_255), max_size=12), max_size=8),
       errors=st.sampled_from(["replace", "ignore", "strict", "backslashreplace"]))
@settings(max_examples=50)
def test_decode_batch(pair, batch, errors):
    tok, enc = pair
    assert outcome(tok.decode_batch, batch, errors=errors) \
        == outcome(enc.decode_batch, batch, errors=errors)
    assert tok.decode_bytes_batch(batch) == enc.decode_bytes_batch(batch)
    assert tok.decode_batch(batch, num_threads=1) == enc.decode_batch(batch, num_threads=1)


def test_decode_batch_threads_checked(cl100k):
    tok, _ = cl100k
    for method in (tok.decode_batch, tok.decode_bytes_batch):
        with pytest.raises(ValueError, match="num_threads must be a positive int, got 0"):
            method([[1]], num_threads=0)


# --- encoding ---------------------------------------------------------------------------

@given(batch=st.lists(st.one_of(tiktoken_texts, with_specials), max_size=10))
@settings(max_examples=50)
def test_encode_ordinary_batch(pair, batch):
    tok, enc = pair
    assert tok.encode_ordinary_batch(batch) == enc.encode_ordinary_batch(batch)
    assert tok.encode_ordinary_batch(batch, num_threads=1) == [tok.encode_ordinary(t)
                                                              for t in batch]


def unstable_like(tok, enc, text, **kwargs):
    """encode_with_unstable's stable tokens and its completions (in no particular order in
    tiktoken's) are equal, or both raise the same error."""
    ours, theirs = (outcome(e.encode_with_unstable, text, **kwargs) for e in (tok, enc))
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert ours[0] == theirs[0]
    assert sorted(map(tuple, ours[1])) == sorted(map(tuple, theirs[1]))
    assert ours[1] == sorted(ours[1])       # ours are sorted


# Text ending mid-word, in spaces, newlines, digits, punctuation, contractions, non-ASCII,
# special tokens; and texts that are nothing but those.
UNSTABLE_TEXTS = [
    "", "a", " ", "  ", "\t", "\n", "hello", "hello fanta", "hello ", "hello  ", "x\n ", "a\n\n",
    "hello world\n", "word   ", "12", "12345", "price: 1234567", "3.14", "I'm", "it'", "don'",
    "Hello World", "HELLO", "  !", "naïve café", "日本語のテキスト", "emoji 😀", "x \u3000",
    "abc\u00a0", "ſ", "ü", "e\u0301", "नमस्ते", "Привет мир", "foo<|endoftext|>",
    "<|endoftext|>", "foo<|endoftext|>bar ", "a <|endoftext|> b\n", "tab\t\t", "x\r\n",
    "\u2028", "a\u2029b ", "https://example.com/pa", "snake_case_na", "👍🏽",
]


@pytest.mark.parametrize("text", UNSTABLE_TEXTS)
def test_encode_with_unstable_examples(pair, text):
    tok, enc = pair
    unstable_like(tok, enc, text, allowed_special="all")
    if "<|" in text:
        unstable_like(tok, enc, text, disallowed_special=())
        unstable_like(tok, enc, text)               # tiktoken's default: specials raise


@pytest.mark.parametrize("fixture", FIXTURES)
def test_encode_with_unstable_fixture_cut_anywhere(pair, fixture):
    """A fixture's text cut at several places: mid-word, mid-space, mid-line."""
    tok, enc = pair
    text = fixture_text(fixture, 3000)
    for end in range(1, len(text), 211):
        unstable_like(tok, enc, text[:end], allowed_special="all")


@given(text=st.one_of(tiktoken_texts, with_specials))
@settings(max_examples=40)
def test_encode_with_unstable_random(pair, text):
    tok, enc = pair
    unstable_like(tok, enc, text, allowed_special="all")


@given(text=texts)
@settings(max_examples=60)
def test_encode_with_unstable_promises(trained, text):
    """tiktoken's documented promises, on a trained tokenizer (no tiktoken to compare with):
    the stable tokens' bytes start the text's, and each completion after them decodes to
    bytes that start with the text's."""
    stable, completions = trained.encode_with_unstable(text)
    data = text.encode("utf-8")
    assert stable == trained.encode(text)[:len(stable)]
    assert data.startswith(trained.decode_bytes(stable))
    for sequence in completions:
        assert trained.decode_bytes(stable + sequence).startswith(data)
    if stable != trained.encode(text):
        assert completions


def test_encode_with_unstable_lone_surrogates(cl100k):
    """Where tiktoken's encode_with_unstable raises UnicodeEncodeError on a lone surrogate,
    ours does as encode does: the surrogate counts as U+FFFD."""
    tok, enc = cl100k
    with pytest.raises(UnicodeEncodeError):
        enc.encode_with_unstable("a\ud800 b")
    unstable_like(tok, enc, "a\ufffd b")
    assert tok.encode_with_unstable("a\ud800 b") == tok.encode_with_unstable("a\ufffd b")


def test_encode_with_unstable_special_rules(cl100k):
    tok, enc = cl100k
    text = "x<|endoftext|>y<|fim_prefix|> z"
    for kwargs in [{"allowed_special": {"<|endoftext|>"}}, {"allowed_special": "all"},
                   {"disallowed_special": {"<|fim_prefix|>"}}, {}]:
        unstable_like(tok, enc, text, **kwargs)
    with pytest.raises(ValueError, match=r"disallowed special token '<\|endoftext\|>'"):
        tok.encode_with_unstable(text)
