"""python -m bpe: train on the bundled default, count tables, refusing to overwrite, errors."""
import subprocess
import sys

import bpe
from bpe.cli import main, sample_corpus


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
    assert main(["train", "--from-counts", str(tmp_path / "a.npz"), "--from-counts", str(tmp_path / "b.npz"),
                 "--vocab-size", "300", "--special-token", "<|endoftext|>", "--out", str(tmp_path / "tok")]) == 0
    from_files = bpe.train([a, b], 300, ["<|endoftext|>"], progress=False)
    assert bpe.Tokenizer.load(tmp_path / "tok").merges == from_files.merges


def test_held_out_slice(tmp_path, capsys):
    stories = str(sample_corpus().with_name("tinystories_sample.txt"))
    assert main(["train", stories, "--vocab-size", "300", "--held-out-mb", "0.001",
                 "--special-token", "<|endoftext|>"]) == 0
    assert "on the held out" in capsys.readouterr().err
    assert main(["train", "--vocab-size", "300", "--held-out-mb", "0.02"]) == 0  # corpus.en
    assert "no safe place to cut" in capsys.readouterr().err


def test_refuses_non_empty_out(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["count", str(sample_corpus()), "-o", str(tmp_path / "keep.txt")]) == 2


def test_missing_file_is_a_clear_error():
    done = subprocess.run([sys.executable, "-m", "bpe", "train", "/no/such/file.txt"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "/no/such/file.txt" in done.stderr


def test_errors_replace(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello \xff world hello")
    assert main(["train", str(bad), "--vocab-size", "260"]) == 2
    assert "byte offset 6" in capsys.readouterr().err
    assert main(["train", str(bad), "--vocab-size", "260", "--errors", "replace"]) == 0
