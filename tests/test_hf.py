"""HF tokenizer.json: files we write encode in `tokenizers` exactly as we do, files HF writes
load into a Tokenizer that encodes as tiktoken does, round trips, bad input."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.hf import read_tokenizer_json, tokenizer_json_bytes, write_tokenizer_json

from .conftest import repo_file, tiktoken_pair
from .strategies import tiktoken_texts

tokenizers = pytest.importorskip("tokenizers")

FIXTURES = ["tinystories_sample.txt", "address.txt", "german.txt", "corpus.en"]
# Specials with a space and non-ASCII text: not in GPT-2's byte alphabet, so the model vocab
# holds them under their plain text.
SPECIALS = ["<|endoftext|>", "<|fin de texte|>", "<｜end▁of▁sentence｜>"]
with_specials = st.lists(st.one_of(tiktoken_texts, st.sampled_from(SPECIALS)),
                         max_size=6).map("".join)


def hf_from(tok, folder):
    return tokenizers.Tokenizer.from_file(str(tok.save_hf(folder)))


def hf_ids(hf, text):
    return hf.encode(text, add_special_tokens=False).ids


@pytest.fixture(scope="module")
def trained():
    vocab, merges = bpe.train_bpe(repo_file("cs336/corpus.en"), 500, ["<|endoftext|>"])
    return bpe.Tokenizer(vocab, merges, special_tokens=SPECIALS)


@pytest.fixture(scope="module", params=["gpt2", "trained"])
def pair(request, tmp_path_factory):
    """(bpe.Tokenizer, the tokenizers.Tokenizer loaded from the tokenizer.json we wrote)."""
    tok = request.getfixturevalue(request.param)
    return tok, hf_from(tok, tmp_path_factory.mktemp("hf"))


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_encode_like_hf(pair, name):
    tok, hf = pair
    plain = repo_file(f"cs336/{name}").read_text(encoding="utf-8")
    for text in (plain, f"{plain}<|endoftext|>{plain[:500]}<|endoftext|>"):
        ids = tok.encode(text)
        assert hf_ids(hf, text) == ids
        assert hf.decode(ids, skip_special_tokens=False) == text


@given(with_specials)
def test_random_text_encodes_like_hf(pair, text):
    tok, hf = pair
    assert hf_ids(hf, text) == tok.encode(text)


def test_cl100k_encodes_like_hf(tmp_path):
    tok, _ = tiktoken_pair("cl100k_base")
    hf = hf_from(tok, tmp_path)
    # cl100k cuts digits in threes: a pattern HF's regex engine reads differently unless
    # written for it (see bpe/hf.py).
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8") + " 1234567<|endoftext|>"
    assert hf_ids(hf, text) == tok.encode(text)
    assert read_tokenizer_json(tmp_path)[3] == "cl100k"


@pytest.mark.parametrize("name", ["gpt2", "trained"])
def test_round_trip(request, tmp_path, name):
    tok = request.getfixturevalue(name)
    path = write_tokenizer_json(tok, tmp_path / "sub" / "tok.json")
    assert path == tmp_path / "sub" / "tok.json"
    assert read_tokenizer_json(path) == (tok.vocab, tok.merges, tok.special_ids, "gpt2")
    assert [p.name for p in path.parent.iterdir()] == ["tok.json"]  # no temporary file left


def test_folder_paths(trained, tmp_path):
    assert write_tokenizer_json(trained, tmp_path) == tmp_path / "tokenizer.json"
    new = write_tokenizer_json(trained, f"{tmp_path}/new/")
    assert new == tmp_path / "new" / "tokenizer.json"
    assert new.read_bytes() == tokenizer_json_bytes(trained)
    assert read_tokenizer_json(tmp_path / "new")[2] == trained.special_ids


def test_custom_pattern_round_trip(tmp_path):
    pattern = r"\p{L}+|\p{N}|\s+|[^\s\p{L}\p{N}]+"
    vocab, merges = bpe.train_bpe(repo_file("cs336/tinystories_sample.txt"), 300, pattern=pattern)
    tok = bpe.Tokenizer(vocab, merges, pattern=pattern)
    hf = hf_from(tok, tmp_path)
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8")
    assert hf_ids(hf, text) == tok.encode(text)
    assert read_tokenizer_json(tmp_path)[3] == pattern


def test_possessive_interval_refused(trained):
    tok = bpe.Tokenizer(trained.vocab, trained.merges, pattern=r"\p{N}{1,3}+|\D+")
    with pytest.raises(ValueError, match=r"possessive \{n,m\}\+"):
        tokenizer_json_bytes(tok)


def test_special_token_clashing_with_byte_token(trained):
    # HF looks an added token up in the model vocab by its text, where "é" is byte 0xE9.
    tok = bpe.Tokenizer(trained.vocab, trained.merges, special_tokens=["é"])
    with pytest.raises(ValueError, match="both written 'é'"):
        tokenizer_json_bytes(tok)


# --- files written by `tokenizers` ------------------------------------------------------

@pytest.fixture(scope="module", params=["list merges", "string merges"])
def hf_gpt2_file(request, tmp_path_factory):
    """GPT-2 as `tokenizers` saves it: ByteLevel with its own regex, <|endoftext|> added.
    Older files write each merge as one "a b" string."""
    from tokenizers import AddedToken, decoders, models, pre_tokenizers

    hf = tokenizers.Tokenizer(models.BPE.from_file(str(repo_file("gpt2/encoder.json")),
                                                   str(repo_file("gpt2/vocab.bpe"))))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    data = json.loads(hf.to_str())
    if request.param == "string merges":
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def from_hf(hf_gpt2_file):
    _, _, special_tokens, pattern = read_tokenizer_json(hf_gpt2_file)
    assert special_tokens == {"<|endoftext|>": 50256} and pattern == "gpt2"
    return bpe.Tokenizer.from_hf(hf_gpt2_file)


@pytest.mark.parametrize("name", FIXTURES)
def test_hf_gpt2_file_encodes_like_tiktoken(from_hf, gpt2_tiktoken, name):
    text = repo_file(f"cs336/{name}").read_text(encoding="utf-8") + "<|endoftext|>"
    assert from_hf.encode(text) == gpt2_tiktoken.encode(text, allowed_special="all")


@given(with_specials)
def test_hf_gpt2_file_random_like_tiktoken(from_hf, gpt2_tiktoken, text):
    assert from_hf.encode(text) == gpt2_tiktoken.encode(text, allowed_special="all")


def test_hf_gpt2_file_reads_as_gpt2(from_hf, gpt2):
    assert from_hf.vocab == gpt2.vocab and from_hf.merges == gpt2.merges


# --- bad input --------------------------------------------------------------------------

@pytest.fixture
def small_json(trained):
    return json.loads(tokenizer_json_bytes(trained))


def write(tmp_path, data):
    path = tmp_path / "tokenizer.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_added_tokens_outside_the_model_vocab(tmp_path, small_json, trained):
    # HF numbers added tokens missing from the model vocab after it, in order.
    for text in SPECIALS:
        del small_json["model"]["vocab"][text]
    path = write(tmp_path, small_json)
    hf = tokenizers.Tokenizer.from_file(str(path))
    assert {text: hf.token_to_id(text) for text in SPECIALS} == trained.special_ids
    assert read_tokenizer_json(path) == (trained.vocab, trained.merges, trained.special_ids, "gpt2")

    small_json["added_tokens"].reverse()  # now HF would number them the other way round
    with pytest.raises(ValueError, match=r"id 501, but HF would give it 499 \(the next free id"):
        read_tokenizer_json(write(tmp_path, small_json))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json' does not exist"):
        read_tokenizer_json(tmp_path)


def test_invalid_json(tmp_path):
    with pytest.raises(ValueError, match=r"tokenizer\.json' is not valid JSON"):
        read_tokenizer_json(write(tmp_path, '{"model": '))


def edit(data, where, key, value):
    """data with data[where...][key] = value; where is a path of keys."""
    target = data
    for step in where:
        target = target[step]
    target[key] = value
    return data


@pytest.mark.parametrize("where, key, value, message", [
    ((), "normalizer", {"type": "NFC"}, "normalizer 'NFC', which would change the text"),
    (("model",), "type", "WordPiece", "expected model type 'BPE', got 'WordPiece'"),
    (("model",), "ignore_merges", True, "sets ignore_merges"),
    (("model", "vocab"), "中", 600, "'中' holds '中', which is not in GPT-2's bytes-to-unicode"),
    (("model", "vocab"), "Ġthe", 5, "id 5 is used by"),
    (("model",), "merges", [["Ġ", "t"], ["Ġ", "zq"]], r"merge 1 \['Ġ', 'zq'\] needs token 'zq'"),
    (("model",), "merges", ["Ġ t", "Ġt"], "merge 1 is 'Ġt'; expected"),
    ((), "pre_tokenizer", {"type": "Whitespace"}, "expected pre_tokenizer ByteLevel"),
    (("pre_tokenizer", "pretokenizers", 1), "add_prefix_space", True, "expected pre_tokenizer"),
    (("added_tokens", 0), "id", 7, "'<|endoftext|>' has id 7, but HF would give it 499 .its id in"),
    (("added_tokens", 0), "lstrip", True, "sets single_word, lstrip or rstrip"),
])
def test_bad_file(tmp_path, small_json, where, key, value, message):
    path = write(tmp_path, edit(small_json, where, key, value))
    with pytest.raises(ValueError, match=message) as error:
        read_tokenizer_json(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_pretrained_round_trip_through_hf(name, tmp_path):
    """Each bundled vocabulary, written for HF, encodes there as here and reads back whole."""
    tok = bpe.Tokenizer.from_pretrained(name)
    hf = hf_from(tok, tmp_path)
    text = "".join(repo_file(f"cs336/{f}").read_text(encoding="utf-8")[:20_000] for f in FIXTURES)
    text += " 1234567 <|endoftext|>\r\n\r\n  x"
    assert hf_ids(hf, text) == tok.encode(text)
    back = bpe.Tokenizer.from_hf(tmp_path)
    assert (back.vocab, back.merges, back.special_ids, back.pattern) == (
        tok.vocab, tok.merges, tok.special_ids, tok.pattern)
