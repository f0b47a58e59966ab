"""Tokenizer: GPT-2 against tiktoken, trained vocabularies against the reference encoder,
encode_iterable, decode, save/load, params, bad input."""
import os
import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe import tokenizer as tokenizer_module
from bpe.specials import native_specials

from . import reference
from .conftest import bench_corpus, repo_file
from .strategies import chunkings, documents, random_patterns, texts, tiktoken_texts

FIXTURES = ["tinystories_sample.txt", "address.txt", "german.txt", "corpus.en"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small trained tokenizer, plus its (vocab, merges) for the reference encoder."""
    specials = ["<|endoftext|>", "<|a|>", "<|a|><|a|>"]
    corpus = repo_file("cs336/corpus.en").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("t") / "corpus.txt"
    path.write_text(corpus[:60_000] + "<|a|> aaa aa a 'll  \n\n" * 5, encoding="utf-8")
    vocab, merges = bpe.train_bpe(path, 700, specials)
    return bpe.Tokenizer(vocab, merges, special_tokens=specials), vocab, merges, specials


@pytest.mark.parametrize("name", FIXTURES)
def test_gpt2_fixtures_equal_tiktoken(gpt2, gpt2_tiktoken, name):
    text = repo_file(f"cs336/{name}").read_text(encoding="utf-8")
    ids = gpt2.encode(text)
    assert ids == gpt2_tiktoken.encode(text, allowed_special="all")
    assert gpt2.decode(ids) == text


@given(tiktoken_texts)
def test_gpt2_random_equals_tiktoken(gpt2, gpt2_tiktoken, text):
    assert gpt2.encode(text) == gpt2_tiktoken.encode(text, allowed_special="all")


@given(st.lists(st.one_of(tiktoken_texts, st.just("<|endoftext|>")), max_size=6).map("".join))
def test_gpt2_with_special_tokens_equals_tiktoken(gpt2, gpt2_tiktoken, text):
    assert gpt2.encode(text) == gpt2_tiktoken.encode(text, allowed_special="all")


@pytest.mark.parametrize("text", [" " * 5000, "a" * 3000, "ab" * 2000, "\n" * 700 + "x",
                                  "🙂" * 500, "x" * 97, " " * 96 + "y"])
def test_long_pieces_equal_tiktoken(gpt2, gpt2_tiktoken, text):
    assert gpt2.encode(text) == gpt2_tiktoken.encode(text)


@given(documents())
def test_trained_equals_reference_encoder(trained, doc):
    tok, vocab, merges, specials = trained
    text, _ = doc
    assert tok.encode(text) == reference.encode(text, vocab, merges, specials)


def test_overlapping_special_tokens_longest_wins(trained):
    tok = trained[0]
    ids = tok.encode("x<|a|><|a|><|a|>y")
    assert ids[1:3] == [tok.special_ids["<|a|><|a|>"], tok.special_ids["<|a|>"]]
    assert tok.decode(ids) == "x<|a|><|a|><|a|>y"


@given(st.lists(st.sampled_from(["<|a|>", "<|ab|>", "<|", "<s>", "[X]", "<<s>", "aa", "é"]),
                min_size=1, max_size=4, unique=True),
       st.lists(st.sampled_from(["<|a|>", "<|ab|>", "<", "|", "a", "b", "s>", "[X", "]", "é", " "]),
                max_size=30).map("".join))
def test_special_tokens_leftmost_then_longest(specials, text):
    """Special tokens that share their first byte are found in one scan, others (a first
    byte that differs, or comes back inside a token) one by one: both take the leftmost,
    and the longest of those starting there."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], special_tokens=specials)
    alternatives = "|".join(re.escape(t) for t in sorted(specials, key=len, reverse=True))
    expected = []
    for k, part in enumerate(re.split(f"({alternatives})", text)):
        expected += [tok.special_ids[part]] if k % 2 else list(part.encode())
    assert tok.encode(text) == expected


@given(documents())
def test_encode_iterable_equals_encode(trained, doc):
    tok = trained[0]
    text, _ = doc
    assert list(tok.encode_iterable([text])) == tok.encode(text)


@given(data=st.data())
def test_encode_iterable_any_chunking(gpt2, data):
    text = data.draw(st.lists(st.one_of(texts, st.just("<|endoftext|>")), max_size=8).map("".join))
    chunks = data.draw(chunkings(text))
    assert list(gpt2.encode_iterable(chunks)) == gpt2.encode(text)


def test_encode_iterable_over_file_lines(gpt2, tmp_path):
    story = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    text = story * 400  # > 1 MB chunk
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    with open(path, encoding="utf-8") as f:
        assert list(gpt2.encode_iterable(f)) == gpt2.encode(text)


def test_encode_iterable_memory_stays_flat(tmp_path):
    """50 MB through encode_iterable: peak RSS grows far less than the input size."""
    gpt2_files = [repo_file("gpt2/encoder.json"), repo_file("gpt2/vocab.bpe")]
    path = tmp_path / "big.txt"
    line = "The quick brown fox, 1234 jumps over the lazy dog's back!  \n"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(50_000_000 // len(line) + 1):
            f.write(line)
    script = textwrap.dedent(f"""
        import resource, sys, bpe
        tok = bpe.Tokenizer.from_files({str(gpt2_files[0])!r}, {str(gpt2_files[1])!r})
        tok.encode("warm up")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        n = 0
        with open({str(path)!r}, encoding="utf-8") as f:
            for _ in tok.encode_iterable(f):
                n += 1
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(n, (after - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    n_tokens, grown_mb = map(int, out.stdout.split())
    assert n_tokens > 10_000_000
    assert grown_mb < 40, f"peak RSS grew by {grown_mb} MB while streaming 50 MB"


def test_encode_to_numpy(gpt2):
    ids = gpt2.encode_to_numpy("hello world<|endoftext|>")
    assert ids.dtype == np.uint16 and ids.tolist() == [31373, 995, 50256]


@pytest.fixture(scope="module", params=["gpt2", "cl100k_base", "o200k_base"])
def pretrained(request) -> bpe.Tokenizer:
    return bpe.Tokenizer.from_pretrained(request.param)


def test_piece_tables_pack_ids_where_the_vocabulary_fits(pretrained, tmp_path):
    """The short-piece table's ways hold 16-bit ids where every id fits (GPT-2's 50,257),
    else 32-bit ones (cl100k's and o200k's), in the table made on first use and in one
    sized for a large text: the same ids either way, from the cache or not."""
    pretrained.save(tmp_path / "tok")
    tok = bpe.Tokenizer.load(tmp_path / "tok")       # a tokenizer of its own: sized below
    text = "The quick brown fox's 12345 jumps; über straße 東京 —\n\n  indented  " * 40
    first = pretrained.encode(text)
    packed = tok.n_vocab <= 1 << 16
    assert tok.encode(text) == first == tok.encode(text)
    assert tok._piece_slots.packed == packed
    tok._size_piece_cache(1 << 40)
    assert tok._piece_slots.packed == packed and tok._piece_slots.bits == 20
    assert tok.encode(text) == first == tok.encode(text)


@given(docs=st.lists(st.tuples(documents(), st.sampled_from(["", "x\nyz 1\nw", "a.\n\n/b"])),
                     max_size=6),
       part=st.integers(1, 40), threads=st.sampled_from([2, 3, 8]),
       allowed=st.sampled_from([set(), "all"]))
def test_encode_to_numpy_on_threads_equals_one_thread(pretrained, docs, part, threads, allowed):
    """A text cut into parts (of at least `part` bytes here, a megabyte in use) and encoded
    on threads gives the ids of one encode, special tokens allowed or not."""
    text = "".join(text + end for (text, _), end in docs) + "<|endoftext|>\n" * 3
    expected = pretrained.encode_to_numpy(text, allowed_special=allowed, disallowed_special=())
    saved, tokenizer_module._PART_BYTES = tokenizer_module._PART_BYTES, part
    try:
        got = pretrained.encode_to_numpy(text, allowed_special=allowed, disallowed_special=(),
                                         num_threads=threads)
    finally:
        tokenizer_module._PART_BYTES = saved
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()


def test_encode_to_numpy_num_threads_checks_and_falls_back(gpt2, monkeypatch):
    monkeypatch.setattr(tokenizer_module, "_PART_BYTES", 4)
    text = "one line\ntwo lines\n" * 20
    expected = gpt2.encode_to_numpy(text).tolist()
    assert gpt2.encode_to_numpy(text, num_threads=2).tolist() == expected
    assert gpt2.encode_to_numpy("no newline " * 40, num_threads=2).tolist() == \
        gpt2.encode_to_numpy("no newline " * 40).tolist()       # nowhere to cut: one part
    lone = "a\ud800b\n" * 40                                    # lone surrogates: one thread
    assert gpt2.encode_to_numpy(lone, num_threads=2).tolist() == gpt2.encode(lone)
    with pytest.raises(ValueError, match=re.escape("<|endoftext|>")):   # the special check
        gpt2.encode_to_numpy(text + "<|endoftext|>", num_threads=2, disallowed_special="all")
    for bad in (0, -1, 1.5, True):
        with pytest.raises((ValueError, TypeError)):
            gpt2.encode_to_numpy(text, num_threads=bad)


@pytest.mark.parametrize("text", ["a\ud800b", "\udfff", "x\ud83d\ude00y", "\ud83d"])
def test_lone_surrogates_like_tiktoken(gpt2, gpt2_tiktoken, text):
    assert gpt2.encode(text) == gpt2_tiktoken.encode(text)


@pytest.mark.parametrize("odd", ["\x7f", "\xe9", "\u4e2d", "\U0001f600", "\ud800",
                                 "\xe9 \u4e2d", "\xe9 \U0001f600", "\u0100 \U0001f600"])
def test_str_to_utf8_at_every_offset(gpt2, gpt2_tiktoken, odd):
    """The kernel turns a str of each width into UTF-8 sixteen ASCII characters at a time:
    one odd character at every offset of an ASCII run meets each edge of those blocks."""
    for at in range(51):
        text = "ab cd" * 10
        text = text[:at] + odd + text[at:]
        if odd == "\ud800":
            assert gpt2.encode(text) == gpt2_tiktoken.encode(text)
        else:
            expected = gpt2.encode_utf8_to_numpy(text.encode("utf-8"))
            assert gpt2.encode_to_numpy(text).tolist() == expected.tolist()


@given(data=st.data())
def test_encode_iterable_surrogates_like_tiktoken(gpt2, gpt2_tiktoken, data):
    """Lone surrogates become U+FFFD and split pairs are joined, whatever the chunking."""
    parts = data.draw(st.lists(
        st.sampled_from(["a", " b", "\ud83d", "\ude00", "\ud800", "é", "x y"]), max_size=12))
    text = "".join(parts)
    chunks = data.draw(chunkings(text))
    assert list(gpt2.encode_iterable(chunks)) == gpt2_tiktoken.encode(text) == gpt2.encode(text)


def _on_four_threads(work) -> None:
    """Run work(k) for k = 0..3 on four threads at once, and wait for them."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_encode_on_threads_with_their_own_buffers(gpt2):
    """Each thread reuses its own id and UTF-8 buffers: long and short texts of every str
    width, and one with a lone surrogate (whose buffer goes back early), encoded in turn on
    four threads, never see each other's or an earlier text's bytes or ids."""
    texts = [f"word{k} é\u4e2d\U0001f600 "[: 6 + 3 * (k % 3)] * (900 * k + 1) for k in range(6)]
    texts += ["ascii only " * 3000, "a\ud800b " * 50]
    expected = [gpt2.encode(t) for t in texts]
    wrong = []

    def work(k):
        for round in range(20):
            j = (k + 3 * round) % len(texts)
            if (gpt2.encode(texts[j]) != expected[j]
                    or gpt2.encode_to_numpy(texts[j]).tolist() != expected[j]):
                wrong.append(j)

    _on_four_threads(work)
    assert not wrong
    assert expected[-1] == gpt2.encode("a\ufffdb " * 50)
    for text, ids in zip(texts[:-1], expected[:-1], strict=True):
        assert ids == gpt2.encode_utf8_to_numpy(text.encode("utf-8")).tolist()


def test_encode_rejects_bytes(gpt2):
    with pytest.raises(TypeError, match="expects str"):
        gpt2.encode(b"hello")


@given(texts)
def test_decode_round_trip(gpt2, text):
    ids = gpt2.encode(text)
    assert gpt2.decode(ids) == text
    assert gpt2.decode_bytes(ids) == text.encode("utf-8")
    assert gpt2.decode(np.array(ids)) == text


def test_decode_replaces_bad_utf8(gpt2):
    byte_id = {token: i for i, token in gpt2.vocab.items()}
    ids = [byte_id[b"a"], byte_id[b"\xe2"], byte_id[b"\x82"], byte_id[b"b"]]  # "€" cut short
    assert gpt2.decode(ids) == "a\ufffdb"
    assert gpt2.decode_bytes(ids) == b"a\xe2\x82b"


@pytest.mark.parametrize("bad", [[50257], [-1], [10**20], [1, 2, 99999]])
def test_decode_unknown_id(gpt2, bad):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        gpt2.decode(bad)


@pytest.mark.parametrize("dtype", ["<u2", "<u4", "<i4", "<i8", ">u2", "<u8"])
def test_decode_arrays_of_each_dtype(gpt2, tmp_path, dtype):
    """Arrays the gather reads in place (and others, converted), a read-only memmap too;
    an unknown id is named with its position whatever the type."""
    text = "héllo wörld 中文 😀" * 50
    ids = np.array(gpt2.encode(text), dtype=dtype)
    assert gpt2.decode(ids) == text and gpt2.decode_bytes(ids) == text.encode("utf-8")
    path = tmp_path / "ids.npy"
    np.save(path, ids)
    assert gpt2.decode(np.load(path, mmap_mode="r")) == text
    assert gpt2.decode(ids[::2]) == gpt2.decode(ids.tolist()[::2])     # not contiguous
    bad = ids.copy()
    bad[7] = 60000
    with pytest.raises(ValueError, match=f"token id {bad[7]} at position 7 is not in"):
        gpt2.decode(bad)


@given(st.lists(st.integers(0, 50256), max_size=300),
       st.sampled_from(["<u2", "<u4", "<i4", "<i8", ">u4", "<u8"]))
def test_decode_arrays_equal_joined_token_bytes(gpt2, ids, dtype):
    """Random ids (any token, so any bytes, valid UTF-8 or not) as arrays of each type:
    the gather gives the vocabulary's bytes joined, and decode their replace-decoding."""
    expected = b"".join(gpt2.vocab[i] for i in ids)
    array = np.array(ids, dtype=dtype)
    assert gpt2.decode_bytes(array) == expected
    assert gpt2.decode(array) == expected.decode("utf-8", "replace") == gpt2.decode(ids)


def test_decode_on_threads_with_their_own_buffers(gpt2):
    """Each thread reuses its own decode buffer: concurrent decodes of texts of different
    lengths never see each other's bytes."""
    texts = [f"word{k} " * (1000 * k + 1) for k in range(6)]
    ids = [np.array(gpt2.encode(t), dtype=np.uint16) for t in texts]
    wrong = []

    def work(k):
        for round in range(30):
            j = (k + round) % len(texts)
            if gpt2.decode(ids[j]) != texts[j] or gpt2.decode(ids[j].tolist()) != texts[j]:
                wrong.append(j)

    _on_four_threads(work)
    assert not wrong


def test_decode_rejects_non_ints(gpt2):
    with pytest.raises(TypeError, match="ints"):
        gpt2.decode([1.5])


def test_decode_hole_in_vocab():
    vocab = {i: bytes([i]) for i in range(256)} | {300: b"ab"}
    tok = bpe.Tokenizer(vocab, [(b"a", b"b")])
    assert tok.encode("ab") == [300]
    with pytest.raises(ValueError, match="token id 299 at position 0"):
        tok.decode([299])


def test_vocab_and_merges_are_made_again_from_tables(trained):
    """A tokenizer keeps flat tables, not the dict and list it was given; vocab and merges
    come back equal to them, in their order, the special tokens after the vocabulary's."""
    _, vocab, merges, specials = trained
    tok = bpe.Tokenizer(vocab, merges, special_tokens=specials)
    assert tok._vocab is None and tok._merges is None
    given = dict(vocab)
    for token in specials:
        if token.encode() not in given.values():
            given[max(given) + 1] = token.encode()
    assert list(tok.vocab.items()) == list(given.items())
    assert tok.merges == merges
    holes = {i: bytes([i]) for i in range(256)} | {300: b"ab", 299: b"ba"}
    tok = bpe.Tokenizer(holes, [(b"a", b"b"), (b"b", b"a")], special_tokens=["<s>"])
    assert list(tok.vocab.items()) == list((holes | {301: b"<s>"}).items())
    assert tok.merges == [(b"a", b"b"), (b"b", b"a")]


def test_special_tokens_appended_when_missing():
    vocab = {i: bytes([i]) for i in range(256)}
    tok = bpe.Tokenizer(vocab, [], special_tokens=["<|endoftext|>", "<pad>"])
    assert tok.special_ids == {"<|endoftext|>": 256, "<pad>": 257}
    assert tok.encode("a<pad>") == [97, 257]


def test_merge_naming_unknown_token():
    vocab = {i: bytes([i]) for i in range(256)}
    with pytest.raises(ValueError, match=r"merge 0 \(b'a', b'b'\) needs token b'ab'"):
        bpe.Tokenizer(vocab, [(b"a", b"b")])


def test_vocab_missing_a_byte():
    vocab = {i: bytes([i]) for i in range(255)}
    with pytest.raises(ValueError, match="no token for byte 0xff"):
        bpe.Tokenizer(vocab, [])


def test_duplicate_special_tokens():
    vocab = {i: bytes([i]) for i in range(256)}
    with pytest.raises(ValueError, match="given twice"):
        bpe.Tokenizer(vocab, [], special_tokens=["<s>", "<s>"])


def test_params(trained):
    tok, _, merges, _ = trained
    params = tok.params
    assert params.vocab == tok.vocab
    assert len(params.merges) == len(merges)
    for (a, b), new in params.merges.items():
        assert params.vocab[new] == params.vocab[a] + params.vocab[b]
    with pytest.raises(AttributeError):
        params.vocab = {}


def test_save_load_round_trip(trained, tmp_path):
    tok = trained[0]
    tok.save(tmp_path / "tok")
    loaded = bpe.Tokenizer.load(tmp_path / "tok")
    assert loaded.vocab == tok.vocab and loaded.merges == tok.merges
    assert loaded.special_tokens == tok.special_tokens
    text = "hello <|a|><|a|> world 'll\n"
    assert loaded.encode(text) == tok.encode(text)
    assert sorted(os.listdir(tmp_path / "tok")) == [
        "bpe_config.json", "merges.txt", "special_tokens_map.json", "tokenizer.json",
        "tokenizer_config.json", "vocab.json"]   # bpe's files and Hugging Face's


def test_save_load_keeps_the_special_token_rule(tmp_path):
    """A bundled vocabulary saved and loaded keeps tiktoken's rule for special text."""
    tok = bpe.Tokenizer.from_pretrained("cl100k_base")
    tok.save(tmp_path / "tok")
    loaded = bpe.Tokenizer.load(tmp_path / "tok")
    with pytest.raises(ValueError, match="disallowed special token"):
        loaded.encode("a<|endoftext|>")
    assert (loaded.encode("a<|endoftext|>", allowed_special="all")
            == tok.encode("a<|endoftext|>", allowed_special="all"))
    assert loaded.special_ids == tok.special_ids


def test_save_interrupted_leaves_old_files_whole(trained, tmp_path, monkeypatch):
    tok = trained[0]
    tok.save(tmp_path / "tok")
    before = {p.name: p.read_bytes() for p in (tmp_path / "tok").iterdir()}

    def broken_fsync(*args):
        raise OSError("disk full")

    import bpe.formats
    monkeypatch.setattr(bpe.formats.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        bpe.Tokenizer(tok.vocab, tok.merges[:3]).save(tmp_path / "tok")
    assert {p.name: p.read_bytes() for p in (tmp_path / "tok").iterdir()} == before  # no .tmp left


def test_load_missing_config(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"bpe_config\.json"):
        bpe.Tokenizer.load(tmp_path)


@pytest.mark.parametrize("name, damage, error, message", [
    ("vocab.json", None, FileNotFoundError, r"vocabulary file '.*vocab\.json' does not exist"),
    ("vocab.json", b'{"a": ', ValueError, r"vocabulary file '.*vocab\.json' is not valid JSON"),
    ("merges.txt", None, FileNotFoundError, r"merges file '.*merges\.txt' does not exist"),
    ("merges.txt", b"#version: 0.2\nonlyonetoken\n", ValueError,
     r"merges file '.*merges\.txt', line 2: expected 'left right'"),
    ("merges.txt", "#version: 0.2\nq\u20acx y\n".encode(), ValueError,
     r"merges file '.*merges\.txt', line 2: .* not in GPT-2's bytes-to-unicode alphabet"),
    ("bpe_config.json", b"{oops", ValueError, r"bpe_config\.json' is not valid JSON"),
])
def test_load_names_the_missing_or_corrupt_file(trained, tmp_path, name, damage, error, message):
    trained[0].save(tmp_path)
    if damage is None:
        (tmp_path / name).unlink()
    else:
        (tmp_path / name).write_bytes(damage)
    with pytest.raises(error, match=message):
        bpe.Tokenizer.load(tmp_path)


def test_gpt2_save_matches_original_files(gpt2, tmp_path):
    import json

    gpt2.save(tmp_path)
    original = json.loads(repo_file("gpt2/encoder.json").read_text(encoding="utf-8"))
    assert json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8")) == original
    original_merges = repo_file("gpt2/vocab.bpe").read_text(encoding="utf-8").splitlines()[1:]
    assert (tmp_path / "merges.txt").read_text(encoding="utf-8").splitlines()[1:] == original_merges


def test_save_refuses_two_ids_with_the_same_bytes(tmp_path):
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"a"}
    with pytest.raises(ValueError, match="ids 97 and 256 both hold b'a'"):
        bpe.Tokenizer(vocab, []).save(tmp_path)


@given(data=st.data(), settle=st.integers(1, 12))
def test_settled_encoding_equals_reference(trained, data, settle):
    """Settle after every few characters, so the kernel's own cut (encode_ordinary's limit) runs."""
    from bpe._ids import IdBuffer
    from bpe._piece_cache import PieceCache
    from bpe.tokenizer import _EncodeSink

    tok, vocab, merges, specials = trained
    text, _ = data.draw(documents())
    chunks = data.draw(chunkings(text))
    out = IdBuffer()
    sink = _EncodeSink(tok._table, out, PieceCache(), tok.special_ids)
    for _ in tok._pretokenizer.feed(chunks, sink, settle_chars=settle):
        pass
    assert out.to_numpy().tolist() == reference.encode(text, vocab, merges, specials)


@pytest.mark.parametrize("ids", [[np.int64(31373), np.int64(995)],
                                 np.array([31373, 995], dtype=object), (31373, 995)])
def test_decode_other_int_containers(gpt2, ids):
    assert gpt2.decode(ids) == "hello world"


@pytest.mark.parametrize("merges, message", [([(97, 98)], "merge 0 is"),
                                             ([("a", "b")], "pair of bytes")])
def test_merges_must_be_bytes(merges, message):
    with pytest.raises(ValueError, match=message):
        bpe.Tokenizer({i: bytes([i]) for i in range(256)}, merges)


def test_huge_vocab_id_is_refused():
    with pytest.raises(ValueError, match=r"must be an int in 0\.\."):
        bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {2**31: b"ab"}, [])


def test_special_token_id_far_past_the_tokens_is_refused():
    """A special token's id given by dict counts as a token id: far past the vocabulary's
    tokens it is refused (its tables would be as long as the id), naming the token; near
    them (o200k's specials leave gaps) it is kept."""
    vocab = {i: bytes([i]) for i in range(256)}
    with pytest.raises(ValueError, match=r"special token '<s>': id 2147483646 is far past "
                                         r"the vocabulary's 257 tokens"):
        bpe.Tokenizer(vocab, [], special_tokens={"<s>": 2**31 - 2})
    tok = bpe.Tokenizer(vocab, [], special_tokens={"<s>": 60_000, "<e>": 300})
    assert tok.encode("a<s>b<e>") == [97, 60_000, 98, 300]


PINNED_RELEASE_SCRIPT = """
import gc, resource
import bpe

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() >> 20

n = 1_500_000        # pinned ints: 32 bytes each, 46 MB
vocab = {i: bytes([i]) for i in range(256)} | {i: b"t%d" % i for i in range(256, n)}
start = rss_mb()
tok = bpe.Tokenizer(vocab, [])
ids = tok.encode("abc")
made = rss_mb()
kept = ids[1]
del tok, ids
gc.collect()
held = rss_mb()              # an int of the block is still held: the block stays
assert kept == 98 and kept + 1 == 99
del kept
gc.collect()
bpe.Tokenizer({i: bytes([i]) for i in range(256)}, []).encode("a")   # frees the unheld
freed = held - rss_mb()
print(made - start > 40, held - start > 40, freed > 35, made - start, held - start, freed)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or sys.version_info >= (3, 12),
                    reason="reads /proc; from 3.12 pinned ints are immortal and kept")
def test_pinned_ints_are_given_back():
    """The block of ints that encode's lists share (46 MB here) is given back once no
    tokenizer uses it and nothing holds its ints (an int taken from a list keeps it), in a
    fresh process. (A dropped tokenizer's other tables leave some memory with the
    allocator: what is measured is what comes back when the last int goes.)"""
    done = subprocess.run([sys.executable, "-c", PINNED_RELEASE_SCRIPT], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("True True True"), done.stdout


@pytest.mark.parametrize("name", FIXTURES)
def test_cl100k_o200k_fixtures_equal_tiktoken(tiktoken_encoding, name):
    tok, enc = tiktoken_encoding
    text = repo_file(f"cs336/{name}").read_text(encoding="utf-8")
    assert tok.encode(text) == enc.encode(text, allowed_special="all")


@given(st.lists(st.one_of(tiktoken_texts, st.just("<|endoftext|>")), max_size=6).map("".join))
def test_cl100k_o200k_random_equal_tiktoken(tiktoken_encoding, text):
    tok, enc = tiktoken_encoding
    assert tok.encode(text) == enc.encode(text, allowed_special="all")


@pytest.mark.parametrize("text", ["\U0003d000:a", "x\U0003d000y"])
def test_newest_unicode_follows_regex(tiktoken_encoding, text):
    """Where the Unicode versions differ, pieces follow the regex module (docs/architecture.md:
    exact to regex); tiktoken may cut otherwise. Both still round-trip."""
    import regex

    tok, _ = tiktoken_encoding
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    pieces = regex.findall(bpe.PATTERNS[tok.pattern], text)
    assert ids == [i for p in pieces for i in tok.encode(p)]


def test_cl100k_o200k_mix_corpus_equals_tiktoken(tiktoken_encoding):
    import lzma

    with lzma.open(bench_corpus(), "rt", encoding="utf-8") as f:
        text = f.read(3_000_000)
    tok, enc = tiktoken_encoding
    assert tok.encode(text) == enc.encode(text, allowed_special="all")


UTF8_EDGES = [b"\xc0\x80", b"\xc2\x80", b"\xe0\x80\x80", b"\xe0\xa0\x80", b"\xed\xa0\x80",
              b"\xed\x9f\xbf", b"\xef\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x90\x80\x80",
              b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\x80",
              b"\xe2\x82", b"<|endoftext|>", "h\u00e9llo w\u00f6rld \U0001f600".encode()]


@given(st.lists(st.one_of(st.sampled_from(UTF8_EDGES), st.binary(max_size=4),
                          st.text(max_size=5).map(str.encode)), max_size=12).map(b"".join))
def test_utf8_bytes_path_equals_text_path(gpt2, data):
    """encode_file's bytes path: valid exactly when Python's strict decoder says so (the
    kernel's own check: encode_utf8's answer), and then the ids of encode_to_numpy."""
    from bpe._encode import encode_utf8
    from bpe._ids import IdBuffer
    from bpe._piece_cache import PieceCache

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
        with pytest.raises(UnicodeDecodeError):
            gpt2.encode_utf8_to_numpy(data)
    else:
        assert gpt2.encode_utf8_to_numpy(data).tolist() == gpt2.encode(text)
    specials = native_specials(gpt2.special_tokens, gpt2.special_ids)
    valid = encode_utf8(gpt2._table, data, 0, IdBuffer(), PieceCache(), specials)
    assert valid == (text is not None)


@given(pattern=random_patterns, text=texts)
def test_any_pattern_keeps_all_text(trained, pattern, text):
    """With a custom pattern, text it does not match is encoded too (as pieces of its own):
    decode(encode(t)) == t, and the ids are the reference's."""
    _, vocab, merges, specials = trained
    tok = bpe.Tokenizer(vocab, merges, special_tokens=specials, pattern=regex.compile(pattern))
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert ids == reference.encode(text, vocab, merges, specials, pattern=pattern)


@pytest.mark.parametrize("name", ["gpt-2", "gpt4", r"\w+"])
def test_pattern_names_are_a_closed_set(name):
    """A misspelt name (or a regex written as a str) is an error, not a regex matching
    nothing, in the constructor and in training, before any counting."""
    vocab = {i: bytes([i]) for i in range(256)}
    with pytest.raises(ValueError, match=f"unknown pattern name {re.escape(repr(name))}"):
        bpe.Tokenizer(vocab, [], pattern=name)
    with pytest.raises(ValueError, match="unknown pattern name"):
        bpe.train(["/no/such/file"], 300, pattern=name)


def test_custom_pattern_saves_and_pickles(tmp_path, trained):
    import pickle

    _, vocab, merges, specials = trained
    tok = bpe.Tokenizer(vocab, merges, special_tokens=specials, pattern=regex.compile(r"\w+"))
    text = "ab, cd!<|a|> é"
    tok.save(tmp_path / "tok")
    for again in [bpe.Tokenizer.load(tmp_path / "tok"), pickle.loads(pickle.dumps(tok))]:
        assert again.pattern.pattern == r"\w+"
        assert again.encode(text) == tok.encode(text)
        assert again.decode(again.encode(text)) == text


@pytest.fixture(scope="module", params=["llama3", "qwen2"])
def open_model(request, tmp_path_factory):
    """A tokenizer trained under Llama 3's or Qwen's pattern (native), and its twin with the
    same text on the regex path: wrapped in (?:...), which no built-in spells."""
    name, specials = request.param, ["<|endoftext|>"]
    slow_pattern = regex.compile(f"(?:{bpe.PATTERNS[name]})")
    assert bpe.Pretokenizer(slow_pattern).native_id is None
    corpus = repo_file("cs336/corpus.en").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("t") / "corpus.txt"
    path.write_text(corpus[:60_000] + "<|endoftext|> 1234567 x\n \n  12\n\n " * 20,
                    encoding="utf-8")
    vocab, merges = bpe.train_bpe(path, 700, specials, pattern=name)
    assert (vocab, merges) == bpe.train_bpe(path, 700, specials, pattern=slow_pattern)
    native = bpe.Tokenizer(vocab, merges, special_tokens=specials, pattern=name)
    slow = bpe.Tokenizer(vocab, merges, special_tokens=specials, pattern=slow_pattern)
    return name, native, slow, vocab, merges, specials


@given(data=st.data())
def test_open_model_patterns_encode_as_on_the_regex_path(open_model, data):
    """Llama 3's and Qwen's patterns run natively and give the ids of the regex path and of
    the reference encoder: whole, on threads, in a batch, and streamed in any chunking."""
    name, native, slow, vocab, merges, specials = open_model
    text = data.draw(st.lists(st.one_of(texts, tiktoken_texts, st.just("<|endoftext|>"),
                                        st.sampled_from([" 1234567", "\n \n ", "x\n  ", "'S"])),
                              max_size=6).map("".join))
    ids = native.encode(text)
    assert ids == slow.encode(text)
    assert ids == reference.encode(text, vocab, merges, specials, pattern=bpe.PATTERNS[name])
    assert native.encode_batch([text, text[::-1]]) == slow.encode_batch([text, text[::-1]])
    assert native.encode_to_numpy(text, num_threads=2).tolist() == ids
    assert list(native.encode_iterable(data.draw(chunkings(text)))) == ids
