"""The lecture's character, byte and word tokenizers and the compression ratio."""
import pytest
from hypothesis import given

import bpe

from .strategies import texts


@given(texts)
def test_character_round_trip(text):
    tok = bpe.CharacterTokenizer()
    ids = tok.encode(text)
    assert len(ids) == len(text) and tok.decode(ids) == text


@given(texts)
def test_byte_round_trip(text):
    tok = bpe.ByteTokenizer()
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids) and tok.decode(ids) == text


def test_word_tokenizer_unknown_words():
    tok = bpe.WordTokenizer.train("the cat saw the dog.", pattern=r"\w+|.")
    assert tok.id_to_word[:4] == ["<unk>", " ", "the", "cat"]  # by frequency, then first seen
    assert tok.encode("the cat") == [2, 1, 3]
    assert tok.encode("the bird")[2] == tok.unk_id
    assert tok.decode(tok.encode("the bird")) == "the <unk>"


def test_word_tokenizer_vocab_size_keeps_most_frequent():
    tok = bpe.WordTokenizer.train("a a a b b c", pattern="gpt2", vocab_size=3)
    assert tok.id_to_word == ["<unk>", " a", " b"]  # "a" and " c" are seen once


@given(texts)
def test_word_round_trip_on_its_corpus(text):
    tok = bpe.WordTokenizer.train(text, pattern="gpt2")
    assert tok.decode(tok.encode(text)) == text


def test_word_decode_bad_id():
    tok = bpe.WordTokenizer.train("a b")
    with pytest.raises(ValueError, match=r"ids must be in 0\.\.3"):
        tok.decode([7])
    with pytest.raises(ValueError):
        tok.decode([-1])


def test_decode_errors():
    with pytest.raises(ValueError, match="code points"):
        bpe.CharacterTokenizer().decode([0x110000])
    with pytest.raises(ValueError, match=r"bytes in 0\.\.255"):
        bpe.ByteTokenizer().decode([256])


def test_compression_ratio_orders_the_tokenizers(gpt2):
    text = "Hello, world! Tokenization turns strings into sequences of integers. " * 20
    byte = bpe.compression_ratio(bpe.ByteTokenizer(), text)
    char = bpe.compression_ratio(bpe.CharacterTokenizer(), text)
    word = bpe.compression_ratio(bpe.WordTokenizer.train(text, pattern="gpt2"), text)
    assert byte == 1.0 and char == 1.0
    assert word > bpe.compression_ratio(gpt2, text) > byte


def test_compression_ratio_counts_a_lone_surrogate_as_its_replacement(gpt2):
    """encode puts U+FFFD (3 bytes) where a lone surrogate is, as tiktoken does."""
    assert (bpe.compression_ratio(gpt2, "ab\ud800c")
            == bpe.compression_ratio(gpt2, "ab\ufffdc") == 6 / len(gpt2.encode("ab\ufffdc")))


def test_compression_ratio_passes_encode_options():
    """A tiktoken-style encoding refuses "<|endoftext|>" in text unless told otherwise; the
    options reach its encode."""
    enc = bpe.get_encoding("gpt2")
    text = "one story<|endoftext|>another story"
    with pytest.raises(ValueError, match="disallowed special token"):
        bpe.compression_ratio(enc, text)
    n_bytes = len(text.encode())
    assert bpe.compression_ratio(enc, text, allowed_special="all") == n_bytes / 5
    assert (bpe.compression_ratio(enc, text, disallowed_special=())
            == n_bytes / len(enc.encode_ordinary(text)))


def test_compression_ratio_empty_text():
    with pytest.raises(ValueError, match="no tokens"):
        bpe.compression_ratio(bpe.ByteTokenizer(), "")
