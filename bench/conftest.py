"""Inputs for the microbenchmarks: a slice of the benchmark corpus and GPT-2, from ../shared."""
from __future__ import annotations

from pathlib import Path

import pytest

import bpe

from corpus import corpus_path, shared_data


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The first 2 MB of the benchmark corpus."""
    with open(corpus_path(), encoding="utf-8") as f:
        return f.read(2_000_000)


@pytest.fixture(scope="session")
def gpt2() -> bpe.Tokenizer:
    data = shared_data() / "gpt2"
    if not data.exists():
        pytest.skip(f"{data} is not here")
    return bpe.Tokenizer.from_files(data / "encoder.json", data / "vocab.bpe", ["<|endoftext|>"])


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, corpus_text) -> Path:
    path = tmp_path_factory.mktemp("bench") / "corpus.txt"
    path.write_text(corpus_text, encoding="utf-8")
    return path
