"""python -m bpe train: the bundled default, saving, refusing to overwrite, clear errors."""
import subprocess
import sys

import bpe
from bpe.cli import main


def test_train_bundled_sample(tmp_path, capsys):
    assert main(["train", "--vocab-size", "400", "--special-token", "<|endoftext|>",
                 "--out", str(tmp_path / "tok")]) == 0
    out = capsys.readouterr().out
    assert "143 merges" in out and "compression" in out
    tok = bpe.Tokenizer.load(tmp_path / "tok")
    assert len(tok.vocab) == 400 and tok.special_tokens == ["<|endoftext|>"]


def test_refuses_non_empty_out(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err


def test_missing_file_is_a_clear_error():
    done = subprocess.run([sys.executable, "-m", "bpe", "train", "/no/such/file.txt"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "/no/such/file.txt" in done.stderr
