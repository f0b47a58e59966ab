"""encode_file: a .npy of ids equal to encode, any chunking and thread count; document
offsets; a valid .npy header; no partial output on any error."""
import errno
import os
import re
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe
from bpe import atomic, dataset
from bpe.dataset import encode_file, npy_header

from .conftest import (
    RECORD_ENDINGS,
    TEXT_ENDINGS,
    compress,
    corpus_documents,
    interrupt_at_every_step,
    repo_file,
    tiktoken_pair,
    write_records,
)
from .strategies import documents, shape_text, small_texts, texts

ALL_ENDINGS = [*TEXT_ENDINGS, *RECORD_ENDINGS]

EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def trained() -> bpe.Tokenizer:
    return bpe.train(repo_file("cs336/corpus.en"), 300, [EOT], pattern="cl100k", workers=1,
                     progress=False)


@pytest.fixture(scope="module", params=["gpt2", "trained"])
def tok(request):
    return request.getfixturevalue(request.param)


def split_documents(text: str) -> list[str]:
    """A file's documents: cut after every <|endoftext|>, and the file's end."""
    return [d for d in re.split(f"(?<={re.escape(EOT)})", text) if d]


def check(result, tok, texts: list[str]) -> None:
    ids = np.load(result.ids, mmap_mode="r")
    offsets = np.load(result.offsets)
    assert ids.dtype == np.uint16 and offsets.dtype == np.int64
    assert ids.tolist() == [i for t in texts for i in tok.encode(t)]
    docs = [d for t in texts for d in split_documents(t)]
    assert offsets.tolist()[0] == 0 and offsets[-1] == len(ids) == result.n_tokens
    assert len(offsets) - 1 == len(docs) == result.n_documents
    for k, doc in enumerate(docs):
        assert ids[offsets[k]:offsets[k + 1]].tolist() == tok.encode(doc), k


def outputs_left(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".txt"))


@settings(max_examples=40)
@given(docs=st.lists(st.tuples(documents(), st.sampled_from(["", "x\nyz 1\nw", EOT])),
                    min_size=1, max_size=3),
       chunk_bytes=st.integers(1, 64), workers=st.sampled_from([1, 2, 8]))
def test_same_ids_as_encode_any_chunks_and_workers(tmp_path_factory, tok, docs, chunk_bytes,
                                                   workers):
    folder = tmp_path_factory.mktemp("d")
    texts = ["ab\ncd ef\ngh " * 5 + text + end for (text, _), end in docs]
    paths = [folder / f"{k}.txt" for k in range(len(texts))]
    for path, text in zip(paths, texts, strict=True):
        path.write_text(text, encoding="utf-8")
    result = encode_file(tok, paths, folder / "ids.npy", workers=workers, chunk_bytes=chunk_bytes)
    check(result, tok, texts)


def test_files_ending_in_eot_give_the_encode_of_their_concatenation(gpt2, tmp_path):
    stories = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    parts = stories.split(EOT)
    texts = [EOT.join(parts[:5]) + EOT, EOT.join(parts[5:10]) + EOT, EOT.join(parts[10:])]
    for k, text in enumerate(texts):
        (tmp_path / f"{k}.txt").write_text(text, encoding="utf-8")
    result = encode_file(gpt2, [tmp_path / f"{k}.txt" for k in range(3)], tmp_path / "ids.npy",
                         workers=2, chunk_bytes=300)
    assert np.load(result.ids).tolist() == gpt2.encode("".join(texts))
    check(result, gpt2, texts)
    assert result.n_documents == stories.count(EOT) + 1


def test_npy_header_is_what_numpy_expects(gpt2, tmp_path):
    (tmp_path / "a.txt").write_text("hello world\n" * 100, encoding="utf-8")
    result = encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.npy", workers=1)
    for path, dtype in [(result.ids, np.uint16), (result.offsets, np.int64)]:
        with open(path, "rb") as f:
            assert np.lib.format.read_magic(f) == (1, 0)
            shape, fortran_order, got = np.lib.format.read_array_header_1_0(f)
            assert (fortran_order, got) == (False, np.dtype(dtype)) and f.tell() == 128
        mapped = np.load(path, mmap_mode="r")
        assert mapped.offset == 128 and mapped.shape == shape
        assert path.stat().st_size == 128 + mapped.nbytes
    assert np.load(result.ids).tolist() == gpt2.encode("hello world\n" * 100)
    for length in (0, 7, 2**63 - 1):
        assert len(npy_header(np.dtype("<u4"), length)) == 128


