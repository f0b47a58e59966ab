"""Sharded encoding (bpe.shards): the shards concatenate to encode_file's single file, on
threads, on any executor and on a real Dask cluster; open_shards reads them as one
sequence; errors leave no manifest and no shards."""
import json
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe
from bpe.dataset import encode_file
from bpe.shards import MANIFEST, ShardedIds, open_shards

from .conftest import repo_file
from .strategies import documents

EOT = "<|endoftext|>"


def write_texts(folder, texts: list[str]) -> list:
    paths = [folder / f"{k}.txt" for k in range(len(texts))]
    for path, text in zip(paths, texts, strict=True):
        path.write_bytes(text.encode("utf-8"))
    return paths


def same_as_one_file(tok, paths, folder, **kwargs) -> ShardedIds:
    """Encode paths to shards and to one .npy; both the same, and the manifest true."""
    one = encode_file(tok, paths, folder / "one.npy", workers=1)
    result = encode_file(tok, paths, folder / "shards", **kwargs)
    ids = open_shards(result.manifest)
    assert np.array_equal(np.asarray(ids), np.load(one.ids))
    assert np.array_equal(ids.offsets, np.load(one.offsets))
    assert (result.n_tokens, result.n_documents) == (one.n_tokens, one.n_documents)
    assert (len(ids), ids.n_documents, ids.dtype) == (one.n_tokens, one.n_documents, one.dtype)
    manifest = json.loads(result.manifest.read_text())
    assert [s["path"] for s in manifest["shards"]] == [p.name for p in result.shards]
    assert sum(s["n_documents"] for s in manifest["shards"]) == one.n_documents
    assert sum(s["n_tokens"] for s in manifest["shards"]) == one.n_tokens
    assert manifest["n_vocab"] == tok.n_vocab and manifest["tokenizer"] == tok.name
    assert sorted(p.name for p in (folder / "shards").iterdir()) == sorted(
        [MANIFEST, "offsets.npy", *(p.name for p in result.shards)])
    return ids


@settings(max_examples=30, deadline=None)
@given(docs=st.lists(st.tuples(documents(), st.sampled_from(["", "x\nyz 1\nw", EOT])),
                     min_size=1, max_size=3),
       shard_bytes=st.integers(1, 200), chunk_bytes=st.integers(1, 64),
       workers=st.sampled_from([1, 2, 4]), shard_format=st.sampled_from(["npy", "bin"]))
def test_shards_are_the_single_file_cut(tmp_path_factory, gpt2, docs, shard_bytes, chunk_bytes,
                                        workers, shard_format):
    folder = tmp_path_factory.mktemp("d")
    paths = write_texts(folder, ["ab\ncd ef\ngh " * 5 + text + end for (text, _), end in docs])
    ids = same_as_one_file(gpt2, paths, folder, workers=workers, shard_bytes=shard_bytes,
                           chunk_bytes=chunk_bytes, shard_format=shard_format)
    assert all(e["path"].endswith(f".{shard_format}") for e in ids.fields["shards"])


def test_the_default_shard_size_gives_every_thread_work(gpt2, tmp_path):
    """A quarter of each thread's share of the text (here, of 140 KB on 2 threads), and no
    less than a chunk."""
    paths = write_texts(tmp_path, [f"document {k} is here.{EOT}" * 2000 for k in range(2)])
    assert len(same_as_one_file(gpt2, paths, tmp_path, workers=2, chunk_bytes=1000).shards) == 8
    ids = encode_file(gpt2, paths, tmp_path / "big", workers=2, chunk_bytes=100_000)
    assert len(ids.shards) == 2


def test_a_process_pool_as_executor(gpt2, tmp_path):
    """Tasks pickle the tokenizer and write their shards themselves."""
    path = repo_file("cs336/corpus.en")
    with ProcessPoolExecutor(2) as pool:
        ids = same_as_one_file(gpt2, [path, path], tmp_path, executor=pool, shard_bytes=20_000)
    assert len(ids.shards) > 4


