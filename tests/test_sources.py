"""Inputs by format: formats by ending, chunks of records that cover each file whatever
the chunk size, bad records named by line or row, skipped and counted, and the errors for a
missing optional package or a corrupt stream."""
import gzip
import json
import sys
import warnings
from itertools import pairwise

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from bpe import sources
from bpe.sources import (
    BadRecordsWarning,
    Format,
    Skipped,
    Skips,
    check_input,
    decompressed_blocks,
    first_text,
    input_format,
    record_batches,
    record_chunks,
)

from .conftest import RECORD_ENDINGS, compress, write_records
from .strategies import texts


def read_all(path, chunk_bytes=1 << 30, field="text", errors="strict"):
    """(texts of every record, Skipped) of a file, chunk by chunk."""
    found, skipped = [], Skipped()
    for chunk, _ in record_chunks(str(path), input_format(path), chunk_bytes, field):
        skips = Skips()
        for batch in record_batches(chunk, field, errors, skips):
            found += batch
        skipped.add(chunk, skips.result())
    return found, skipped


@pytest.mark.parametrize("name, fmt", [
    ("a.txt", Format("text", None)), ("a", Format("text", None)),
    ("a.json", Format("text", None)), ("a.csv.xz", Format("text", None)),
    ("a.txt.gz", Format("text", "gzip")), ("A.GZ", Format("text", "gzip")),
    ("a.zst", Format("text", "zstd")), ("a.jsonl", Format("jsonl", None)),
    ("a.JSONL.gz", Format("jsonl", "gzip")), ("a.jsonl.zst", Format("jsonl", "zstd")),
    ("dir.jsonl/a.parquet", Format("parquet", None)),
])
def test_format_by_ending(name, fmt):
    assert input_format(name) == fmt
    assert fmt.plain == (fmt == Format("text", None))


@settings(max_examples=60)
@given(docs=st.lists(texts, max_size=12), chunk_bytes=st.integers(1, 80),
       ending=st.sampled_from(RECORD_ENDINGS), rows=st.integers(1, 4))
def test_chunks_hold_every_record_once_in_order(tmp_path_factory, docs, chunk_bytes, ending,
                                                rows):
    path = write_records(tmp_path_factory.mktemp("r") / f"d{ending}", docs, row_group_size=rows)
    found, skipped = read_all(path, chunk_bytes)
    assert found == docs and skipped.total == 0
    chunks = list(record_chunks(str(path), input_format(path), chunk_bytes))
    assert sum(n for _, n in chunks) == path.stat().st_size   # the progress bar's total
    if ending == ".jsonl":     # byte ranges after newlines, back to back, at least chunk_bytes
        data = path.read_bytes()
        ranges = [(c.start, c.end) for c, _ in chunks]
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(b == c for (_, b), (c, _) in pairwise(ranges))
        assert all(data[b - 1:b] == b"\n" and b - a >= chunk_bytes for a, b in ranges[:-1])


def test_parquet_batches_within_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "BATCH_ROWS", 2)
    docs = [f"doc {k}" for k in range(11)]
    path = write_records(tmp_path / "d.parquet", docs, row_group_size=4)
    chunks = list(record_chunks(str(path), input_format(path), 1))
    assert [c.groups for c, _ in chunks] == [(0,), (1,), (2,)]
    assert [c.first_row for c, _ in chunks] == [0, 4, 8]
    batches = [b for c, _ in chunks for b in record_batches(c, "text", "strict", Skips())]
    assert batches == [docs[k:k + 2] for k in (0, 2, 4, 6, 8)] + [docs[10:]]
    assert read_all(path, chunk_bytes=1 << 30)[0] == docs


