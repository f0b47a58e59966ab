"""Tokenizer.from_pretrained: the bundled vocabularies equal tiktoken's own encodings (built
offline by tiktoken_ext from ../shared/data), with and without special tokens."""
import hashlib
import lzma
import pickle
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.pretrained import NAMES

from .conftest import official_tiktoken, shared
from .strategies import tiktoken_texts

FIXTURES = ["cs336/tinystories_sample.txt", "cs336/address.txt", "cs336/german.txt",
            "cs336/corpus.en"]


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    return bpe.Tokenizer.from_pretrained(request.param), official_tiktoken(request.param)


def test_names_and_specials(pair):
    tok, enc = pair
    assert tok.n_vocab == enc.n_vocab
    assert tok.special_ids == enc._special_tokens
    assert tok.special_tokens_set == enc.special_tokens_set
    assert tok.eot_token == enc.eot_token


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixtures_equal_tiktoken(pair, fixture):
    tok, enc = pair
    text = shared(fixture).read_text(encoding="utf-8")
    assert tok.encode(text) == enc.encode(text, allowed_special="all")
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


def test_corpus_slice_equals_tiktoken(pair):
    """2 MB of the benchmark corpus (only that much is decompressed)."""
    tok, enc = pair
    with lzma.open(shared("bench/mix.txt.xz"), "rt", encoding="utf-8") as f:
        text = f.read(2_000_000)
    assert tok.encode(text) == enc.encode(text, allowed_special="all")


specials_mixed = st.lists(st.one_of(tiktoken_texts, st.sampled_from(
    ["<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "<|endoftext", "<|"])),
    max_size=6).map("".join)


@given(text=specials_mixed)
def test_random_equals_tiktoken(pair, text):
    tok, enc = pair
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tok.encode(text) == enc.encode(text, allowed_special="all")
    assert tok.decode(tok.encode(text)) == text


def test_shared_once_per_process():
    assert bpe.Tokenizer.from_pretrained("gpt2") is bpe.Tokenizer.from_pretrained("r50k_base")


def test_unknown_name():
    with pytest.raises(ValueError, match=r"unknown pretrained tokenizer 'gpt3'.*cl100k_base"):
        bpe.Tokenizer.from_pretrained("gpt3")


@pytest.mark.parametrize("bundled, original", [
    ("encoder.json", "gpt2/encoder.json"), ("vocab.bpe", "gpt2/vocab.bpe"),
    ("cl100k_base.tiktoken.gz", "tiktoken/cl100k_base.tiktoken.gz"),
    ("o200k_base.tiktoken.gz", "tiktoken/o200k_base.tiktoken.gz")])
def test_bundled_files_are_the_originals_with_licences(bundled, original):
    folder = Path(str(resources.files("bpe.data") / "pretrained"))
    digest = hashlib.sha256((folder / bundled).read_bytes()).hexdigest()
    assert digest == hashlib.sha256(shared(original).read_bytes()).hexdigest()
    assert (folder / "LICENSE-gpt2").exists() and (folder / "LICENSE-tiktoken").exists()


def test_pickle_round_trip():
    tok = bpe.Tokenizer.from_pretrained("gpt2")
    again = pickle.loads(pickle.dumps(tok))
    assert again.encode("hello <|endoftext|> world") == tok.encode("hello <|endoftext|> world")
    assert ((again.name, again.special_ids, again.pattern)
            == (tok.name, tok.special_ids, tok.pattern))