def test_dask_cluster_same_ids():
    """A real distributed.LocalCluster with two worker processes: the ids of the local
    single file, through the Client and through client.get_executor()."""
    distributed = pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
    import tempfile
    from pathlib import Path

    tok = bpe.get_encoding("gpt2")
    path = repo_file("cs336/corpus.en")
    with (tempfile.TemporaryDirectory() as tmp,
          distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster) as client):
        folder = Path(tmp)
        ids = same_as_one_file(tok, [path], folder, executor=client, shard_bytes=30_000)
        assert len(ids.shards) > 2
        again = encode_file(tok, [path], folder / "again", executor=client.get_executor(),
                            shard_bytes=30_000)
        assert np.array_equal(np.asarray(open_shards(folder / "again")), np.asarray(ids))
        assert again.n_tokens == len(ids)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_indexing_is_the_concatenation(data):
    shards = data.draw(st.lists(st.lists(st.integers(0, 999), max_size=6), min_size=1,
                                max_size=4))
    arrays = [np.array(s, dtype=np.uint16) for s in shards]
    whole = np.concatenate(arrays)
    n = len(whole)
    ids = ShardedIds(None, {"dtype": "uint16"}, arrays, np.array([0, n], dtype=np.int64))
    assert len(ids) == n and np.array_equal(np.asarray(ids), whole)
    start = data.draw(st.integers(-n - 2, n + 2))
    stop = data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([None, 1, 2, 3]))
    assert np.array_equal(ids[start:stop:step], whole[start:stop:step])
    if n:
        i = data.draw(st.integers(-n, n - 1))
        assert ids[i] == whole[i]
    with pytest.raises(IndexError):
        ids[n]
    assert list(ids) == whole.tolist()


def test_documents(gpt2, tmp_path):
    texts = [f"one{EOT}two{EOT}", "three"]
    paths = write_texts(tmp_path, texts)
    ids = same_as_one_file(gpt2, paths, tmp_path, shard_bytes=4, chunk_bytes=2)
    assert [gpt2.decode(ids.document(k).tolist()) for k in range(ids.n_documents)] == [
        f"one{EOT}", f"two{EOT}", "three"]
    assert gpt2.decode(ids.document(-1).tolist()) == "three"
    with pytest.raises(IndexError, match="document 3 out of range for 3"):
        ids.document(3)


def test_empty_files(gpt2, tmp_path):
    paths = write_texts(tmp_path, ["", "a", ""])
    ids = same_as_one_file(gpt2, paths, tmp_path)
    assert len(ids) == 1 and len(ids.shards) == 3


def test_output_folder_must_be_new_or_empty(gpt2, tmp_path):
    paths = write_texts(tmp_path, ["hello"])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.npy").write_bytes(b"")
    with pytest.raises(FileExistsError, match=r"'.*out' is not empty"):
        encode_file(gpt2, paths, tmp_path / "out")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"is under '.*file', a file"):
        encode_file(gpt2, paths, tmp_path / "file" / "out")
    (tmp_path / "empty").mkdir()
    assert encode_file(gpt2, paths, tmp_path / "empty").n_tokens == 1


def test_bad_arguments(gpt2, tmp_path):
    paths = write_texts(tmp_path, ["hello"])
    with ProcessPoolExecutor(1) as pool, pytest.raises(ValueError, match="give a folder as out"):
        encode_file(gpt2, paths, tmp_path / "ids.npy", executor=pool)
    with pytest.raises(ValueError, match="shard_format='parquet'; expected one of 'npy', 'bin'"):
        encode_file(gpt2, paths, tmp_path / "out", shard_format="parquet")
    with pytest.raises(ValueError, match="shard_bytes=0; expected a number of bytes >= 1"):
        encode_file(gpt2, paths, tmp_path / "out", shard_bytes=0)
    with pytest.raises(ValueError, match=r"must end in .npy .* or be a folder"):
        encode_file(gpt2, paths, tmp_path / "out.txt")
    assert not (tmp_path / "out").exists()