def test_uint32_for_a_big_vocabulary(tmp_path):
    tok, enc = tiktoken_pair("cl100k_base")
    text = "Hello world, ünïcode 😀!\n" * 20 + EOT + "second document\nhere"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    result = encode_file(tok, tmp_path / "a.txt", tmp_path / "ids.npy", workers=2, chunk_bytes=50)
    ids = np.load(result.ids)
    assert ids.dtype == np.uint32
    assert ids.tolist() == enc.encode(text, allowed_special="all") == tok.encode(text)
    first_doc = len(tok.encode(text.split(EOT)[0] + EOT))
    assert np.load(result.offsets).tolist() == [0, first_doc, len(ids)]


def test_empty_files(gpt2, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "a.txt").write_text("one<|endoftext|>two", encoding="utf-8")
    result = encode_file(gpt2, tmp_path / "empty.txt", tmp_path / "ids.npy")
    assert (result.n_tokens, result.n_documents) == (0, 0)
    assert np.load(result.ids).shape == (0,) and np.load(result.offsets).tolist() == [0]
    paths = [tmp_path / "empty.txt", tmp_path / "a.txt", tmp_path / "empty.txt"]
    check(encode_file(gpt2, paths, tmp_path / "ids.npy"), gpt2, ["", "one<|endoftext|>two", ""])


