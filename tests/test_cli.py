"""python -m bpe: train on the bundled default, count tables, encode/decode/show with a
saved or pretrained tokenizer, refusing to overwrite, errors."""
import ast
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import regex

import bpe
from bpe import cli
from bpe.cli import main, sample_corpus

from .conftest import compress, write_records

EOT = "<|endoftext|>"


def test_train_bundled_sample(tmp_path, capsys):
    assert main(["train", "--vocab-size", "400", "--special-token", "<|endoftext|>",
                 "--out", str(tmp_path / "tok")]) == 0
    err = capsys.readouterr().err
    assert "count:" in err and "143 merges" in err and "compression" in err and "peak RSS" in err
    tok = bpe.Tokenizer.load(tmp_path / "tok")
    assert len(tok.vocab) == 400 and tok.special_tokens == ["<|endoftext|>"]
    assert (tok.vocab, tok.merges) == bpe.train_bpe(sample_corpus(), 400, ["<|endoftext|>"])


def test_count_then_train_from_counts(tmp_path):
    half = sample_corpus().read_text(encoding="utf-8").split("<|endoftext|>")
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("<|endoftext|>".join(half[:10]), encoding="utf-8")
    b.write_text("<|endoftext|>".join(half[10:]), encoding="utf-8")
    for part in (a, b):
        assert main(["count", str(part), "-o", str(tmp_path / f"{part.stem}.npz"),
                     "--special-token", "<|endoftext|>", "--workers", "1"]) == 0
    assert main(["train", "--from-counts", str(tmp_path / "a.npz"),
                 "--from-counts", str(tmp_path / "b.npz"), "--vocab-size", "300",
                 "--special-token", "<|endoftext|>", "--out", str(tmp_path / "tok")]) == 0
    from_files = bpe.train([a, b], 300, ["<|endoftext|>"], progress=False)
    assert bpe.Tokenizer.load(tmp_path / "tok").merges == from_files.merges


def test_held_out_slice(tmp_path, capsys):
    stories = str(sample_corpus().with_name("tinystories_sample.txt"))
    assert main(["train", stories, "--vocab-size", "300", "--held-out-mb", "0.001",
                 "--special-token", "<|endoftext|>"]) == 0
    assert re.search(r"bytes/token on the held-out last [0-9,]+ bytes\n", capsys.readouterr().err)
    one_line = tmp_path / "one_line.txt"      # no newline: nowhere to cut
    one_line.write_text("word and word " * 3000, encoding="utf-8")
    assert main(["train", str(one_line), "--vocab-size", "300", "--held-out-mb", "0.02"]) == 0
    assert "no safe place to cut" in capsys.readouterr().err


def test_train_limits(tmp_path, capsys):
    """--min-frequency and --max-token-length reach the merge loop, from text files and from
    count tables."""
    out = tmp_path / "tok"
    assert main(["train", "--vocab-size", "1000", "--special-token", EOT, "--min-frequency",
                 "20", "--max-token-length", "3", "--out", str(out)]) == 0
    assert "of 743: no pair left of count >= 20 within 3 bytes" in capsys.readouterr().err
    tok = bpe.Tokenizer.load(out)
    assert (tok.vocab, tok.merges) == bpe.train_bpe(sample_corpus(), 1000, [EOT],
                                                    min_frequency=20, max_token_length=3)
    assert 257 < len(tok.vocab) < 1000 and max(len(a + b) for a, b in tok.merges) == 3
    assert main(["count", str(sample_corpus()), "-o", str(tmp_path / "c.npz"),
                 "--special-token", EOT, "--workers", "1"]) == 0
    assert main(["train", "--from-counts", str(tmp_path / "c.npz"), "--vocab-size", "1000",
                 "--min-frequency", "20", "--max-token-length", "3",
                 "--out", str(tmp_path / "from_counts")]) == 0
    assert bpe.Tokenizer.load(tmp_path / "from_counts").merges == tok.merges


def test_refuses_non_empty_out(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["count", str(sample_corpus()), "-o", str(tmp_path / "keep.txt")]) == 2


