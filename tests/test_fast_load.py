"""Fast loading: the bundled vocabularies' precomputed tables (and the tokenizer built from
them) equal what the slow path derives from the files; the tables refuse files they were
not made from; pickling sends a bundled vocabulary by name and any other as its tables."""
import copy
import pickle
import shutil

import numpy as np
import pytest
import regex
from hypothesis import given

import bpe
from bpe import formats, pretrained
from bpe.formats import TokenTables, read_token_tables, token_tables, write_token_tables
from bpe.patterns import pattern_name

from .conftest import repo_file
from .strategies import documents, tiktoken_texts

BUNDLED = list(pretrained.PRETRAINED)


@pytest.fixture(scope="module", params=BUNDLED)
def fast_and_slow(request):
    """(from_pretrained's tokenizer, the same built by Tokenizer() from the files)."""
    name = request.param
    vocab, merges, spec = pretrained.read(name)
    slow = bpe.Tokenizer(vocab, merges, spec.special_tokens, spec.pattern, name=name)
    return bpe.Tokenizer.from_pretrained(name), slow


def assert_same(tok, other):
    assert list(tok.vocab.items()) == list(other.vocab.items())     # the order too
    assert tok.merges == other.merges
    assert tok.special_ids == other.special_ids
    assert tok.special_tokens == other.special_tokens
    assert ((pattern_name(tok.pattern), tok.name, tok.n_vocab)
            == (pattern_name(other.pattern), other.name, other.n_vocab))
    assert tok.params == other.params
    assert repr(tok) == repr(other)


@pytest.mark.parametrize("name", BUNDLED)
def test_tables_are_built(name):
    """The build (setup.py) wrote each bundled vocabulary's tables, and they are current."""
    assert pretrained.tables(name) is not None


@pytest.mark.parametrize("name", BUNDLED)
def test_tables_equal_the_derived_ones(name):
    vocab, merges, _ = pretrained.read(name)
    built, derived = pretrained.tables(name), token_tables(vocab, merges)
    for field in ("ids", "lengths", "merges", "byte_ids"):
        assert np.array_equal(getattr(built, field), getattr(derived, field)), field
        assert getattr(built, field).format == "i"     # int32, no NumPy
    assert built.blob == derived.blob
    assert built.vocab() == vocab and list(built.vocab()) == list(vocab)


def test_fast_path_equals_slow_path(fast_and_slow):
    assert_same(*fast_and_slow)


@given(text=tiktoken_texts)
def test_fast_path_encodes_as_slow_path(fast_and_slow, text):
    fast, slow = fast_and_slow
    assert fast.encode(text) == slow.encode(text)
    assert fast.encode_ordinary(text) == slow.encode_ordinary(text)
    assert fast.decode(fast.encode(text)) == text


def test_fast_path_on_fixtures(fast_and_slow):
    fast, slow = fast_and_slow
    text = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    text += "<|endoftext|>" + repo_file("cs336/german.txt").read_text(encoding="utf-8")
    assert fast.encode(text, allowed_special="all") == slow.encode(text)
    assert np.array_equal(fast.encode_to_numpy(text, allowed_special="all"),
                          slow.encode_to_numpy(text))
    ids, first = list(fast.special_ids.values()), {}
    for token, token_id in fast.special_ids.items():
        first.setdefault(token_id, token.encode())      # an id two share decodes as the first
    assert fast.decode_bytes(ids) == b"".join(first[i] for i in ids)
    assert [fast.decode_single_token_bytes(i) for i in range(300)] == [
        slow.decode_single_token_bytes(i) for i in range(300)]


def test_vocab_and_merges_are_made_once():
    tok = bpe.Tokenizer.from_pretrained("gpt2")
    assert tok.vocab is tok.vocab and tok.merges is tok.merges


def copy_gpt2_files(folder):
    for file in pretrained.PRETRAINED["gpt2"].files:
        shutil.copy(repo_file(f"gpt2/{file}"), folder / file)
    return [folder / file for file in pretrained.PRETRAINED["gpt2"].files]


