"""Tokenizer.from_pretrained: the bundled vocabularies equal tiktoken's own encodings (built
offline by tiktoken_ext from the bundled files, which it checks against its own hashes), with
and without special tokens."""
import gzip
import hashlib
import lzma
import pickle
import re
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.pretrained import NAMES

from .conftest import bench_corpus, official_tiktoken, repo_file
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
    text = repo_file(fixture).read_text(encoding="utf-8")
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert outcome(tok.encode, text) == outcome(enc.encode, text)   # tiktoken's default


def test_corpus_slice_equals_tiktoken(pair):
    """2 MB of the benchmark corpus (only that much is decompressed)."""
    tok, enc = pair
    with lzma.open(bench_corpus(), "rt", encoding="utf-8") as f:
        text = f.read(2_000_000)
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")


specials_mixed = st.lists(st.one_of(tiktoken_texts, st.sampled_from(
    ["<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "<|endoftext", "<|",
     "<|start|>", "<|message|>", "<|reserved_200018|>", "<|reserved_201087|>"])),
    max_size=6).map("".join)


@given(text=specials_mixed)
def test_random_equals_tiktoken(pair, text):
    tok, enc = pair
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert outcome(tok.encode, text) == outcome(enc.encode, text)   # tiktoken's default
    ids = tok.encode(text, allowed_special="all")
    assert tok.decode(ids) == enc.decode(ids)
    if "<|reserved_200018|>" not in text:       # o200k_harmony's: it decodes as <|endofprompt|>
        assert tok.decode(ids) == text


def outcome(encode, text):
    """encode's ids, or its ValueError's message."""
    try:
        return encode(text)
    except ValueError as e:
        return ("ValueError", str(e))


@pytest.mark.parametrize("name", NAMES)
def test_shared_once_per_process_named_as_tiktoken(name):
    """One tokenizer per name, named as tiktoken names its encoding: r50k_base is GPT-2's
    vocabulary under its own name."""
    tok = bpe.Tokenizer.from_pretrained(name)
    assert tok is bpe.Tokenizer.from_pretrained(name)
    assert tok.name == name
    if name == "r50k_base":
        gpt2 = bpe.Tokenizer.from_pretrained("gpt2")
        assert (tok.vocab, tok.merges, tok.special_ids) == (gpt2.vocab, gpt2.merges,
                                                            gpt2.special_ids)


def test_unknown_name():
    with pytest.raises(ValueError, match=r"unknown pretrained tokenizer 'gpt3'.*cl100k_base"):
        bpe.Tokenizer.from_pretrained("gpt3")


# sha256 of the official files (unzipped), as tiktoken_ext.openai_public pins them.
OFFICIAL_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    "cl100k_base.tiktoken.gz": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base.tiktoken.gz": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


@pytest.mark.parametrize("bundled", list(OFFICIAL_SHA256))
def test_bundled_files_are_the_originals_with_licences(bundled):
    folder = Path(str(resources.files("bpe.data") / "pretrained"))
    data = (folder / bundled).read_bytes()
    if bundled.endswith(".gz"):
        data = gzip.decompress(data)
    assert hashlib.sha256(data).hexdigest() == OFFICIAL_SHA256[bundled]
    assert (folder / "LICENSE-gpt2").exists() and (folder / "LICENSE-tiktoken").exists()


def test_pickle_round_trip():
    tok = bpe.Tokenizer.from_pretrained("gpt2")
    again = pickle.loads(pickle.dumps(tok))
    text = "hello <|endoftext|> world"
    assert (again.encode(text, allowed_special="all")
            == tok.encode(text, allowed_special="all"))
    assert ((again.name, again.special_ids, again.pattern)
            == (tok.name, tok.special_ids, tok.pattern))


def test_harmony_ids_shared_as_tiktoken(tmp_path):
    """o200k_harmony gives <|endofprompt|> and <|reserved_200018|> one id, which decodes to
    the first; saving, loading and pickling keep both; a tokenizer.json cannot hold them."""
    tok, enc = bpe.get_encoding("o200k_harmony"), official_tiktoken("o200k_harmony")
    both = "<|endofprompt|><|reserved_200018|>"
    assert tok.encode(both, allowed_special="all") == enc.encode(both, allowed_special="all") == [
        200018, 200018]
    assert tok.decode([200018]) == enc.decode([200018]) == "<|endofprompt|>"
    assert tok.decode_single_token_bytes(200018) == enc.decode_single_token_bytes(200018)
    assert bpe.encoding_for_model("gpt-oss-20b") is tok
    with pytest.warns(UserWarning, match="share the id 200018"):
        tok.save(tmp_path / "h")
    for back in (bpe.Tokenizer.load(tmp_path / "h"), pickle.loads(pickle.dumps(tok))):
        assert back.special_ids == tok.special_ids
        assert back.encode(both, allowed_special="all") == [200018, 200018]
        assert back.decode([200018]) == "<|endofprompt|>"
    with pytest.raises(ValueError,
                       match=re.escape("'<|endofprompt|>' and '<|reserved_200018|>' share")):
        tok.save_hf(tmp_path / "hf")
