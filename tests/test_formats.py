"""File formats: the GPT-2 bytes-to-unicode table, reading, writing, errors; merges derived
from tiktoken ranks encode as tiktoken does."""
import json

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe.atomic import write_files
from bpe.formats import (
    byte_to_char,
    int32s,
    merges_from_ranks,
    merges_txt_bytes,
    read_merges_txt,
    read_vocab_json,
    text_to_token,
    token_to_text,
    vocab_json_bytes,
)

from .conftest import repo_file


def test_byte_to_char_matches_gpt2_files():
    encoder = json.loads(repo_file("gpt2/encoder.json").read_text(encoding="utf-8"))
    # GPT-2's first 256 ids are the single bytes, in its table's order.
    singles = sorted((i, t) for t, i in encoder.items() if i < 256)
    assert sorted(byte_to_char()) == sorted(t for _, t in singles)
    assert byte_to_char()[ord(" ")] == "Ġ" and byte_to_char()[ord("\n")] == "Ċ"


@given(st.binary(max_size=20))
def test_token_text_round_trip(token):
    text = token_to_text(token)
    assert " " not in text and "\n" not in text
    assert text_to_token(text, "x") == token


def test_vocab_and_merges_round_trip(tmp_path):
    vocab = {i: bytes([i]) for i in range(256)} | {256: b" t", 257: b" th"}
    merges = [(b" ", b"t"), (b" t", b"h")]
    write_files(tmp_path, {"vocab.json": vocab_json_bytes(vocab),
                           "merges.txt": merges_txt_bytes(merges)})
    assert read_vocab_json(tmp_path / "vocab.json") == vocab
    assert read_merges_txt(tmp_path / "merges.txt") == merges
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_gpt2_files_load():
    assert len(read_vocab_json(repo_file("gpt2/encoder.json"))) == 50257
    assert read_merges_txt(repo_file("gpt2/vocab.bpe"))[0] == (b" ", b"t")


def test_bad_merge_line(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text("#version: 0.2\nĠ t\nonlyone\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 3: expected 'left right', got 'onlyone'"):
        read_merges_txt(path)


def test_merge_outside_alphabet(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text("a \u4e2d\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1.*not in GPT-2's bytes-to-unicode alphabet"):
        read_merges_txt(path)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"a": -1}', "expected an int >= 0"),
    ('{"a": 1, "b": 1}', "id 1 is used twice"),
])
def test_bad_vocab(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_vocab_json(path)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"vocab\.json"):
        read_vocab_json(tmp_path / "vocab.json")
    with pytest.raises(FileNotFoundError, match=r"merges\.txt"):
        read_merges_txt(tmp_path / "merges.txt")


@given(st.data())
def test_merges_from_ranks_encode_as_tiktoken(data):
    """Random vocabularies grown as BPE grows them (each token two earlier ones joined), in
    random rank order: tiktoken and the merges derived from its ranks encode every text
    alike. A token often has several splits, all at its rank, leftmost first."""
    tiktoken = pytest.importorskip("tiktoken")
    alphabet = data.draw(st.sampled_from(["ab", "abc"]))
    tokens = list(alphabet)
    for _ in range(data.draw(st.integers(1, 14))):
        joined = data.draw(st.sampled_from(tokens)) + data.draw(st.sampled_from(tokens))
        if joined not in tokens and len(joined) <= 8:
            tokens.append(joined)
    ranks = {bytes([b]): b for b in range(256)}
    for token in data.draw(st.permutations(tokens[len(alphabet):])):
        ranks[token.encode()] = len(ranks)
    pattern = r"[\s\S]+"               # one piece: the whole text
    enc = tiktoken.Encoding("random", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    tok = bpe.Tokenizer(*merges_from_ranks(ranks), pattern=regex.compile(pattern))
    for text in data.draw(st.lists(st.text(alphabet, min_size=1, max_size=40), max_size=10)):
        if text.encode() not in ranks:   # (tiktoken takes a piece that is a token whole)
            assert tok.encode(text) == enc.encode_ordinary(text), text


def test_an_id_far_past_the_tokens_is_refused(tmp_path):
    """One stray id in a small file would size every table by it (gigabytes for 10**8):
    refused, naming the id and the number of tokens, from a vocab.json, a tokenizer.json,
    tiktoken's ranks and a pickled tokenizer's tables (the constructor's check, or the
    tables'). Ids near the tokens are kept."""
    vocab = {bytes([i]): i for i in range(256)}
    path = tmp_path / "vocab.json"
    merges = tmp_path / "merges.txt"
    merges.write_text("", encoding="utf-8")
    for stray in [10**8, 2**31 - 2, 2 * 257 + 65536]:
        path.write_text(json.dumps({**{bpe.formats.token_to_text(t): i for t, i in vocab.items()},
                                    "stray": stray}), encoding="utf-8")
        with pytest.raises(ValueError, match=f"vocab id {stray} is far past the vocabulary's "
                                             r"257 tokens: ids must be below 2 \* 257"):
            bpe.Tokenizer.from_files(path, merges)
    folder = tmp_path / "hf"
    bpe.Tokenizer({i: bytes([i]) for i in range(256)}, []).save_hf(folder)
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["vocab"]["stray"] = 10**8
    (folder / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="vocab id 100000000 is far past the vocabulary's 257"):
        bpe.Tokenizer.from_hf(folder)
    tiktoken = pytest.importorskip("tiktoken")
    ranks = {bytes([i]): i for i in range(256)} | {b"ab": 10**8}
    encoding = tiktoken.Encoding("stray", pat_str=r"\S+|\s+", mergeable_ranks=ranks,
                                 special_tokens={})
    with pytest.raises(ValueError, match="vocab id 100000000 is far past the vocabulary's 257"):
        bpe.Tokenizer.from_tiktoken(encoding)
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {2 * 257 + 65535: b"ab"}, [])
    assert tok.decode([2 * 257 + 65535]) == "ab"

    state = bpe.formats.token_tables({i: bytes([i]) for i in range(256)}
                                     | {10**8: b"ab"}, []).to_state()
    with pytest.raises(ValueError, match="vocab id 100000000 is far past the vocabulary's 257"):
        bpe.formats.TokenTables.from_state(state)


@given(ids=st.lists(st.integers(0, 300), min_size=1, max_size=60),
       named=st.lists(st.integers(0, 400), max_size=60))
def test_first_unnamed_is_the_first_id_no_token_has(ids, named):
    """The kernel behind TokenTables.checked's check that merges and bytes name tokens."""
    from bpe._merge_table import first_unnamed

    have = set(ids)
    expected = next((value for value in named if value not in have), -1)
    assert first_unnamed(int32s(ids), int32s(named)) == expected