def test_an_error_leaves_no_manifest_and_no_shards(gpt2, tmp_path):
    """Invalid UTF-8 in the last file: the error names it; the shards already written are
    removed, and the folder made for them."""
    paths = write_texts(tmp_path, ["hello world. " * 100, "fine"])
    paths[1].write_bytes(b"fine \xff")
    with pytest.raises(ValueError, match=r"1.txt.* is not valid UTF-8: byte offset 5"):
        encode_file(gpt2, paths, tmp_path / "out", shard_bytes=50, workers=2)
    assert not (tmp_path / "out").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(ValueError, match="not valid UTF-8"):
        encode_file(gpt2, paths, tmp_path / "kept", shard_bytes=50, workers=2)
    assert list((tmp_path / "kept").iterdir()) == []


def test_open_shards_checks_what_it_reads(gpt2, tmp_path):
    paths = write_texts(tmp_path, ["hello world.\n" * 100])
    result = encode_file(gpt2, paths, tmp_path / "out", shard_bytes=300, shard_format="bin")
    assert len(result.shards) == 5
    assert len(open_shards(tmp_path / "out")) == len(open_shards(result.manifest))
    with pytest.raises(FileNotFoundError, match=r"manifest '.*nowhere' does not exist"):
        open_shards(tmp_path / "nowhere")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="is not a manifest of sharded ids"):
        open_shards(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{")
    with pytest.raises(ValueError, match="is not JSON"):
        open_shards(tmp_path / "y.json")
    fields = json.loads(result.manifest.read_text())
    result.manifest.write_text(json.dumps({**fields, "version": 99}))
    with pytest.raises(ValueError, match="version 99; this bpe reads version 1"):
        open_shards(result.manifest)
    result.manifest.write_text(json.dumps(fields))
    shard = result.shards[1]
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ValueError, match=f"shard '.*{shard.name}' holds .* says"):
        open_shards(result.manifest)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=f"shard '.*{shard.name}', listed in"):
        open_shards(result.manifest)


def test_tokenizer_method_and_top_level_loader(gpt2, tmp_path):
    paths = write_texts(tmp_path, ["hello world"])
    result = gpt2.encode_file(paths, tmp_path / "out", shard_bytes=4)
    assert bpe.open_shards(tmp_path / "out")[:].tolist() == gpt2.encode("hello world")
    assert os.path.basename(result.manifest) == MANIFEST


def test_records_and_compressed_files_are_shards_of_their_own(gpt2, tmp_path):
    """A JSONL file, a gzip text and a text file: the shards are the single file's ids; a
    file of records is one shard, its bad records skipped and counted as encode_file's."""
    import gzip

    docs = [f"record {k}: some text\nover lines" for k in range(50)]
    with open(tmp_path / "a.jsonl", "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps({"text": doc}) + "\n")
        f.write("not json\n")
    with gzip.open(tmp_path / "b.txt.gz", "wt", encoding="utf-8") as f:
        f.write("compressed text\n" * 200)
    (tmp_path / "c.txt").write_text("plain text\n" * 300, encoding="utf-8")
    paths = [tmp_path / "a.jsonl", tmp_path / "b.txt.gz", tmp_path / "c.txt"]
    with pytest.warns(bpe.BadRecordsWarning):
        one = encode_file(gpt2, paths, tmp_path / "one.npy", errors="skip", chunk_bytes=100)
    with pytest.warns(bpe.BadRecordsWarning, match="skipped 1 bad record"):
        result = encode_file(gpt2, paths, tmp_path / "shards", errors="skip", chunk_bytes=100,
                             shard_bytes=1000, workers=2)
    ids = open_shards(result.manifest)
    assert np.array_equal(np.asarray(ids), np.load(one.ids))
    assert np.array_equal(ids.offsets, np.load(one.offsets))
    assert result.skipped == one.skipped == 1
    assert [e["source"] for e in ids.fields["shards"]][:2] == [str(p) for p in paths[:2]]
    assert len(ids.shards) > 3