def test_write_tables_writes_what_is_missing_or_stale(tmp_path):
    sources = copy_gpt2_files(tmp_path)
    assert pretrained.write_tables(tmp_path) == ["gpt2"]     # the others' files are not here
    assert pretrained.write_tables(tmp_path) == []           # current: left alone
    tables = read_token_tables(tmp_path / "gpt2.tables", sources)
    assert tables.vocab() == pretrained.tables("gpt2").vocab()
    with open(sources[1], "ab") as f:
        f.write(b"\n")
    assert pretrained.write_tables(tmp_path) == ["gpt2"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_hash_check_rejects_another_file(tmp_path):
    sources = copy_gpt2_files(tmp_path)
    pretrained.write_tables(tmp_path)
    with open(sources[1], "ab") as f:       # vocab.bpe, one byte longer
        f.write(b"\n")
    with pytest.raises(ValueError, match=r"gpt2\.tables.* do not belong to .*vocab\.bpe.*"
                                         r"sha256 [0-9a-f]{64}.*Remake them"):
        read_token_tables(tmp_path / "gpt2.tables", sources)
    with pytest.raises(ValueError, match="made from 2 files, not 1"):
        read_token_tables(tmp_path / "gpt2.tables", sources[:1])


def test_check_sees_a_change_that_keeps_the_size(tmp_path):
    """A load compares each file's size and crc32 (the build its sha256): one byte changed
    in place, the size and the modification time kept, is still caught."""
    import os

    sources = copy_gpt2_files(tmp_path)
    pretrained.write_tables(tmp_path)
    before = os.stat(sources[1])
    data = sources[1].read_bytes()
    assert data.startswith(b"#version: 0.2\n")
    sources[1].write_bytes(b"#version: 0.3\n" + data[14:])    # vocab.bpe, in place
    os.utime(sources[1], ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(sources[1]).st_size == before.st_size
    with pytest.raises(ValueError, match=r"do not belong to .*vocab\.bpe"):
        read_token_tables(tmp_path / "gpt2.tables", sources)
    assert not formats.token_tables_current(tmp_path / "gpt2.tables", sources)
    assert pretrained.write_tables(tmp_path) == ["gpt2"]
    assert read_token_tables(tmp_path / "gpt2.tables", sources).vocab() == (
        pretrained.tables("gpt2").vocab())


def test_from_pretrained_refuses_stale_tables(tmp_path, monkeypatch):
    """from_pretrained with the bundled folder holding tables made from other files: the
    clear error, not a tokenizer; with no tables there: the slow path, the same tokenizer."""
    import bpe.tokenizer

    sources = copy_gpt2_files(tmp_path)
    pretrained.write_tables(tmp_path)
    with open(sources[0], "ab") as f:
        f.write(b" ")                       # encoder.json, still the same JSON
    monkeypatch.setattr(pretrained, "_folder", lambda: tmp_path)
    monkeypatch.setattr(bpe.tokenizer, "_PRETRAINED", {})
    with pytest.raises(ValueError, match=r"do not belong to .*encoder\.json"):
        bpe.Tokenizer.from_pretrained("gpt2")
    (tmp_path / "gpt2.tables").unlink()
    assert pretrained.tables("gpt2") is None
    slow = bpe.Tokenizer.from_pretrained("gpt2")
    r50k = bpe.Tokenizer.from_pretrained("r50k_base")   # gpt2's files, tiktoken's other name
    assert r50k.name == "r50k_base"
    monkeypatch.setattr(r50k, "name", "gpt2")
    assert_same(slow, r50k)
    monkeypatch.undo()
    assert_same(slow, bpe.Tokenizer.from_pretrained("gpt2"))


def test_damaged_tables_are_refused(tmp_path):
    sources = copy_gpt2_files(tmp_path)
    path = tmp_path / "gpt2.tables"
    path.write_bytes(b"not a tables file")
    with pytest.raises(ValueError, match="cannot be read: not a bpe tables file"):
        read_token_tables(path, sources)
    tables = pretrained.tables("gpt2")
    write_token_tables(path, tables, sources)
    whole = path.read_bytes()
    for cut in (whole[:-1], whole[:40], whole + b"\0"):
        path.write_bytes(cut)
        with pytest.raises(ValueError, match=r"cannot be read: the file has \d+ bytes where"):
            read_token_tables(path, sources)
    past = formats.int32s([*tables.merges[:-1], len(tables.ids)])   # a merged id too large
    write_token_tables(path, tables._replace(merges=past), sources)
    with pytest.raises(ValueError, match="damaged: a merge or byte names an id past"):
        read_token_tables(path, sources)
    lost = formats.int32s([*tables.ids[:300], tables.ids[0], *tables.ids[301:]])
    write_token_tables(path, tables._replace(ids=lost), sources)    # no token has id 300
    with pytest.raises(ValueError, match="damaged: a merge or byte names id 300, which no"):
        read_token_tables(path, sources)
    write_token_tables(path, tables._replace(blob=tables.blob[:-1]), sources)
    with pytest.raises(ValueError, match=r"damaged: .*add up"):
        read_token_tables(path, sources)
    with pytest.raises(ValueError, match="merges must have 3 rows"):
        write_token_tables(path, tables._replace(merges=tables.merges[:2]), sources)
    state = tables.to_state()
    with pytest.raises(ValueError, match="format 99"):
        TokenTables.from_state({**state, "format": 99})
    with pytest.raises(ValueError, match="past the vocabulary"):
        TokenTables.from_state({**state, "byte_ids": np.full(256, 10**6, "<i4").tobytes()})
    no_byte = np.frombuffer(state["ids"], "<i4").copy()
    no_byte[no_byte == tables.byte_ids[65]] = 0                   # the token of b"A" is gone
    with pytest.raises(ValueError, match=f"names id {tables.byte_ids[65]}, which no token"):
        TokenTables.from_state({**state, "ids": no_byte.tobytes()})
    assert np.array_equal(TokenTables.from_state(state).merges, tables.merges)
    with pytest.raises(ValueError, match=r"damaged: .*not a whole number of int32"):
        TokenTables.from_state({**state, "ids": state["ids"][:-1]})


def test_tables_load_as_views_of_the_file(tmp_path):
    """The arrays are int32 memoryviews of the file's bytes (no copy, no NumPy), and the
    file holds exactly what the header says, little-endian."""
    sources = copy_gpt2_files(tmp_path)
    tables = pretrained.tables("gpt2")
    write_token_tables(tmp_path / "gpt2.tables", tables, sources)
    again = read_token_tables(tmp_path / "gpt2.tables", sources)
    for field in ("ids", "lengths", "merges", "byte_ids"):
        view = getattr(again, field)
        assert isinstance(view, memoryview) and view.format == "i" and view.readonly
        assert view.tolist() == getattr(tables, field).tolist()
    assert again.blob == tables.blob
    n_sources, n_tokens, n_merges = 2, len(tables.ids), len(tables.merges) // 3
    size = 32 + 48 * n_sources + 4 * (2 * n_tokens + 3 * n_merges + 256) + len(tables.blob)
    assert (tmp_path / "gpt2.tables").stat().st_size == size


def test_state_of_the_previous_version_unpickles():
    """A non-bundled tokenizer pickled by the version whose tables were NumPy arrays (the
    same state: little-endian int32 bytes, merges as three rows back to back) unpickles."""
    from bpe.tokenizer import _unpickle

    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {256: b"ab", 257: b"abc"},
                        [(b"a", b"b"), (b"ab", b"c")], ["<|endoftext|>"])
    rows = np.array([[97, 256], [98, 99], [256, 257]], dtype="<i4")
    old_state = {"format": 1, "ids": np.arange(258, dtype="<i4").tobytes(),
                 "lengths": np.array([1] * 256 + [2, 3], dtype="<i4").tobytes(),
                 "blob": bytes(range(256)) + b"ababc", "merges": rows.tobytes(),
                 "byte_ids": np.arange(256, dtype="<i4").tobytes()}
    again = _unpickle(old_state, {"<|endoftext|>": 258}, "gpt2", None)
    assert_same(again, tok)
    assert again.encode("abcab<|endoftext|>") == tok.encode("abcab<|endoftext|>") == [257, 256, 258]
    assert pickle.loads(pickle.dumps(tok)).encode("abc") == [257]
    assert TokenTables.from_state(old_state).to_state() == old_state   # the same bytes


def test_table_format_is_checked(tmp_path, monkeypatch):
    sources = copy_gpt2_files(tmp_path)
    tables = pretrained.tables("gpt2")
    monkeypatch.setattr(formats, "TABLES_FORMAT", formats.TABLES_FORMAT + 1)
    write_token_tables(tmp_path / "gpt2.tables", tables, sources)
    monkeypatch.undo()
    now = formats.TABLES_FORMAT
    with pytest.raises(ValueError, match=rf"in format {now + 1}; this bpe reads format {now}"):
        read_token_tables(tmp_path / "gpt2.tables", sources)


# --- pickling ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*BUNDLED, "r50k_base"])
def test_pickle_pretrained_by_name(name):
    tok = bpe.Tokenizer.from_pretrained(name)
    data = pickle.dumps(tok)
    assert len(data) < 200                           # the name, not the tables
    assert pickle.loads(data) is tok                 # this process's shared one
    assert copy.deepcopy(tok) is tok


def round_trip(tok):
    again = pickle.loads(pickle.dumps(tok))
    assert again is not tok
    assert_same(again, tok)
    twice = pickle.loads(pickle.dumps(again))        # from tables, pickled as tables
    assert_same(twice, tok)
    return again


def test_pickle_custom_copy_of_a_bundled_vocabulary():
    """A tokenizer equal to a bundled one, even by name, that is not from_pretrained's is
    pickled as its tables."""
    gpt2 = bpe.Tokenizer.from_pretrained("gpt2")
    tok = bpe.Tokenizer.from_tiktoken(gpt2.to_tiktoken())
    assert tok.name == "gpt2"
    again = round_trip(tok)
    assert again is not gpt2
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8")
    assert again.encode(text) == gpt2.encode(text)


@pytest.fixture(scope="module")
def trained_tables():
    return bpe.train_bpe(repo_file("cs336/tinystories_sample.txt"), 400, ["<|endoftext|>"])


@given(doc=documents())
def test_pickle_trained_tokenizer(trained_tables, doc):
    text, special = doc
    tok = bpe.Tokenizer(*trained_tables, special_tokens=special)
    again = round_trip(tok)
    assert again.encode(text) == tok.encode(text)
    assert again.encode_ordinary(text) == tok.encode_ordinary(text)
    assert again.decode(tok.encode(text)) == tok.decode(tok.encode(text))


def test_pickle_unusual_vocabulary():
    """Ids with gaps and out of order, two ids with the same bytes, special tokens by dict
    (one inside the vocabulary, one past it), a pattern with no native matcher, a name."""
    vocab = {300 - b: bytes([b]) for b in range(256)}
    vocab |= {7: b"ab", 3: b"abc", 1000: b"ab", 5: b"  ", 4: b"<s>"}
    merges = [(b"a", b"b"), (b"ab", b"c"), (b" ", b" ")]
    tok = bpe.Tokenizer(vocab, merges, special_tokens={"<s>": 4, "</s>": 2000},
                        pattern=regex.compile(r"\S+|\s+"), name="odd")
    again = round_trip(tok)
    for text in ["abc ab  abcab<s></s>", "", "x</s>  ", "ab" * 50]:
        assert again.encode(text) == tok.encode(text)
        assert again.decode(tok.encode(text)) == text
    assert again.decode([1000, 7]) == "abab"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        again.decode([6])


@pytest.fixture(scope="module")
def unpickled(fast_and_slow):
    """The slow path's tokenizer (not from_pretrained's: pickled as its tables), unpickled."""
    return round_trip(fast_and_slow[1])


def test_pickle_custom_of_bundled_vocabulary(fast_and_slow, unpickled):
    fast, _ = fast_and_slow
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8")[:20000] + "<|endoftext|>"
    assert unpickled.encode(text) == fast.encode(text, allowed_special="all")


@given(text=tiktoken_texts)
def test_unpickled_encodes_as_pretrained(fast_and_slow, unpickled, text):
    fast, _ = fast_and_slow
    assert (unpickled.encode(text, allowed_special="all")
            == fast.encode(text, allowed_special="all"))


def test_pickle_without_merges():
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], ["<|endoftext|>"])
    again = round_trip(tok)
    assert again.encode("hi<|endoftext|>") == [104, 105, 256]
    assert again.params.merges == {}