def test_missing_file_is_a_clear_error():
    done = subprocess.run([sys.executable, "-m", "bpe", "train", "/no/such/file.txt"],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 2 and "/no/such/file.txt" in done.stderr


def test_errors_replace(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello \xff world hello")
    assert main(["train", str(bad), "--vocab-size", "260"]) == 2
    assert "byte offset 6" in capsys.readouterr().err
    assert main(["train", str(bad), "--vocab-size", "260", "--errors", "replace"]) == 0


# --- encode, decode, show ------------------------------------------------------------------

@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    """A small tokenizer saved by Tokenizer.save: (folder, tokenizer)."""
    tok = bpe.train(sample_corpus(), 300, [EOT], workers=1, progress=False)
    folder = tmp_path_factory.mktemp("tok")
    tok.save(folder)
    return str(folder), tok


TEXT = "Hello world, ünïcode 😀 and 中文!\nsecond line" + EOT + "another document\n"


def test_encode_then_decode_round_trip(tok_dir, tmp_path, capsys):
    folder, tok = tok_dir
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(TEXT, encoding="utf-8")
    b.write_text("third one", encoding="utf-8")
    out = tmp_path / "ids.npy"
    assert main(["encode", "--tokenizer", folder, str(a), str(b), "-o", str(out),
                 "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "tokens, 3 documents" in err and "MB/s" in err and "ids.offsets.npy" in err
    assert np.load(out).tolist() == tok.encode(TEXT) + tok.encode("third one")
    assert main(["decode", "--tokenizer", folder, str(out), "-o", str(tmp_path / "back.txt")]) == 0
    assert (tmp_path / "back.txt").read_text(encoding="utf-8") == TEXT + "third one"
    assert main(["decode", "--tokenizer", folder, str(out)]) == 0
    assert capsys.readouterr().out == TEXT + "third one"


def test_decode_blocks_do_not_split_characters(tok_dir, tmp_path, monkeypatch):
    folder, tok = tok_dir
    np.save(tmp_path / "ids.npy", np.array(tok.encode(TEXT), dtype=np.uint16))
    assert any(len(tok.decode_bytes([i]).decode("utf-8", "ignore")) == 0 for i in tok.encode("😀"))
    monkeypatch.setattr(cli, "DECODE_BLOCK", 1)
    assert main(["decode", "--tokenizer", folder, str(tmp_path / "ids.npy"),
                 "-o", str(tmp_path / "t.txt")]) == 0
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == TEXT


def test_decode_to_stdout_in_a_process(tok_dir, tmp_path):
    folder, tok = tok_dir
    np.save(tmp_path / "ids.npy", np.array(tok.encode(TEXT), dtype=np.int64))
    for output in [[], ["-o", "-"]]:       # "-": stdout, as tools take it
        done = subprocess.run([sys.executable, "-m", "bpe", "decode", "--tokenizer", folder,
                               str(tmp_path / "ids.npy"), *output], capture_output=True,
                              check=True, cwd=tmp_path)
        assert done.stdout.decode("utf-8") == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.npy"]


def test_encode_and_decode_refuse_to_overwrite(tok_dir, tmp_path, capsys):
    folder, tok = tok_dir
    (tmp_path / "a.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "ids.offsets.npy").write_bytes(b"keep")
    encode = ["encode", "--tokenizer", folder, str(tmp_path / "a.txt"),
              "-o", str(tmp_path / "ids.npy")]
    assert main(encode) == 2
    assert "ids.offsets.npy exists" in capsys.readouterr().err
    assert main([*encode, "--force"]) == 0
    assert np.load(tmp_path / "ids.offsets.npy").tolist() == [0, len(tok.encode("hello"))]
    assert main(["decode", "--tokenizer", folder, str(tmp_path / "ids.npy"),
                 "-o", str(tmp_path / "a.txt")]) == 2
    assert (tmp_path / "a.txt").read_text() == "hello"


def test_encode_errors_leave_nothing(tok_dir, tmp_path, capsys):
    folder, _ = tok_dir
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text\n" * 50 + b"\xff")
    out = str(tmp_path / "ids.npy")
    assert main(["encode", "--tokenizer", folder, str(bad), "-o", out]) == 2
    err = capsys.readouterr().err
    assert "bad.txt" in err and "byte offset 500" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]
    assert main(["encode", "--tokenizer", folder, str(tmp_path / "nope.txt"), "-o", out]) == 2
    assert "nope.txt" in capsys.readouterr().err
    assert main(["encode", "--tokenizer", folder, "-", "-o", out]) == 2
    assert "input '-': standard input is not read" in capsys.readouterr().err
    assert main(["encode", "--tokenizer", folder, str(bad), "-o", str(tmp_path / ".npy")]) == 2
    assert "/.npy' has no name before its suffix" in capsys.readouterr().err
    assert main(["encode", "--tokenizer", folder, str(bad), "-o", out, "--errors", "replace"]) == 0


def test_decode_errors(tmp_path, capsys):
    (tmp_path / "not.npy").write_text("plain text")
    (tmp_path / "some.txt").write_text("plain text")
    np.save(tmp_path / "floats.npy", np.zeros(3))
    np.save(tmp_path / "objects.npy", np.array([{}], dtype=object))
    (tmp_path / "bare.bin").write_bytes(b"\x01\x00")
    expected = ("expected a .npy of integer token ids, or a .bin of raw ids with its sidecar "
                "<name>.bin.json")
    for name, message in [("nope.npy", "does not exist"),
                          ("not.npy", "is not a file of token ids: " + expected),
                          ("some.txt", "is not a file of token ids: " + expected),
                          ("objects.npy", expected),
                          ("bare.bin", "without its sidecar 'bare.bin.json'"),
                          ("floats.npy", "expected a 1-D array of integer token ids")]:
        assert main(["decode", "--tokenizer", "gpt2", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert name in err and message in err and "pickle" not in err, err


def test_tokenizer_names_and_unknown(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    for spec in ["gpt2-large", str(tmp_path / "file.txt"), str(tmp_path / "missing")]:
        assert main(["show", "--tokenizer", spec, "hi"]) == 2
        err = capsys.readouterr().err
        assert spec in err and "gpt2" in err and "cl100k_base" in err and "o200k_base" in err


@pytest.mark.parametrize("name", ["gpt2", "r50k_base", "cl100k_base"])
def test_pretrained_names(name, capsys):
    assert main(["show", "--tokenizer", name, "Hello world"]) == 0
    expected = {"gpt2": [15496, 995], "r50k_base": [15496, 995], "cl100k_base": [9906, 1917]}[name]
    assert capsys.readouterr().out.splitlines() == ["Hello| world", str(expected),
                                                    "2 tokens, 11 characters"]


def test_show_plain_and_colour(tok_dir, monkeypatch, capsys):
    folder, tok = tok_dir
    text = "a 😀\x1b" + EOT
    ids = tok.encode(text)
    assert main(["show", "--tokenizer", folder, text]) == 0  # captured: not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert "\x1b" not in "".join(lines) and lines[1] == str(ids)
    assert lines[2].startswith(f"{len(ids)} tokens")
    # Bytes that are not whole characters, and control characters, as \xNN.
    assert lines[0] == r"a| |\xf0|\x9f|\x98|\x80|\x1b|<|endoftext|>" and len(ids) == 8
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
    assert main(["show", "--tokenizer", folder]) == 0
    assert capsys.readouterr().out.splitlines()[0].replace("|", "") == "from stdin"

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(["show", "--tokenizer", folder, "one two\nthree"]) == 0
    out = capsys.readouterr().out
    assert out.count("\x1b[0m") == 2 * len(tok.encode("one two\nthree")) and "↵" in out
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["show", "--tokenizer", folder, "one two"]) == 0
    assert "\x1b" not in capsys.readouterr().out
    monkeypatch.delenv("NO_COLOR")
    assert main(["show", "--tokenizer", folder, "--plain", "one two"]) == 0
    assert "\x1b" not in capsys.readouterr().out


def _default_sigint():
    """In the child: take Ctrl-C as usual even when this test runs with SIGINT ignored (as
    a shell's background job does), or Python would never see it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_encode_leaves_nothing(tmp_path):
    import signal
    import time

    # A custom pattern runs on the regex module (slow), so the encode is surely still going.
    tok = bpe.train(sample_corpus(), 260, [EOT], pattern=regex.compile(r"\w+|\s+|[^\w\s]+"),
                    workers=1, progress=False)
    tok.save(tmp_path / "tok")
    big = tmp_path / "big.txt"
    big.write_text(("some words here\nand more words" + EOT) * 400_000, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "bpe", "encode",
                                "--tokenizer", str(tmp_path / "tok"),
                                str(big), "-o", str(out / "ids.npy"), "--workers", "2"],
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 30
    while not list(out.iterdir()) and time.monotonic() < deadline:  # wait until it writes
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "nothing was written" in err, (process.returncode, err)
    assert list(out.iterdir()) == []


# --- encode's .bin: nanoGPT's np.memmap layout, with a sidecar ---------------------------------

def test_encode_bin_is_what_np_memmap_reads_and_decodes(tok_dir, tmp_path, capsys):
    folder, tok = tok_dir
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    out = tmp_path / "train.bin"
    assert main(["encode", "--tokenizer", folder, str(tmp_path / "a.txt"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "raw uint16" in err and "np.memmap(" in err and "train.bin.json" in err
    assert np.memmap(out, dtype=np.uint16, mode="r").tolist() == tok.encode(TEXT)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt", "train.bin", "train.bin.json", "train.offsets.npy"]
    assert main(["decode", "--tokenizer", folder, str(out)]) == 0
    assert capsys.readouterr().out == TEXT
    # ids of another vocabulary would decode into another text: refused, saying whose
    assert main(["decode", "--tokenizer", "cl100k_base", str(out)]) == 2
    err = capsys.readouterr().err
    assert (f"holds ids of tokenizer {folder!r}, whose vocabulary has {tok.n_vocab:,} tokens"
            in err and "--tokenizer cl100k_base has 100,277" in err), err
    assert main(["encode", "--tokenizer", folder, str(tmp_path / "a.txt"), "-o", str(out)]) == 2
    assert "train.bin exists" in capsys.readouterr().err
    out.unlink()
    (tmp_path / "train.offsets.npy").unlink()
    assert main(["encode", "--tokenizer", folder, str(tmp_path / "a.txt"), "-o", str(out)]) == 2
    assert "train.bin.json exists" in capsys.readouterr().err


def test_encode_other_suffix_is_an_error_before_anything_else(tmp_path, capsys):
    for out in ["train.txt", "train.npz"]:         # "train": a folder of shards
        assert main(["encode", "--tokenizer", "no-such-tokenizer", "missing.txt",
                     "-o", str(tmp_path / out)]) == 2
        err = capsys.readouterr().err
        assert out in err and "must end in .npy" in err and ".bin" in err, err
    assert list(tmp_path.iterdir()) == []


def test_encode_to_a_folder_of_shards(tok_dir, tmp_path, capsys):
    folder, tok = tok_dir
    a = tmp_path / "a.txt"
    a.write_text(TEXT * 50, encoding="utf-8")
    out = tmp_path / "shards"
    encode = ["encode", "--tokenizer", folder, str(a), "-o", str(out), "--shard-mb", "0.0005"]
    assert main([*encode, "--shard-format", "bin"]) == 0
    err = capsys.readouterr().err
    assert "shards in" in err and "bpe.open_shards(" in err, err
    ids = bpe.open_shards(out)
    assert len(ids.shards) > 1 and all(p.endswith(".bin") for p in
                                       (e["path"] for e in ids.fields["shards"]))
    assert ids[:].tolist() == tok.encode(TEXT * 50)
    assert main(encode) == 2
    assert "is not empty (use --force" in capsys.readouterr().err
    assert main([*encode, "--force"]) == 0            # the old dataset replaced, .bin gone
    assert sorted({p.suffix for p in out.iterdir()}) == [".json", ".npy"]
    assert bpe.open_shards(out)[:].tolist() == tok.encode(TEXT * 50)
    (out / "notes.txt").write_text("mine")
    assert main([*encode, "--force"]) == 2
    assert "holds files that are not a dataset bpe encode wrote (notes.txt)" in (
        capsys.readouterr().err)
    assert (out / "notes.txt").read_text() == "mine"


def test_encode_on_a_dask_scheduler(tok_dir, tmp_path, capsys):
    """--scheduler: a real scheduler and two worker processes (a LocalCluster)."""
    distributed = pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
    folder, tok = tok_dir
    a = tmp_path / "a.txt"
    a.write_text(TEXT * 50, encoding="utf-8")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert main(["encode", "--tokenizer", folder, str(a), "-o", str(tmp_path / "ids"),
                     "--shard-mb", "0.001", "--scheduler", cluster.scheduler_address]) == 0
        assert main(["encode", "--tokenizer", folder, str(a), "-o", str(tmp_path / "x.npy"),
                     "--scheduler", cluster.scheduler_address]) == 2
        assert "--scheduler encodes shards" in capsys.readouterr().err
    ids = bpe.open_shards(tmp_path / "ids")
    assert len(ids.shards) > 1 and ids[:].tolist() == tok.encode(TEXT * 50)


# --- count tables carry their pattern and special tokens --------------------------------------

def _split_corpus(tmp_path):
    docs = sample_corpus().read_text(encoding="utf-8").split(EOT)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(EOT.join(docs[:10]), encoding="utf-8")
    b.write_text(EOT.join(docs[10:]), encoding="utf-8")
    return a, b


def test_train_from_counts_uses_the_tables_pattern_and_special_tokens(tmp_path, capsys):
    a, b = _split_corpus(tmp_path)
    for part in (a, b):
        assert main(["count", str(part), "-o", str(tmp_path / f"{part.stem}.npz"),
                     "--special-token", EOT, "--pattern", "cl100k", "--workers", "1"]) == 0
    assert "pattern 'cl100k', special tokens ['<|endoftext|>']" in capsys.readouterr().err
    assert main(["train", "--from-counts", str(tmp_path / "a.npz"),
                 "--from-counts", str(tmp_path / "b.npz"), "--vocab-size", "300",
                 "--out", str(tmp_path / "tok")]) == 0
    tok = bpe.Tokenizer.load(tmp_path / "tok")
    from_files = bpe.train([a, b], 300, [EOT], pattern="cl100k", progress=False)
    assert tok.special_tokens == [EOT] and tok.pattern == "cl100k"
    assert (tok.vocab, tok.merges) == (from_files.vocab, from_files.merges)


def test_train_from_counts_refuses_conflicts_naming_both(tmp_path, capsys):
    a, b = _split_corpus(tmp_path)
    assert main(["count", str(a), "-o", str(tmp_path / "a.npz"), "--special-token", EOT]) == 0
    assert main(["count", str(b), "-o", str(tmp_path / "b.npz"), "--pattern", "cl100k",
                 "--special-token", EOT]) == 0
    capsys.readouterr()
    a_npz, b_npz = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    out = str(tmp_path / "tok")
    for args, message in [
        (["--from-counts", a_npz, "--pattern", "cl100k"],
         f"--pattern 'cl100k' conflicts with {a_npz}, counted with pattern 'gpt2'"),
        (["--from-counts", a_npz, "--special-token", "<s>"],
         f"--special-token ['<s>'] conflicts with {a_npz}, counted with special tokens "
         f"['<|endoftext|>']"),
        (["--from-counts", a_npz, "--from-counts", b_npz],
         f"{a_npz} and {b_npz} were counted differently (pattern 'gpt2' vs 'cl100k')"),
    ]:
        assert main(["train", *args, "--vocab-size", "300", "--out", out]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "tok").exists()
    assert main(["train", "--from-counts", a_npz, "--pattern", "r50k_base",
                 "--special-token", EOT, "--vocab-size", "300"]) == 0


def test_train_extends_a_base(tmp_path, capsys):
    """--base: a pretrained name or a saved folder, extended as bpe.train(base=) does, from
    text files or count tables; --specials-last moves the base's special tokens."""
    a, b = sample_corpus(), sample_corpus().with_name("tinystories_sample.txt")
    gpt2 = bpe.get_encoding("gpt2")
    assert main(["train", str(a), "--base", "gpt2", "--vocab-size", "50300", "--workers", "1",
                 "--out", str(tmp_path / "ext")]) == 0
    ext = bpe.Tokenizer.load(tmp_path / "ext")
    expected = bpe.train(a, 50300, base=gpt2, workers=1, progress=False)
    assert (ext.vocab, ext.merges, ext.special_ids) == (expected.vocab, expected.merges,
                                                        expected.special_ids)
    # the report's longest tokens are the learned ones, not the base's
    line = next(line for line in capsys.readouterr().err.splitlines()
                if line.startswith("longest new tokens: "))
    shown = ast.literal_eval("[" + line.removeprefix("longest new tokens: ") + "]")
    learned = {token.decode("utf-8", "replace") for i, token in ext.vocab.items() if i > 50256}
    assert len(shown) == 10 and set(shown) <= learned
    assert main(["count", str(b), "-o", str(tmp_path / "b.npz"), "--special-token", EOT,
                 "--workers", "1"]) == 0
    assert main(["train", "--from-counts", str(tmp_path / "b.npz"), "--base",
                 str(tmp_path / "ext"), "--specials-last", "--vocab-size", "50400",
                 "--out", str(tmp_path / "again")]) == 0
    again = bpe.Tokenizer.load(tmp_path / "again")
    expected = bpe.train(b, 50400, base=ext, specials_last=True, workers=1, progress=False)
    assert (again.vocab, again.merges, again.special_ids) == (expected.vocab, expected.merges,
                                                              expected.special_ids)
    assert again.special_ids == {EOT: again.n_vocab - 1} and len(again.merges) > 50043
    assert 50256 not in again.vocab     # the old id of the special token moved is left free


def test_train_base_errors_come_before_counting(tmp_path, capsys, no_counting):
    table = bpe.WordTable.from_counts({"hi": 1}, pattern="cl100k", special_tokens=[EOT])
    table.save(tmp_path / "t.npz")
    text, npz = str(sample_corpus()), str(tmp_path / "t.npz")
    for args, message in [
        (["--specials-last"], "--specials-last moves the special tokens of the tokenizer "
                              "--base names; give --base"),
        (["--base", "gpt2", "--vocab-size", "1000"],
         "vocab_size=1000 is smaller than the base tokenizer's 50257 tokens"),
        (["--base", "gpt3"], "--base 'gpt3' is not a folder written by Tokenizer.save, nor a "
                             "pretrained name: unknown pretrained tokenizer 'gpt3'"),
        (["--base", "gpt2", "--pattern", "cl100k", "--vocab-size", "60000"],
         "pattern 'cl100k' is not the base tokenizer's 'gpt2'"),
    ]:
        assert main(["train", text, *args]) == 2, args
        assert message in capsys.readouterr().err, args
    assert main(["train", "--from-counts", npz, "--base", "gpt2", "--vocab-size", "60000"]) == 2
    assert ("the count table was counted with pattern 'cl100k', not the base tokenizer's "
            "'gpt2'") in capsys.readouterr().err
    assert main(["train", "--from-counts", npz, "--base", "cl100k_base"]) == 2
    assert ("the count table was counted without the base tokenizer's special tokens "
            "['<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|endofprompt|>']: its "
            "text was not cut at them") in capsys.readouterr().err
    cl100k = bpe.get_encoding("cl100k_base")
    bpe.WordTable.from_counts({"hi": 1}, pattern="cl100k",
                              special_tokens=cl100k.special_tokens).save(tmp_path / "t.npz")
    assert main(["train", "--from-counts", npz, "--base", "cl100k_base", "--vocab-size",
                 "1000"]) == 2
    assert "smaller than the base tokenizer's 100261 tokens" in capsys.readouterr().err


def test_train_from_an_old_count_table_needs_the_pattern(tmp_path, capsys):
    table = bpe.WordTable.from_counts({"hello": 3, " world": 2})
    np.savez(tmp_path / "old.npz", symbols=table.symbols, offsets=table.offsets,
             counts=table.counts)  # as saved before tables recorded how they were counted
    old = str(tmp_path / "old.npz")
    assert main(["train", "--from-counts", old, "--vocab-size", "260"]) == 2
    assert (f"{old} records no pattern or special tokens (built from bare counts, or saved by "
            f"an earlier version of bpe): say what it was counted with: --pattern and any "
            f"--special-token") in capsys.readouterr().err
    assert main(["train", "--from-counts", old, "--pattern", "gpt2", "--vocab-size", "260",
                 "--out", str(tmp_path / "tok")]) == 0
    assert bpe.Tokenizer.load(tmp_path / "tok").merges[0] == (b"l", b"o")


@pytest.fixture
def no_counting(monkeypatch):
    """Reading the corpus or the counts fails the test: errors must come before them."""
    def fail(*args, **kwargs):
        raise AssertionError("read before the arguments were checked")

    import bpe.counting

    monkeypatch.setattr(bpe.counting, "plan_chunks", fail)    # a file's first read
    monkeypatch.setattr(bpe.counting, "count_range", fail)
    monkeypatch.setattr(bpe.WordTable, "load", fail)


def test_train_and_count_check_arguments_before_counting(tmp_path, capsys, no_counting):
    table = bpe.WordTable.from_counts({"hi": 1}, pattern="gpt2", special_tokens=[EOT])
    table.save(tmp_path / "t.npz")
    (tmp_path / "file").write_text("x")
    text, npz = str(sample_corpus()), str(tmp_path / "t.npz")
    for args, message in [
        (["train", text, "--from-counts", npz], "text files or --from-counts, not both"),
        (["train", "--from-counts", npz, "--held-out-mb", "1"], "--held-out-mb"),
        (["train", "--from-counts", npz, "--vocab-size", "256"], "vocab_size=256 is smaller"),
        (["train", "--from-counts", npz, "--pattern", "cl100k"], "conflicts with"),
        (["train", text, "--out", str(tmp_path / "file")], "is a file; expected a folder"),
        (["train", text, str(tmp_path / "missing.txt")], "missing.txt' does not exist"),
        (["train", text, "--special-token", ""], "must be a non-empty str"),
        (["train", text, "--workers", "0"], "workers=0"),
        (["train", text, "--vocab-size", "10"], "vocab_size=10 is smaller"),
        (["train", text, "--vocab-size", str(10**11)], "more than the 2,147,483,647 ids"),
        (["train", "--from-counts", npz, "--vocab-size", str(2**31)], "more than the"),
        (["train", text, "--out", str(tmp_path / "file" / "sub")], "is under"),
        (["count", text, str(tmp_path), "-o", str(tmp_path / "c.npz")], "is a folder"),
        (["count", text, "-o", str(tmp_path)], "is a folder; expected the .npz"),
    ]:
        assert main(args) == 2, args
        assert message in capsys.readouterr().err, args
    for args, message in [   # argparse's own errors: exit status 2 as the command line is read
        (["train", text, "--pattern", "gtp2"], "unknown pattern name 'gtp2'. Did you mean 'gpt2'"),
        (["count", text, "-o", str(tmp_path / "c.npz"), "--pattern", "gpt4"], "'gpt4'"),
        (["count", text, "-o", str(tmp_path / "c.npz"), "--pattern", "cl100k", "--regex", "x"],
         "give --pattern or --regex, not both"),
        (["train", text, "--regex", "(unclosed"], "--regex: pattern '(unclosed' is not a valid"),
        *[(["train", text, "--held-out-mb", mb], f"{mb}' is not a number of megabytes >= 0")
          for mb in ("inf", "nan", "-1", "x")],
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2, args
        assert message in capsys.readouterr().err, args


@pytest.mark.parametrize("flag, value, message", [
    ("--min-frequency", "-1", "'-1' is not a count >= 0"),
    ("--min-frequency", "2.5", "'2.5' is not a count >= 0"),
    ("--max-token-length", "0", "'0' is not a number of bytes >= 1"),
    ("--max-token-length", "x", "'x' is not a number of bytes >= 1"),
])
def test_train_limits_are_checked_as_the_command_line_is_read(tmp_path, capsys, no_counting,
                                                               flag, value, message):
    for inputs in [[str(sample_corpus())], ["--from-counts", str(tmp_path / "t.npz")]]:
        with pytest.raises(SystemExit) as exit_:
            main(["train", *inputs, flag, value])
        assert exit_.value.code == 2
        assert f"argument {flag}: {message}" in capsys.readouterr().err


def test_custom_regex_counts_trains_and_saves(tmp_path, capsys):
    """--regex: a custom pattern through count, train --from-counts and the saved tokenizer,
    with text it does not match kept."""
    counts, folder = tmp_path / "c.npz", tmp_path / "tok"
    assert main(["count", str(sample_corpus()), "-o", str(counts), "--regex", r"\p{L}+",
                 "--special-token", EOT, "--workers", "1"]) == 0
    assert main(["train", "--from-counts", str(counts), "--vocab-size", "300",
                 "--out", str(folder)]) == 0
    tok = bpe.Tokenizer.load(folder)
    assert tok.pattern.pattern == r"\p{L}+"
    text = "Once upon a time, 12 cats!" + EOT
    assert tok.decode(tok.encode(text)) == text
    direct = bpe.train([sample_corpus()], 300, [EOT], pattern=regex.compile(r"\p{L}+"),
                       workers=1, progress=False)
    assert tok.merges == direct.merges


def test_output_that_is_an_input_is_refused_even_with_force(tok_dir, tmp_path, capsys):
    """`bpe encode a.npy -o a.npy --force` replaced the text with its ids and said
    "encoded"; count and decode could replace their inputs the same way."""
    folder, tok = tok_dir
    text = tmp_path / "a.npy"
    text.write_text("hello world\n", encoding="utf-8")
    (tmp_path / "link.npz").hardlink_to(text)
    np.save(tmp_path / "ids.npy", np.array(tok.encode("hi"), dtype=np.uint16))
    runs = [["encode", "--tokenizer", folder, str(text), "-o", str(text)],
            ["count", str(text), "-o", str(tmp_path / "link.npz")],
            ["decode", "--tokenizer", folder, str(tmp_path / "ids.npy"),
             "-o", str(tmp_path / "ids.npy")]]
    for run in runs:
        assert main([*run, "--force"]) == 2
        assert "is the input" in capsys.readouterr().err
    assert text.read_text(encoding="utf-8") == "hello world\n"
    assert np.load(tmp_path / "ids.npy").tolist() == tok.encode("hi")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_input_is_refused(tok_dir, tmp_path, capsys):
    """A pipe was read as empty: "encoded 0 tokens", exit 0, or training on nothing."""
    folder, _ = tok_dir
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    runs = [["encode", "--tokenizer", folder, str(fifo), "-o", str(tmp_path / "ids.npy")],
            ["count", str(fifo), "-o", str(tmp_path / "c.npz")],
            ["train", str(fifo), "--vocab-size", "300", "--out", str(tmp_path / "tok")]]
    for run in runs:
        assert main(run) == 2
        assert "is a FIFO (pipe); bpe reads regular files" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_jsonl_and_parquet_train_count_and_encode_as_their_text(tmp_path, capsys):
    """Records through every command: the tokenizer, the counts and the ids of a text file
    of the records joined by <|endoftext|>; --text-field names the field."""
    docs = sample_corpus().read_text(encoding="utf-8").split(EOT)
    text = tmp_path / "plain.txt"
    text.write_text(EOT.join(docs), encoding="utf-8")
    jsonl = write_records(tmp_path / "docs.jsonl.zst", docs, field="content")
    parquet = write_records(tmp_path / "docs.parquet", docs, field="content", row_group_size=9)
    common = ["--special-token", EOT, "--text-field", "content", "--workers", "2"]
    assert main(["train", str(jsonl), "--vocab-size", "300", "--out", str(tmp_path / "tok"),
                 *common]) == 0
    tok = bpe.Tokenizer.load(tmp_path / "tok")
    assert tok.merges == bpe.train(text, 300, [EOT], progress=False).merges
    assert "compression" in capsys.readouterr().err     # on the first 1 MB of the records
    assert main(["count", str(parquet), "-o", str(tmp_path / "c.npz"), *common]) == 0
    assert main(["train", "--from-counts", str(tmp_path / "c.npz"), "--vocab-size", "300",
                 "--out", str(tmp_path / "tok2")]) == 0
    assert bpe.Tokenizer.load(tmp_path / "tok2").merges == tok.merges
    gz = tmp_path / "plain.txt.gz"
    gz.write_bytes(compress(text.read_bytes(), ".gz"))
    for path in (jsonl, parquet, gz):
        assert main(["encode", "--tokenizer", str(tmp_path / "tok"), str(path), "-o",
                     str(tmp_path / "ids.npy"), "--text-field", "content", "--force"]) == 0
        assert np.load(tmp_path / "ids.npy").tolist() == tok.encode(EOT.join(docs))
        noun = "document" if len(docs) == 1 else "documents"
        assert f"encoded {len(tok.encode(EOT.join(docs))):,} tokens, {len(docs):,} {noun} from" \
            in capsys.readouterr().err


def test_bad_records_stop_or_are_skipped_with_a_warning(tmp_path, capsys):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(compress(b'{"text": "hello world"}\n{"txt": "x"}\n', ".gz"))
    for command in (["count", str(path), "-o", str(tmp_path / "c.npz")],
                    ["train", str(path), "--vocab-size", "260"],
                    ["encode", "--tokenizer", "gpt2", str(path), "-o",
                     str(tmp_path / "ids.npy")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "d.jsonl.gz' line 2: no field 'text' (the record's fields: 'txt')" in err
        assert main([*command, "--errors", "skip"]) == 0, command
        err = capsys.readouterr().err
        assert (f"warning: skipped 1 bad record (errors='skip'): 1 in {str(path)!r} (the "
                f"first at line 2: no field 'text'") in err
    assert np.load(tmp_path / "ids.npy").tolist() == bpe.Tokenizer.from_pretrained(
        "gpt2").encode("hello world")


def test_missing_optional_package_is_a_clear_error(tmp_path, capsys, monkeypatch,
                                                   no_counting):
    path = write_records(tmp_path / "d.parquet", ["a"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert main(["train", str(path)]) == 2
    assert ("error: reading " + repr(str(path)) + " (Parquet) needs the pyarrow package: "
            "pip install 'bpe-exact[parquet]'") in capsys.readouterr().err


def test_encode_with_dropout(tok_dir, tmp_path, capsys):
    folder, tok = tok_dir
    a = tmp_path / "a.txt"
    a.write_text(TEXT * 20, encoding="utf-8")
    runs = []
    for k in range(3):
        out = tmp_path / f"ids{k}.npy"
        seed = ["--seed", "4"] if k < 2 else ["--seed", "5"]
        assert main(["encode", "--tokenizer", folder, str(a), "-o", str(out),
                     "--dropout", "0.5", *seed]) == 0
        runs.append(np.load(out).tolist())
    assert runs[0] == runs[1] != runs[2]
    assert tok.decode(runs[0]) == TEXT * 20 and len(runs[0]) > len(tok.encode(TEXT * 20))
    with pytest.raises(SystemExit):
        main(["encode", "--tokenizer", folder, str(a), "-o", str(tmp_path / "x.npy"),
              "--dropout", "1.5"])
    assert "'1.5' is not a probability in [0, 1]" in capsys.readouterr().err


BLAS_SCRIPT = """
import os, sys
{before}
from bpe.cli import main
main(["count", {corpus!r}, "-o", {out!r}])
print(os.environ.get("OPENBLAS_NUM_THREADS"), "numpy" in sys.modules)
"""


@pytest.mark.parametrize(("before", "env", "expected"), [
    ("", None, "1 True"),                         # the command's own: one BLAS thread
    ("", "3", "3 True"),                          # the user's setting stands
    ("import numpy", None, "None True"),          # too late to matter: left alone
])
def test_one_blas_thread_where_numpy_is_not_loaded_yet(tmp_path, before, env, expected):
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world\n" * 10, encoding="utf-8")
    script = BLAS_SCRIPT.format(before=before, corpus=str(corpus), out=str(tmp_path / "c.npz"))
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env is not None:
        environ["OPENBLAS_NUM_THREADS"] = env
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=environ, check=True)
    assert done.stdout.strip() == expected