def test_blank_lines_hold_no_record_and_keep_the_line_count(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('\n{"text": "a"}\n  \r\n{"text": "b"}\r\n\n{"text": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"d\.jsonl' line 6: field 'text' is a number"):
        read_all(path)


BAD_LINES = [
    (b'{"text": "a"', "not JSON (Expecting ',' delimiter at column 13)"),
    (b'["text"]', "an array, not a JSON object"),
    (b'"text"', "a string, not a JSON object"),
    (b'{"body": "a", "id": 3}', "no field 'text' (the record's fields: 'body', 'id')"),
    (b'{"text": null}', "field 'text' is null, not a string"),
    (b'{"text": ["a"]}', "field 'text' is an array, not a string"),
    (b'{"text": "caf\xc3"}', "not valid UTF-8 (byte 0xc3 at byte 14 of the line)"),
    (b'{"text": "a\\ud800b"}', "field 'text' holds a lone surrogate"),
]


@pytest.mark.parametrize("ending", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
@pytest.mark.parametrize("line, why", BAD_LINES)
def test_bad_line_named_by_file_and_line_under_any_chunking(tmp_path, ending, line, why):
    good = [json.dumps({"text": f"record {k}\n"}).encode() for k in range(30)]
    data = b"\n".join([*good[:17], line, *good[17:]]) + b"\n"
    path = tmp_path / f"d{ending}"
    path.write_bytes(compress(data, ending))
    for chunk_bytes in (1, 50, 1 << 20):
        with pytest.raises(ValueError) as e:
            read_all(path, chunk_bytes)
        assert f"d{ending}' line 18: {why}" in str(e.value)
        assert ("(errors='skip', or --errors skip on the command line, skips bad records)"
                in str(e.value))
        found, skipped = read_all(path, chunk_bytes, errors="skip")
        assert found == [f"record {k}\n" for k in range(30)]
        assert skipped.counts == {str(path): 1}
        assert skipped.first[str(path)].startswith(f"line 18: {why}")


def test_replace_reads_bad_utf8_and_lone_surrogates_as_replacement(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "caf\xc3"}\n{"text": "a\\ud800b\\ud83d\\ude00"}\n')
    assert read_all(path, errors="replace")[0] == ["caf\ufffd", "a\ufffdb😀"]
    path.write_bytes(b'{"text": "ok"}\n{"txt": "a"}\n')
    with pytest.raises(ValueError, match="line 2: no field 'text'"):
        read_all(path, errors="replace")


def test_skipped_records_are_warned_of_per_file(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    a.write_bytes(b'{"text": "x"}\nnot json\n{"text": 2}\n')
    b.write_bytes(gzip.compress(b'{"text": "y"}\n{}\n'))
    skipped = Skipped()
    for path in (a, b):
        skipped.counts.update(read_all(path, errors="skip")[1].counts)
        skipped.first.update(read_all(path, errors="skip")[1].first)
    with pytest.warns(BadRecordsWarning) as record:
        skipped.warn()
    warning = record[0].message
    assert warning.counts == {str(a): 2, str(b): 1}
    assert str(warning) == (
        f"skipped 3 bad records (errors='skip'): 2 in {str(a)!r} (the first at line 2: not "
        f"JSON (Expecting value at column 1)); 1 in {str(b)!r} (the first at line 2: no field "
        f"'text' (the record's fields: none))")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Skipped().warn()                    # nothing skipped: no warning


def test_parquet_null_and_bad_utf8_rows(tmp_path):
    data = b"ok" + b"\xffbad" + b"fine"
    offsets = pa.array([0, 2, 6, 10], pa.int32()).buffers()[1]
    column = pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(data)])
    for kind in (pa.string(), pa.large_string()):
        path = tmp_path / f"bad-{kind}.parquet"
        texts = pa.concat_arrays([pa.array(["a", None, "b"]), column]).cast(kind)
        pq.write_table(pa.table({"text": texts}), path, row_group_size=2)
        for errors in ("strict", "replace"):        # a null has no text to replace
            with pytest.raises(ValueError, match=r"row index 1: column 'text' is null, not a "):
                read_all(path, errors=errors)
        found, skipped = read_all(path, errors="skip")
        assert found == ["a", "b", "ok", "fine"] and skipped.counts == {str(path): 2}
        assert skipped.first[str(path)] == "row index 1: column 'text' is null, not a string"
        pq.write_table(pa.table({"text": texts[2:]}), path, row_group_size=2)
        with pytest.raises(ValueError, match=r"row index 2: not valid UTF-8 \(byte 0xff at "):
            read_all(path)
        assert read_all(path, errors="replace")[0] == ["b", "ok", "\ufffdbad", "fine"]


def test_parquet_column_checked_before_any_work(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"body": ["a"], "n": [1]}), path)
    with pytest.raises(ValueError, match=r"d\.parquet' has no column 'text' \(its columns: "
                                         r"'body', 'n'\); name the text column"):
        check_input(str(path), "text")
    with pytest.raises(ValueError, match=r"column 'n' of file .*d\.parquet' holds int64; "
                                         r"expected a column of strings"):
        check_input(str(path), "n")
    assert check_input(str(path), "body") == Format("parquet", None)
    assert read_all(path, field="body")[0] == ["a"]