def test_without_an_eot_token_documents_are_files(tmp_path):
    tok = bpe.train(repo_file("cs336/corpus.en"), 280, workers=1, progress=False)
    (tmp_path / "a.txt").write_text("one<|endoftext|>two", encoding="utf-8")
    (tmp_path / "b.txt").write_text("three", encoding="utf-8")
    result = encode_file(tok, [tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / "ids.npy")
    n_a = len(tok.encode("one<|endoftext|>two"))
    assert np.load(result.offsets).tolist() == [0, n_a, n_a + len(tok.encode("three"))]


def test_chunks_in_flight_are_bounded(gpt2, tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("some words\nand more\n" * 500, encoding="utf-8")
    started, written, most = [0], [0], [0]
    encode_range, append = dataset.encode_range, dataset.NpyWriter.append

    def counting_encode(*args):
        started[0] += 1
        most[0] = max(most[0], started[0] - written[0])
        return encode_range(*args)

    def counting_append(self, values):
        written[0] += self.dtype == np.uint16
        append(self, values)

    monkeypatch.setattr(dataset, "encode_range", counting_encode)
    monkeypatch.setattr(dataset.NpyWriter, "append", counting_append)
    encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.npy", workers=2, chunk_bytes=64)
    assert started[0] > 100 and most[0] <= 4


def test_progress_bar(gpt2, tmp_path, capsys):
    (tmp_path / "a.txt").write_text("hello\n", encoding="utf-8")
    encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.npy", progress=True)
    assert "B" in capsys.readouterr().err
    encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.npy", progress=False)
    assert capsys.readouterr().err == ""


# --- errors: a clear message naming the path, no partial output -----------------------------

def test_invalid_utf8_names_file_and_offset_and_leaves_nothing(gpt2, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc def\nghi " * 100 + b"\xff tail")
    (tmp_path / "ids.npy").write_bytes(b"keep")  # an earlier output survives a failed run
    with pytest.raises(ValueError, match=r"bad.txt.*byte offset 1200"):
        encode_file(gpt2, bad, tmp_path / "ids.npy", workers=2, chunk_bytes=64)
    assert outputs_left(tmp_path) == ["ids.npy"] and (tmp_path / "ids.npy").read_bytes() == b"keep"
    result = encode_file(gpt2, bad, tmp_path / "ids.npy", errors="replace", chunk_bytes=64)
    expected = gpt2.encode(bad.read_bytes().decode("utf-8", "replace"))
    assert np.load(result.ids).tolist() == expected


def test_ctrl_c_anywhere_leaves_both_files_or_nothing(gpt2, tmp_path):
    text = ("Some words, then more." + EOT) * 50
    (tmp_path / "in.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()

    def check():
        names = sorted(p.name for p in out.iterdir())
        assert names in ([], ["ids.npy", "ids.offsets.npy"]), names
        if names:
            assert np.load(out / "ids.npy").tolist() == gpt2.encode(text)
        for p in out.iterdir():
            p.unlink()

    def run():
        encode_file(gpt2, tmp_path / "in.txt", out / "ids.npy", workers=2, chunk_bytes=256)

    assert interrupt_at_every_step(run, [dataset, atomic], out, check) > 1000


def test_missing_input(gpt2, tmp_path):
    (tmp_path / "a.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        encode_file(gpt2, [tmp_path / "a.txt", tmp_path / "nope.txt"], tmp_path / "ids.npy")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        encode_file(gpt2, tmp_path, tmp_path / "ids.npy")
    with pytest.raises(ValueError, match="errors='ignore'"):
        encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.npy", errors="ignore")
    assert outputs_left(tmp_path) == []


def test_output_folder_missing_or_a_file(gpt2, tmp_path):
    (tmp_path / "a.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"no/such/folder.*does not exist"):
        encode_file(gpt2, tmp_path / "a.txt", tmp_path / "no/such/folder/ids.npy")
    with pytest.raises(NotADirectoryError, match=r"a\.txt.* is not a folder"):
        encode_file(gpt2, tmp_path / "a.txt", tmp_path / "a.txt" / "ids.npy")
    assert outputs_left(tmp_path) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """mount(folder, options): a 1 MB tmpfs at tmp_path/folder, unmounted afterwards."""
    mounted = []

    def mount(name: str, options: str):
        target = tmp_path / name
        target.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                              check=False, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                        f"{done.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", str(target)], check=True)


def test_full_disk(gpt2, tmp_path, tiny_tmpfs):
    disk = tiny_tmpfs("disk", "size=1m")
    big = tmp_path / "big.txt"
    big.write_text("".join(f"word{i}\n" for i in range(400_000)), encoding="utf-8")
    with pytest.raises(OSError, match=r"ids.npy.*No space left") as info:
        encode_file(gpt2, big, disk / "ids.npy", workers=2, chunk_bytes=1 << 18)
    assert info.value.errno == errno.ENOSPC and list(disk.iterdir()) == []


def test_read_only_folder(gpt2, tmp_path, tiny_tmpfs):
    folder = tiny_tmpfs("ro", "ro,size=1m")
    (tmp_path / "a.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(OSError, match=r"ids.npy.*Read-only") as info:
        encode_file(gpt2, tmp_path / "a.txt", folder / "ids.npy")
    assert info.value.errno == errno.EROFS and list(folder.iterdir()) == []


def test_tokenizer_method(gpt2, tmp_path):
    text = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    result = gpt2.encode_file(tmp_path / "a.txt", tmp_path / "ids.npy", workers=2)
    assert np.load(result.ids, mmap_mode="r").tolist() == gpt2.encode(text)


# --- the .bin layout: raw ids for np.memmap, described by a sidecar ---------------------------

def test_bin_is_what_np_memmap_reads(gpt2, tmp_path):
    """nanoGPT's and CS336's reader: np.memmap(path, dtype=np.uint16), no header to skip."""
    import json

    text = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    result = encode_file(gpt2, tmp_path / "a.txt", tmp_path / "train.bin", workers=2,
                         chunk_bytes=300)
    ids = gpt2.encode(text)
    assert np.memmap(tmp_path / "train.bin", dtype=np.uint16, mode="r").tolist() == ids
    assert (tmp_path / "train.bin").stat().st_size == 2 * len(ids)
    assert result.dtype == np.uint16 and result.sidecar == tmp_path / "train.bin.json"
    assert json.loads(result.sidecar.read_text(encoding="utf-8")) == {
        "format": "bpe token ids", "version": 1, "dtype": "uint16", "byte_order": "little",
        "n_tokens": len(ids), "n_documents": result.n_documents,
        "offsets": "train.offsets.npy", "tokenizer": gpt2.name, "n_vocab": gpt2.n_vocab}
    assert dataset.load_ids(result.ids).tolist() == ids
    check(encode_file(gpt2, tmp_path / "a.txt", tmp_path / "train.npy"), gpt2, [text])
    assert np.load(result.offsets).tolist() == np.load(tmp_path / "train.offsets.npy").tolist()


def test_npy_output_is_unchanged_by_the_bin_layout(gpt2, tmp_path):
    """A .npy is still a .npy: the same header, then exactly the .bin's bytes; no sidecar."""
    (tmp_path / "a.txt").write_text("hello world\n" * 100 + EOT + "more", encoding="utf-8")
    npy = encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.npy", workers=1)
    encode_file(gpt2, tmp_path / "a.txt", tmp_path / "ids.bin", workers=1)
    data = (tmp_path / "ids.npy").read_bytes()
    assert data[:128] == npy_header(np.dtype("<u2"), npy.n_tokens)
    assert data[128:] == (tmp_path / "ids.bin").read_bytes()
    assert npy.sidecar is None and npy.dtype == np.uint16
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt", "ids.bin", "ids.bin.json", "ids.npy", "ids.offsets.npy"]
    assert np.load(npy.ids).tolist() == dataset.load_ids(npy.ids).tolist()


def test_bin_is_uint32_for_a_big_vocabulary(tmp_path):
    tok, _ = tiktoken_pair("cl100k_base")
    text = "Hello world, ünïcode 😀!\n" * 20 + EOT + "second document\nhere"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    result = encode_file(tok, tmp_path / "a.txt", tmp_path / "ids.bin", workers=2, chunk_bytes=50,
                         tokenizer_name="cl100k_base")
    assert result.dtype == np.uint32
    assert np.memmap(result.ids, dtype=np.uint32, mode="r").tolist() == tok.encode(text)
    assert '"dtype": "uint32"' in result.sidecar.read_text(encoding="utf-8")
    assert '"tokenizer": "cl100k_base"' in result.sidecar.read_text(encoding="utf-8")


def test_empty_bin(gpt2, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    result = encode_file(gpt2, tmp_path / "empty.txt", tmp_path / "ids.bin")
    assert result.n_tokens == 0 and (tmp_path / "ids.bin").stat().st_size == 0
    assert dataset.load_ids(result.ids).tolist() == []


@pytest.mark.parametrize("out", ["ids.txt", "ids.npz", "ids.BIN.gz"])   # "ids": a folder
def test_other_suffixes_are_refused_before_any_work(gpt2, tmp_path, out):
    with pytest.raises(ValueError, match=rf"output '.*{re.escape(out)}' must end in \.npy "
                                         rf"\(.*\) or \.bin"):
        encode_file(gpt2, tmp_path / "missing.txt", tmp_path / out)  # the input is not checked
    assert list(tmp_path.iterdir()) == []


def test_load_ids_says_what_it_expected(tmp_path):
    expected = "expected a .npy of integer token ids, or a .bin of raw ids with its sidecar"
    (tmp_path / "text.txt").write_text("plain text")
    np.save(tmp_path / "objects.npy", np.array([{}], dtype=object))
    (tmp_path / "bare.bin").write_bytes(b"\x01\x00")
    (tmp_path / "short.bin").write_bytes(b"\x01\x00\x02")
    (tmp_path / "short.bin.json").write_text(
        '{"format": "bpe token ids", "version": 1, "dtype": "uint16", "byte_order": "little", '
        '"n_tokens": 2}')
    (tmp_path / "wrong.bin").write_bytes(b"")
    (tmp_path / "wrong.bin.json").write_text('{"dtype": "uint16"}')
    for name, message in [
        ("text.txt", f"'{tmp_path / 'text.txt'}' is not a file of token ids: {expected}"),
        ("objects.npy", f"'{tmp_path / 'objects.npy'}' is a .npy that cannot be read as token "
                        f"ids"),
        ("bare.bin", f"'{tmp_path / 'bare.bin'}' is raw token ids without its sidecar "
                     f"'bare.bin.json', which says their dtype; {expected}"),
        ("short.bin", f"'{tmp_path / 'short.bin'}' holds 3 bytes, but its sidecar says 2 uint16 "
                      f"ids (4 bytes)"),
        ("wrong.bin", "is not the sidecar `bpe encode` writes"),
    ]:
        with pytest.raises(ValueError) as info:
            dataset.load_ids(tmp_path / name)
        assert message in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"ids file '.*nope\.bin' does not exist"):
        dataset.load_ids(tmp_path / "nope.bin")


@pytest.mark.slow
def test_ctrl_c_anywhere_leaves_all_three_bin_files_or_nothing(gpt2, tmp_path):
    text = ("Some words, then more." + EOT) * 20
    (tmp_path / "in.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()

    def check():
        names = sorted(p.name for p in out.iterdir())
        assert names in ([], ["ids.bin", "ids.bin.json", "ids.offsets.npy"]), names
        if names:
            assert dataset.load_ids(out / "ids.bin").tolist() == gpt2.encode(text)
        for p in out.iterdir():
            p.unlink()

    def run():
        encode_file(gpt2, tmp_path / "in.txt", out / "ids.bin", workers=2, chunk_bytes=256)

    assert interrupt_at_every_step(run, [dataset, atomic], out, check) > 1000


# --- inputs that are outputs, that are not regular files, that change while read ----------

def test_output_that_is_an_input_is_refused(gpt2, tmp_path):
    """encode_file(["a.npy"], "a.npy") replaced its own input with its ids and said it had
    succeeded; so did a hard link, a symbolic link, or the offsets / sidecar file."""
    text = tmp_path / "a.npy"
    text.write_text("hello world\n", encoding="utf-8")
    (tmp_path / "hard.npy").hardlink_to(text)
    (tmp_path / "soft.bin").symlink_to(text)
    (tmp_path / "x.offsets.npy").hardlink_to(text)
    (tmp_path / "y.bin.json").symlink_to(text)
    for out in ["a.npy", "hard.npy", "soft.bin", "x.npy", "y.bin"]:
        with pytest.raises(ValueError, match=r"output .* is the input .*a\.npy"):
            encode_file(gpt2, [text], tmp_path / out)
        assert text.read_text(encoding="utf-8") == "hello world\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.npy", "hard.npy", "soft.bin", "x.offsets.npy", "y.bin.json"]


def test_fifo_and_device_are_refused(gpt2, tmp_path):
    """A FIFO or /dev/zero was read as empty (its st_size): "0 tokens", success."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"pipe.* is a FIFO \(pipe\); bpe reads regular files"):
        encode_file(gpt2, fifo, tmp_path / "ids.npy")
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match="/dev/zero' is a character device"):
            encode_file(gpt2, "/dev/zero", tmp_path / "ids.npy")
    assert outputs_left(tmp_path) == ["pipe"]


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="no /proc")
def test_proc_file_whose_size_says_zero_is_an_error(gpt2, tmp_path):
    with pytest.raises(ValueError, match=r"/proc/version' changed size.*has grown"):
        encode_file(gpt2, "/proc/version", tmp_path / "ids.npy")
    assert outputs_left(tmp_path) == []


@pytest.mark.parametrize("change", ["grow", "shrink"])
@pytest.mark.parametrize("errors", ["strict", "replace"])
def test_file_changed_between_chunk_reads_is_an_error(gpt2, tmp_path, monkeypatch, change,
                                                      errors):
    """Its planned size is checked: a chunk cut short, or bytes past the end, stop the
    encode (it was a short "success")."""
    path = tmp_path / "a.txt"
    path.write_text("some words\nand more\n" * 200, encoding="utf-8")
    encode_range, calls = dataset.encode_range, []

    def changing(*args):
        if not calls:
            if change == "grow":
                with open(path, "a", encoding="utf-8") as f:
                    f.write("more text\n")
            else:
                os.truncate(path, 1000)
        calls.append(1)
        return encode_range(*args)

    monkeypatch.setattr(dataset, "encode_range", changing)
    with pytest.raises(ValueError, match=r"a\.txt' changed size while it was read"):
        encode_file(gpt2, path, tmp_path / "ids.npy", workers=1, chunk_bytes=64,
                    errors=errors)
    assert outputs_left(tmp_path) == []


@pytest.mark.parametrize("shape", ["jsonl", "csv", "code"])
@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
@settings(max_examples=20, deadline=None)
@given(chunk_bytes=st.integers(1, 300), lines=st.integers(0, 20))
def test_jsonl_csv_and_code_are_cut_and_equal_encode(tmp_path_factory, name, shape,
                                                     chunk_bytes, lines):
    """encode_file's chunks of such text (which had no safe cut, so one chunk) equal the
    whole file's encode, for any chunk size."""
    tok = bpe.Tokenizer.from_pretrained(name)
    text = shape_text(shape, lines) + "\n}\n/ x\r\n" + shape_text(shape, 3)
    folder = tmp_path_factory.mktemp("s")
    (folder / "t.txt").write_text(text, encoding="utf-8")
    result = encode_file(tok, folder / "t.txt", folder / "ids.npy", workers=2,
                         chunk_bytes=chunk_bytes)
    assert np.load(result.ids).tolist() == tok.encode(text, disallowed_special=())


@pytest.mark.parametrize("shape", ["jsonl", "csv", "code"])
def test_jsonl_csv_and_code_are_encoded_in_many_chunks(gpt2, tmp_path, monkeypatch, shape):
    (tmp_path / "t.txt").write_text(shape_text(shape, 2000), encoding="utf-8")
    sizes = []
    encode_range = dataset.encode_range

    def measured(tokenizer, path, start, end, *rest):
        sizes.append(end - start)
        return encode_range(tokenizer, path, start, end, *rest)

    monkeypatch.setattr(dataset, "encode_range", measured)
    encode_file(gpt2, tmp_path / "t.txt", tmp_path / "ids.npy", workers=2, chunk_bytes=1000)
    assert len(sizes) > 10 and max(sizes) < 1200


def test_no_input_files_is_an_error(gpt2, tmp_path):
    """An empty list of inputs wrote an empty dataset and reported success."""
    with pytest.raises(ValueError, match="encode_file was given no input files"):
        encode_file(gpt2, [], tmp_path / "ids.npy")
    assert list(tmp_path.iterdir()) == []


def test_the_piece_cache_grows_with_the_input(tmp_path, monkeypatch):
    """encode_file of a large input gives the tokenizer a short-piece table with more slots
    (a new, empty one); the ids stay those of encode, and a cache lent before on the old
    table works to its end and is not lent again. (A big input here is 1 MB, not 128.)"""
    monkeypatch.setattr(bpe.tokenizer, "_BIG_TEXT_BYTES", 1 << 20)
    tok = bpe.Tokenizer.from_pretrained("gpt2")
    text = "".join(f"line {k} of a file, with words such as w{k % 9973}x.\n" for k in range(50))
    assert tok.encode(text)                           # a cache on the first, small table
    assert tok._piece_slots.bits == 18
    with tok._borrowed_cache() as lent:
        block = (text * (1 + (3 << 19) // len(text)))[: 3 << 19]
        path = tmp_path / "big.txt"
        path.write_text(block, encoding="utf-8")
        result = encode_file(tok, [path], tmp_path / "ids.npy", workers=2)
        assert tok._piece_slots.bits == 19
        assert lent.shared is not tok._piece_slots
    assert lent not in tok._free_caches
    assert all(cache.shared is tok._piece_slots for cache in tok._free_caches)
    assert np.array_equal(np.load(result.ids), tok.encode_to_numpy(block))
    assert tok.encode(text) == bpe.Tokenizer.from_pretrained("gpt2").encode(text)
    tok._size_piece_cache(2 << 20)
    assert tok._piece_slots.bits == 20
    tok._size_piece_cache(1 << 20)                    # never smaller
    assert tok._piece_slots.bits == 20
    assert tok.encode(text) == bpe.Tokenizer.from_pretrained("gpt2").encode(text)


# --- formats: compressed text, JSONL and Parquet encode as the text they hold -------------

record_texts = st.lists(st.one_of(texts, small_texts, st.just(EOT), st.just("")), max_size=8)


@pytest.fixture(scope="module")
def small_batches():
    """Parquet rows read two at a time, so a row group is several batches."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bpe.sources, "BATCH_ROWS", 2)
        yield


def write_as(path, docs, rows=1024) -> str:
    """docs in path's format; returns the text a .txt of them would hold."""
    text = EOT.join(docs)
    if any(str(path).endswith(e) for e in RECORD_ENDINGS):
        write_records(path, docs, row_group_size=rows)
    else:
        path.write_bytes(compress(text.encode("utf-8"), str(path)))
    return text


@settings(max_examples=30)
@given(files=st.lists(st.tuples(record_texts, st.sampled_from([*ALL_ENDINGS, ".txt"])),
                      min_size=1, max_size=3),
       chunk_bytes=st.integers(1, 64), workers=st.sampled_from([1, 2]), rows=st.integers(1, 3))
def test_every_format_encodes_as_its_text(tmp_path_factory, tok, small_batches, files,
                                          chunk_bytes, workers, rows):
    """Ids and document offsets of records: those of a text file of them joined by
    <|endoftext|>; of compressed text: the text's; for any chunking and threads."""
    folder = tmp_path_factory.mktemp("f")
    paths, plain, texts_ = [], [], []
    for k, (docs, ending) in enumerate(files):
        paths.append(folder / f"{k}{ending}")
        texts_.append(write_as(paths[-1], docs, rows))
        plain.append(folder / f"{k}.plain.txt")
        plain[-1].write_text(texts_[-1], encoding="utf-8")
    result = encode_file(tok, paths, folder / "ids.npy", workers=workers, chunk_bytes=chunk_bytes)
    check(result, tok, texts_)
    expected = encode_file(tok, plain, folder / "plain.npy", workers=1)
    assert np.load(result.ids).tolist() == np.load(expected.ids).tolist()
    assert np.load(result.offsets).tolist() == np.load(expected.offsets).tolist()
    assert result.skipped == 0


@pytest.mark.parametrize("ending", ALL_ENDINGS)
def test_every_format_on_a_corpus_with_tiktoken_rules(tmp_path, ending):
    """A pretrained tokenizer (tiktoken's rule for special tokens in text) encodes the
    separator and the records' own <|endoftext|> as files do; uint32 ids."""
    tok, enc = tiktoken_pair("cl100k_base")
    docs = corpus_documents()
    text = write_as(tmp_path / f"in{ending}", docs, rows=7)
    result = encode_file(tok, tmp_path / f"in{ending}", tmp_path / "ids.npy", workers=2,
                         chunk_bytes=3000)
    assert np.load(result.ids).tolist() == enc.encode(text, allowed_special="all")
    assert result.n_documents == len(docs)


def test_records_need_an_eot_token_that_nothing_overlaps(tmp_path):
    path = write_records(tmp_path / "d.jsonl", ["one", "two"])
    no_eot = bpe.train(repo_file("cs336/corpus.en"), 280, ["<s>"], workers=1, progress=False)
    with pytest.raises(ValueError, match=r"d\.jsonl' holds records, which encode_file separates "
                                         r"with '<\|endoftext\|>'; this tokenizer has no such"):
        encode_file(no_eot, path, tmp_path / "ids.npy")
    overlapping = bpe.train(repo_file("cs336/corpus.en"), 280, [EOT, f"{EOT}!"], workers=1,
                            progress=False)
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>!' can overlap"):
        encode_file(overlapping, path, tmp_path / "ids.npy")
    text = tmp_path / "d.txt"                  # a text file needs neither
    text.write_text("one two", encoding="utf-8")
    assert encode_file(no_eot, text, tmp_path / "ids.npy").n_documents == 1
    assert outputs_left(tmp_path) == ["d.jsonl", "ids.npy", "ids.offsets.npy"]


@pytest.mark.parametrize("ending", [".jsonl", ".jsonl.zst", ".parquet"])
def test_bad_records_stop_or_are_skipped_and_counted(gpt2, tmp_path, ending):
    path = tmp_path / f"d{ending}"
    if ending == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": ["one", None, "two", None]}), path, row_group_size=2)
        where = "row index 1: column 'text' is null"
    else:
        path.write_bytes(compress(b'{"text": "one"}\n{"text": 2}\n{"text": "two"}\n[]\n',
                                  ending))
        where = "line 2: field 'text' is a number"
    with pytest.raises(ValueError, match=re.escape(f"d{ending}' {where}")):
        encode_file(gpt2, path, tmp_path / "ids.npy", chunk_bytes=1)
    assert outputs_left(tmp_path) == [path.name]
    with pytest.warns(bpe.sources.BadRecordsWarning, match="skipped 2 bad records"):
        result = encode_file(gpt2, path, tmp_path / "ids.npy", errors="skip", chunk_bytes=1)
    assert result.skipped == 2
    check(result, gpt2, [f"one{EOT}two"])


def test_replace_on_a_pretrained_tokenizer_keeps_special_tokens(tmp_path, gpt2_tiktoken):
    """errors="replace" encoded a chunk with invalid UTF-8 under tiktoken's rule, which
    refused the <|endoftext|> in it."""
    tok, enc = bpe.Tokenizer.from_pretrained("gpt2"), gpt2_tiktoken
    for name, data in [("a.txt", b"one<|endoftext|>tw\xffo"),
                       ("a.txt.gz", compress(b"one<|endoftext|>tw\xffo", ".gz"))]:
        (tmp_path / name).write_bytes(data)
        result = encode_file(tok, tmp_path / name, tmp_path / "ids.npy", errors="replace")
        assert np.load(result.ids).tolist() == enc.encode("one<|endoftext|>tw\ufffdo",
                                                          allowed_special="all")
