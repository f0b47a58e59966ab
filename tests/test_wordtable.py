"""WordTable layout: unique words, offsets, counts."""
from hypothesis import given
from hypothesis import strategies as st

from bpe.wordtable import WordTable


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 10**12), max_size=20))
def test_from_counts_layout(counts):
    table = WordTable.from_counts(counts)
    assert table.n_words == len(counts)
    assert table.offsets[0] == 0 and table.offsets[-1] == len(table.symbols)
    assert [table.word(i) for i in range(table.n_words)] == [w.encode() for w in counts]
    assert table.counts.tolist() == list(counts.values())
    assert table.symbols.dtype.name == "int32" and table.offsets.dtype.name == "int64"


@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(1, 100), max_size=10),
                max_size=4))
def test_merge_adds_counts(parts):
    merged = WordTable.merge(WordTable.from_counts(p) for p in parts)
    expected: dict[bytes, int] = {}
    for part in parts:
        for word, count in part.items():
            expected[word.encode()] = expected.get(word.encode(), 0) + count
    assert {merged.word(i): int(c) for i, c in enumerate(merged.counts)} == expected


def test_save_load_round_trip(tmp_path):
    table = WordTable.from_counts({"hello": 3, " world": 2, "é": 1})
    table.save(tmp_path / "counts.npz")
    loaded = WordTable.load(tmp_path / "counts.npz")
    assert [loaded.word(i) for i in range(3)] == [table.word(i) for i in range(3)]
    assert loaded.counts.tolist() == [3, 2, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["counts.npz"]


def test_load_rejects_other_files(tmp_path):
    import numpy as np
    import pytest

    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a count table"):
        WordTable.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        WordTable.load(tmp_path / "missing.npz")
    # a text file (np.load would speak of pickled data) and an empty one
    (tmp_path / "text.txt").write_text("hello world\n")
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ["text.txt", "empty.npz"]:
        with pytest.raises(ValueError, match=rf"'.*{name}' is not a count table written by "
                                             r"WordTable.save: it is not a \.npz file"):
            WordTable.load_settings(tmp_path / name)


# --- how a table was counted: pattern and special tokens, saved and checked -------------------

EOT = "<|endoftext|>"


def test_save_load_keeps_pattern_special_tokens_and_format_version(tmp_path):
    import json

    import numpy as np
    import regex

    table = WordTable.from_counts({"hello": 3}, pattern="cl100k_base", special_tokens=[EOT, "<s>"])
    assert table.settings == ("cl100k", (EOT, "<s>"))
    table.save(tmp_path / "counts.npz")
    loaded = WordTable.load(tmp_path / "counts.npz")
    assert loaded.settings == ("cl100k", (EOT, "<s>"))
    assert WordTable.load_settings(tmp_path / "counts.npz") == ("cl100k", (EOT, "<s>"))
    with np.load(tmp_path / "counts.npz") as data:
        assert json.loads(str(data["metadata"])) == {
            "format": "bpe.WordTable", "version": 1, "pattern": "cl100k",
            "special_tokens": [EOT, "<s>"]}
    custom = regex.compile(r"\w+|\s+|[^\w\s]+")
    WordTable.from_counts({"a": 1}, pattern=custom, special_tokens=[]).save(tmp_path / "c.npz")
    loaded = WordTable.load(tmp_path / "c.npz")
    assert loaded.pattern.pattern == custom.pattern and loaded.special_tokens == ()


def _old_table(path):
    """A table as saved before tables recorded how they were counted: three arrays."""
    import numpy as np

    table = WordTable.from_counts({"hello": 3, " world": 2})
    np.savez(path, symbols=table.symbols, offsets=table.offsets, counts=table.counts)


def test_a_table_without_settings_loads_with_them_unknown(tmp_path):
    import pytest

    import bpe

    _old_table(tmp_path / "old.npz")
    old = WordTable.load(tmp_path / "old.npz")
    assert old.settings == (None, None) and old.counts.tolist() == [3, 2]
    with pytest.raises(ValueError, match=r"the count table records no pattern or special tokens"
                                         r".*say what it was counted with: pattern"):
        bpe.train(old, 260, progress=False)
    tok = bpe.train(old, 260, [EOT], pattern="gpt2", progress=False)
    assert tok.special_tokens == [EOT] and tok.pattern == "gpt2"


def test_a_newer_format_version_is_refused(tmp_path):
    import json

    import numpy as np
    import pytest

    table = WordTable.from_counts({"a": 1})
    meta = {"format": "bpe.WordTable", "version": 2, "pattern": "gpt2", "special_tokens": []}
    np.savez(tmp_path / "new.npz", symbols=table.symbols, offsets=table.offsets,
             counts=table.counts, metadata=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match=r"new\.npz.*format version 2.*upgrade bpe"):
        WordTable.load(tmp_path / "new.npz")


def test_merge_refuses_tables_counted_differently():
    import pytest

    gpt2 = WordTable.from_counts({"a": 1}, pattern="gpt2", special_tokens=[EOT])
    cl100k = WordTable.from_counts({"a": 1}, pattern="cl100k", special_tokens=[EOT])
    other = WordTable.from_counts({"a": 1}, pattern="gpt2", special_tokens=["<s>"])
    unknown = WordTable.from_counts({"a": 1})
    for tables, message in [
        ([gpt2, cl100k], "count tables 0 and 1 were counted differently "
                         r"\(pattern 'gpt2' vs 'cl100k'\)"),
        ([gpt2, gpt2, other], r"tables 0 and 2 .*special tokens \['<\|endoftext\|>'\] vs "
                              r"\['<s>'\]"),
        ([gpt2, unknown], r"pattern 'gpt2' vs unknown"),
    ]:
        with pytest.raises(ValueError, match=message):
            WordTable.merge(tables)
    two = WordTable.from_counts({"a": 1}, pattern="gpt2", special_tokens=[EOT, "<s>"])
    swapped = WordTable.from_counts({"a": 2}, pattern="r50k_base", special_tokens=["<s>", EOT])
    merged = WordTable.merge([two, swapped])        # the order of special tokens counts not
    assert merged.settings == ("gpt2", (EOT, "<s>")) and merged.counts.tolist() == [3]
    assert WordTable.merge([unknown, unknown]).settings == (None, None)


def test_train_takes_pattern_and_special_tokens_from_the_table(tmp_path):
    import pytest

    import bpe
    from bpe.counting import count_files

    path = tmp_path / "a.txt"
    path.write_text("Hello world's end" + EOT + "HELLO again\r\n  x" * 20, encoding="utf-8")
    counter = count_files([path], "cl100k", [EOT], workers=1)
    table = WordTable.from_counter(counter, "cl100k", [EOT])
    tok = bpe.train(table, 300, progress=False)
    from_file = bpe.train(path, 300, [EOT], pattern="cl100k", workers=1, progress=False)
    assert tok.pattern == "cl100k" and tok.special_tokens == [EOT]
    assert (tok.vocab, tok.merges) == (from_file.vocab, from_file.merges)
    assert bpe.train(table, 300, [EOT], pattern="cl100k_base", progress=False).merges == tok.merges
    with pytest.raises(ValueError, match="pattern 'gpt2' conflicts with the count table, counted "
                                         "with pattern 'cl100k'"):
        bpe.train(table, 300, pattern="gpt2", progress=False)
    with pytest.raises(ValueError, match=r"special_tokens \['<s>'\] conflicts with the count "
                                         r"table, counted with special tokens \['<\|endoftext"):
        bpe.train(table, 300, ["<s>"], progress=False)
    with pytest.raises(ValueError, match="held_out_bytes"):
        bpe.train(table, 300, held_out_bytes=100, progress=False)