def test_parquet_dictionary_encoded_strings(tmp_path):
    """A column of dictionary-encoded strings (pandas' categoricals) reads as its strings;
    a column of ints is refused, dictionary-encoded or not."""
    path = tmp_path / "d.parquet"
    texts = ["b", "a", None, "b", "\u00e9"] * 3
    table = pa.table({"text": pa.array(texts).dictionary_encode(),
                      "n": pa.array([1, 2, 3, 4, 5] * 3).dictionary_encode()})
    pq.write_table(table, path, row_group_size=4, store_schema=True)
    assert pa.types.is_dictionary(pq.ParquetFile(path).schema_arrow.field("text").type)
    assert check_input(str(path), "text") == Format("parquet", None)
    found, skipped = read_all(path, chunk_bytes=1, errors="skip")
    assert found == [t for t in texts if t is not None] and skipped.counts == {str(path): 3}
    with pytest.raises(ValueError, match=r"column 'n' of file .*d\.parquet' holds "
                                         r"int64; expected a column of strings"):
        check_input(str(path), "n")
    (tmp_path / "not.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"not\.parquet' is not a Parquet file"):
        check_input(str(tmp_path / "not.parquet"))


def test_missing_optional_packages_name_the_extra(tmp_path, monkeypatch):
    parquet = write_records(tmp_path / "d.parquet", ["a"])
    (tmp_path / "d.jsonl.zst").write_bytes(compress(b'{"text": "a"}\n', ".zst"))
    gz = write_records(tmp_path / "d.jsonl.gz", ["a"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)   # Python 3.14's compression.zstd
    with pytest.raises(ImportError, match=r"d\.parquet' \(Parquet\) needs the pyarrow package: "
                                          r"pip install 'bpe-exact\[parquet\]'"):
        check_input(str(parquet))
    with pytest.raises(ImportError, match=r"needs the zstandard package \(or Python 3.14's "
                                          r"compression.zstd\): pip install 'bpe-exact\[zstd\]'"):
        check_input(str(tmp_path / "d.jsonl.zst"))
    # gzip is the standard library's
    assert check_input(str(gz)).compression == "gzip" and read_all(gz)[0] == ["a"]


def test_multi_member_gzip_and_multi_frame_zstd_read_through(tmp_path):
    gz, zst = tmp_path / "d.gz", tmp_path / "d.zst"
    gz.write_bytes(gzip.compress(b"one\n") + gzip.compress(b"two\n"))
    frames = zstandard.ZstdCompressor()
    zst.write_bytes(frames.compress(b"one\n") + frames.compress(b"two\n"))
    for path, kind in [(gz, "gzip"), (zst, "zstd")]:
        blocks = list(decompressed_blocks(str(path), kind, block_bytes=3))
        assert b"".join(b for b, _ in blocks) == b"one\ntwo\n"
        assert blocks[-1][1] == path.stat().st_size


@pytest.mark.parametrize("ending, kind", [(".gz", "gzip"), (".zst", "zstd")])
def test_corrupt_or_cut_short_stream_names_the_file(tmp_path, ending, kind):
    path = tmp_path / f"d{ending}"
    whole = compress(b"some text\n" * 1000, ending)
    for data in (whole[:len(whole) // 2], b"\x00" * 40, whole[:10] + b"\xff" * 40):
        path.write_bytes(data)
        with pytest.raises(ValueError, match=rf"d\{ending}' is not a valid {kind} stream"):
            list(decompressed_blocks(str(path), kind))


def test_first_text_of_each_format(tmp_path):
    docs = ["first doc", "second\ndoc", "third"]
    for ending in RECORD_ENDINGS:
        path = write_records(tmp_path / f"d{ending}", docs)
        assert first_text(str(path), input_format(path), "text", "strict", 12) == (
            "first doc\nsecond\ndoc")
    path = tmp_path / "d.txt.zst"
    path.write_bytes(compress("héllo wörld".encode(), ".zst"))
    assert first_text(str(path), input_format(path), "text", "strict", 4) == "hél"
