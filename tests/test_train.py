"""train_bpe / train: the CS336 fixture, the reference trainer on random corpora, bad input."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe
from bpe.counting import read_text_chunks
from bpe.formats import text_to_token

from . import reference
from .conftest import repo_file
from .strategies import documents, small_texts, specials, texts


def write(tmp_path, text: str, name="corpus.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cs336_reference_merges_and_vocab():
    vocab, merges = bpe.train_bpe(repo_file("cs336/corpus.en"), 500, ["<|endoftext|>"])
    merges_txt = repo_file("cs336/train-bpe-reference-merges.txt")
    lines = merges_txt.read_text(encoding="utf-8").splitlines()
    expected = [tuple(text_to_token(t, "reference") for t in line.split(" "))
                for line in lines if line]
    assert merges == expected
    ref = json.loads(repo_file("cs336/train-bpe-reference-vocab.json").read_text(encoding="utf-8"))
    assert set(vocab) == set(ref.values())
    assert set(vocab.values()) == {text_to_token(t, "reference") for t in ref}


def test_id_layout(tmp_path):
    path = write(tmp_path, "low lower lowest<|eot|>newest")
    vocab, merges = bpe.train_bpe(path, 262, ["<|eot|>"])
    assert [vocab[i] for i in range(256)] == [bytes([b]) for b in range(256)]
    assert [vocab[256 + k] for k in range(len(merges))] == [a + b for a, b in merges]
    assert vocab[max(vocab)] == b"<|eot|>" and len(vocab) == 262


@given(documents(), st.integers(256, 330))
def test_equals_reference_trainer(tmp_path_factory, doc, vocab_size):
    text, specials = doc
    vocab_size = max(vocab_size, 256 + len(specials))
    path = write(tmp_path_factory.mktemp("c"), text)
    assert bpe.train_bpe(path, vocab_size, specials) == reference.train(text, vocab_size, specials)


@given(st.text(st.sampled_from("aab\n 'x<>|"), max_size=200), st.integers(257, 300))
@settings(max_examples=100)     # each saves and loads a tokenizer
def test_special_tokens_of_one_byte_keep_its_id(tmp_path_factory, text, vocab_size):
    """A special token of one byte ("\n", "a") is that byte's token: no second id for the
    same bytes (which no vocab.json could hold), and the tokenizer saves and loads."""
    specials = ["\n", "<|>", "a"]
    path = write(tmp_path_factory.mktemp("c"), text)
    vocab, merges = bpe.train_bpe(path, vocab_size, specials)
    assert (vocab, merges) == reference.train(text, vocab_size, specials)
    assert len(set(vocab.values())) == len(vocab)
    tok = bpe.train(path, vocab_size, specials, progress=False)
    assert tok.special_ids == {"\n": 10, "<|>": len(vocab) - 1, "a": 97}
    folder = tmp_path_factory.mktemp("tok")
    tok.save(folder)
    assert bpe.Tokenizer.load(folder).encode(text) == tok.encode(text)


@given(st.text(st.sampled_from("aab\n 'x"), max_size=200))
def test_equals_reference_to_exhaustion(tmp_path_factory, text):
    """Ask for more merges than exist: training stops when no pair is left."""
    path = write(tmp_path_factory.mktemp("c"), text)
    assert bpe.train_bpe(path, 600, []) == reference.train(text, 600, [])


def test_train_several_files_returns_tokenizer(tmp_path):
    a = write(tmp_path, "hello hello world<|endoftext|>", "a.txt")
    b = write(tmp_path, "hello there", "b.txt")
    tok = bpe.train([a, b], 270, ["<|endoftext|>"])
    vocab, merges = reference.train("hello hello world<|endoftext|>hello there", 270,
                                    ["<|endoftext|>"])
    assert tok.vocab == vocab and tok.merges == merges
    assert tok.decode(tok.encode("hello<|endoftext|>x")) == "hello<|endoftext|>x"


def test_empty_corpus_gives_base_vocabulary(tmp_path):
    vocab, merges = bpe.train_bpe(write(tmp_path, ""), 1000, ["<|endoftext|>"])
    assert merges == [] and len(vocab) == 257 and vocab[256] == b"<|endoftext|>"


def test_only_special_tokens(tmp_path):
    _, merges = bpe.train_bpe(write(tmp_path, "<|endoftext|>" * 50), 300, ["<|endoftext|>"])
    assert merges == []


@pytest.mark.parametrize("vocab_size, specials",
                         [(255, []), (256, ["<|endoftext|>"]), (100, ["a", "b"])])
def test_vocab_size_too_small(tmp_path, vocab_size, specials):
    with pytest.raises(ValueError,
                       match=f"vocab_size={vocab_size} is smaller than the 256 byte tokens"):
        bpe.train_bpe(write(tmp_path, "abc"), vocab_size, specials)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        bpe.train_bpe(tmp_path / "nope.txt", 300)


def test_non_utf8_names_file_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("héllo ".encode() * 3 + b"\xff rest")
    with pytest.raises(ValueError, match=r"bad.txt.*byte offset 21"):
        bpe.train_bpe(path, 300)


def test_non_utf8_offset_across_read_blocks(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("aé€😀".encode() + b"xy\xc3(")
    with pytest.raises(ValueError, match=r"byte offset 12"):
        list(read_text_chunks(path, block_bytes=4))


@given(st.text(max_size=50), st.integers(1, 9))
def test_read_chunks_rejoin_for_any_block_size(tmp_path_factory, text, block):
    path = tmp_path_factory.mktemp("r") / "t.txt"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(ValueError, match="not valid UTF-8"):
            list(read_text_chunks(path, block_bytes=block))
        return
    assert "".join(read_text_chunks(path, block_bytes=block)) == text


def test_duplicate_special_tokens(tmp_path):
    with pytest.raises(ValueError, match="given twice"):
        bpe.train_bpe(write(tmp_path, "abc"), 300, ["<|endoftext|>", "<|endoftext|>"])


def test_empty_special_token(tmp_path):
    with pytest.raises(ValueError, match="non-empty str"):
        bpe.train_bpe(write(tmp_path, "abc"), 300, [""])


# --- texts in memory: train_from_iterator; train() refuses texts -----------------------------

EOT = "<|endoftext|>"


@given(st.lists(st.one_of(texts, small_texts), max_size=6), specials, st.integers(256, 330))
def test_train_from_iterator_equals_reference_on_documents(docs, tokens, vocab_size):
    """Each text is a document: the reference trainer on the texts joined by a special token."""
    tokens = [EOT, *(t for t in tokens if t != EOT)]
    vocab_size = max(vocab_size, 256 + len(tokens))
    tok = bpe.train_from_iterator(docs, vocab_size, tokens, progress=False)
    assert (tok.vocab, tok.merges) == reference.train(EOT.join(docs), vocab_size, tokens)


def test_train_from_iterator_equals_train_on_the_joined_file(tmp_path):
    stories = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    docs = stories.split(EOT)
    from_texts = bpe.train_from_iterator(docs, 400, [EOT], progress=False)
    from_file = bpe.train(write(tmp_path, EOT.join(docs)), 400, [EOT], workers=1,
                          progress=False)
    assert (from_texts.vocab, from_texts.merges) == (from_file.vocab, from_file.merges)
    assert from_texts.special_tokens == [EOT] and from_texts.pattern == "gpt2"


def test_no_piece_spans_two_texts(tmp_path):
    """Joined with nothing, "a" + "b" would be the piece "ab"; as texts they are two."""
    assert bpe.train_from_iterator(["a", "b"] * 10, 260, progress=False).merges == []
    assert bpe.train(write(tmp_path, "ab" * 10), 257, progress=False).merges == [(b"a", b"b")]


def test_train_from_iterator_takes_generators_and_batches():
    docs = ["hello world", "hello there", "low lower lowest<|endoftext|>newest"]
    expected = bpe.train_from_iterator(docs, 270, [EOT], progress=False).merges
    assert bpe.train_from_iterator(iter(docs), 270, [EOT], progress=False).merges == expected
    batches = (docs[k:k + 2] for k in range(0, len(docs), 2))  # as HF's examples pass them
    assert bpe.train_from_iterator(batches, 270, [EOT], progress=False).merges == expected
    tok = bpe.train_from_iterator(docs, 270, pattern="cl100k_base", progress=False)
    assert tok.pattern == "cl100k"


@pytest.mark.parametrize("texts, error, message", [
    ("hello world", TypeError, r"texts is one str.*pass \[text\]"),
    (b"hello", TypeError, "texts is one bytes"),
    (5, TypeError, "expected an iterable of str, got int"),
    (["ok", b"bytes"], TypeError, "texts item 1: expected a str .*got bytes"),
    ([["ok", 3]], TypeError, "texts item 0: .*got a list holding int"),
    (["ok", "ab\ud800c"], ValueError, r"texts item 1: a lone surrogate \('\\ud800'\) at "
                                      r"character 2; training reads valid Unicode only"),
    (["ok", ["a<|endoftext|>b\udc00"]], ValueError,      # the path that cuts special tokens
     r"texts item 1: a lone surrogate \('\\udc00'\) at character 15"),
])
def test_train_from_iterator_bad_texts(texts, error, message):
    with pytest.raises(error, match=message):
        bpe.train_from_iterator(texts, 260, [EOT], progress=False)


def test_train_from_iterator_checks_arguments_first():
    def never():
        raise AssertionError("texts read before the arguments were checked")
        yield ""

    with pytest.raises(ValueError, match="vocab_size=100"):
        bpe.train_from_iterator(never(), 100, progress=False)
    with pytest.raises(ValueError, match="unknown pattern name 'gtp2'"):
        bpe.train_from_iterator(never(), 300, pattern="gtp2", progress=False)
    with pytest.raises(ValueError, match="given twice"):
        bpe.train_from_iterator(never(), 300, [EOT, EOT], progress=False)


@pytest.mark.parametrize("inputs", [
    "hello world", ["hello world", "hello there"], ("hello world",), iter(["hello world"]),
])
def test_train_refuses_texts_and_points_to_train_from_iterator(inputs):
    with pytest.raises(FileNotFoundError, match=r"train\(\) takes file paths; 'hello world' is "
                                                r"not a file\. To train on texts, call "
                                                r"bpe\.train_from_iterator\(texts, \.\.\.\)"):
        bpe.train(inputs, 260, progress=False)


def test_train_errors_quote_a_long_text_briefly_and_name_other_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_from_iterator") as info:
        bpe.train(["word " * 10_000], 260, progress=False)
    assert len(str(info.value)) < 200
    with pytest.raises(TypeError, match=r"got int\..*train_from_iterator"):
        bpe.train(5, 260, progress=False)
    with pytest.raises(TypeError, match="got a bytes among them"):
        bpe.train([b"hello"], 260, progress=False)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        bpe.train(tmp_path, 260, progress=False)
    a = write(tmp_path, "hello hello")
    assert bpe.train((p for p in [a]), 257, progress=False).merges == [(b"l", b"o")]


def test_train_on_no_files_is_an_error():
    """An empty list (a glob that matched nothing) trained a vocabulary of the 256 bytes."""
    with pytest.raises(ValueError, match=r"train\(\) was given no training files"):
        bpe.train([], 300, progress=False)


def test_train_checks_sizes_before_counting(tmp_path):
    """A vocabulary past the 32-bit ids failed in the merge loop after the whole corpus was
    counted; a negative or fractional held-out size was taken as it came."""
    path = repo_file("cs336/corpus.en")
    with pytest.raises(ValueError, match="more than the 2,147,483,647 ids"):
        bpe.train(path, 2**31, progress=False)
    for size in (-1, 1.5, True, float("inf")):
        with pytest.raises(ValueError, match=r"held_out_bytes=.*expected a number of bytes"):
            bpe.train(path, 300, held_out_bytes=size, progress=False)


# --- limits: min_frequency and max_token_length (Hugging Face BpeTrainer's) --------------------

@given(documents(), st.integers(256, 330), st.integers(0, 8), st.none() | st.integers(1, 6))
def test_limits_equal_reference_trainer(tmp_path_factory, doc, vocab_size, min_frequency,
                                        max_token_length):
    text, specials = doc
    vocab_size = max(vocab_size, 256 + len(specials))
    path = write(tmp_path_factory.mktemp("c"), text)
    got = bpe.train_bpe(path, vocab_size, specials, min_frequency=min_frequency,
                        max_token_length=max_token_length)
    assert got == reference.train(text, vocab_size, specials, min_frequency=min_frequency,
                                  max_token_length=max_token_length)


@given(st.lists(small_texts, max_size=6), st.integers(257, 330), st.integers(0, 8),
       st.none() | st.integers(1, 6))
def test_train_from_iterator_limits_equal_reference(docs, vocab_size, min_frequency,
                                                    max_token_length):
    tok = bpe.train_from_iterator(docs, vocab_size, [EOT], progress=False,
                                  min_frequency=min_frequency, max_token_length=max_token_length)
    assert (tok.vocab, tok.merges) == reference.train(
        EOT.join(docs), vocab_size, [EOT], min_frequency=min_frequency,
        max_token_length=max_token_length)


def test_default_limits_are_no_limits():
    """min_frequency 0 or 1 and max_token_length None, or as long as the longest token
    trained without it, give exactly the merges of the defaults (the CS336 reference's)."""
    corpus = repo_file("cs336/corpus.en")
    default = bpe.train_bpe(corpus, 500, [EOT])
    longest = max(len(a + b) for a, b in default[1])
    for limits in [{"min_frequency": 0}, {"min_frequency": 1}, {"max_token_length": None},
                   {"max_token_length": longest}]:
        assert bpe.train_bpe(corpus, 500, [EOT], **limits) == default, limits


def test_max_token_length_bounds_every_merged_token_but_not_special_tokens():
    corpus = repo_file("cs336/corpus.en")
    default = bpe.train_bpe(corpus, 500, [EOT])
    vocab, merges = bpe.train_bpe(corpus, 500, [EOT], max_token_length=4)
    assert merges != default[1] and len(vocab) == 500      # other pairs fill the vocabulary
    assert max(len(vocab[i]) for i in range(256, 499)) == 4
    assert vocab[499] == EOT.encode() and len(vocab[499]) == 13
    assert max(len(t) for t in bpe.train_from_iterator(
        ["hello hello"] * 5, 300, progress=False, max_token_length=2).vocab.values()) == 2


def test_min_frequency_stops_with_fewer_merges(tmp_path, capsys):
    """'he' (10 times) and 'llo' (4 times): with min_frequency 5 the merges stop once the
    most frequent pair occurs fewer than 5 times; the vocabulary is smaller than asked."""
    docs = ["he"] * 10 + ["llo"] * 4
    full = bpe.train_from_iterator(docs, 300, progress=False)
    assert full.merges == [(b"h", b"e"), (b"l", b"o"), (b"l", b"lo")]
    tok = bpe.train_from_iterator(docs, 300, progress=True, min_frequency=5)
    assert tok.merges == [(b"h", b"e")] and len(tok.vocab) == 257
    assert "1 merges of 44: no pair left of count >= 5" in capsys.readouterr().err
    table = bpe.WordTable.from_counts({"he": 10, "llo": 4}, pattern="gpt2")
    assert bpe.train(table, 300, min_frequency=5, progress=False).merges == tok.merges
    path = write(tmp_path, EOT.join(docs))
    assert bpe.train(path, 300, [EOT], min_frequency=4, max_token_length=2,
                     progress=False).merges == [(b"h", b"e"), (b"l", b"o")]


@pytest.mark.parametrize("limits, error, message", [
    ({"min_frequency": -1}, ValueError, r"min_frequency=-1 is negative; expected the count"),
    ({"min_frequency": 1.5}, TypeError, r"min_frequency=1\.5 must be an int"),
    ({"min_frequency": True}, TypeError, r"min_frequency=True must be an int"),
    ({"min_frequency": None}, TypeError, r"min_frequency=None must be an int"),
    ({"max_token_length": 0}, ValueError, r"max_token_length=0; expected a number of bytes "
                                          r">= 1, or None for no limit"),
    ({"max_token_length": -3}, ValueError, r"max_token_length=-3; expected"),
    ({"max_token_length": 2.0}, TypeError, r"max_token_length=2\.0 must be an int \(bytes\) "
                                           r"or None"),
    ({"max_token_length": "4"}, TypeError, r"max_token_length='4' must be an int"),
])
def test_bad_limits_are_refused_before_counting(limits, error, message):
    def never():
        raise AssertionError("texts read before the arguments were checked")
        yield ""

    with pytest.raises(error, match=message):
        bpe.train_from_iterator(never(), 300, progress=False, **limits)
    with pytest.raises(error, match=message):       # before the paths are looked at
        bpe.train("no/such/file.txt", 300, progress=False, **limits)
    with pytest.raises(error, match=message):
        bpe.train_bpe("no/such/file.txt", 300, **limits)
    table = bpe.WordTable.from_counts({"ab": 1}, pattern="gpt2")
    with pytest.raises(error, match=message):
        bpe.train(table, 300, progress=False, **limits)


def test_limits_take_numpy_ints_and_huge_counts():
    docs = ["ab"] * 3
    assert bpe.train_from_iterator(docs, 300, progress=False, min_frequency=np.int64(3),
                                   max_token_length=np.int32(2)).merges == [(b"a", b"b")]
    assert bpe.train_from_iterator(docs, 300, progress=False, min_frequency=2**70).merges == []
    assert bpe.train_from_iterator(docs, 300, progress=False,
                                   max_token_length=2**70).merges == [(b"a", b"b")]
