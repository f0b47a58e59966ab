"""Training: text files -> piece counts -> WordTable -> merges -> vocabulary.

`train_bpe` is the Stanford CS336 function (same name, arguments and return value);
`train` returns a ready Tokenizer. The rules (DESIGN.md, "Semantics"): the vocabulary starts
with the 256 bytes, special tokens cut documents and are never merged, pairs never cross a
piece, the most frequent pair wins with ties to the greater (bytes_a, bytes_b).
Id layout: bytes 0..255, merge k -> 256 + k, then the special tokens.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from bpe._merge import merge_words
from bpe.counting import count_files
from bpe.patterns import check_special_tokens
from bpe.wordtable import WordTable


def learn_merges(table: WordTable, n_merges: int) -> tuple[dict[int, bytes], list[tuple[int, int]]]:
    """Run the merge loop; return the vocabulary of bytes and merged tokens, and the id pairs."""
    pairs = merge_words(table.symbols, table.offsets, table.counts, n_merges)
    vocab = {i: bytes([i]) for i in range(256)}
    merges = [(int(a), int(b)) for a, b in pairs]
    for k, (a, b) in enumerate(merges):
        vocab[256 + k] = vocab[a] + vocab[b]
    return vocab, merges


def _merge_budget(vocab_size: int, special_tokens: list[str]) -> int:
    floor = 256 + len(special_tokens)
    if not isinstance(vocab_size, (int, np.integer)) or vocab_size < floor:
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than the 256 byte tokens plus "
            f"{len(special_tokens)} special token{'s' if len(special_tokens) != 1 else ''}"
        )
    return int(vocab_size) - floor


def train_bpe(
    input_path: str | os.PathLike,
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    pattern: str = "gpt2",
    workers: int | None = None,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train a byte-level BPE vocabulary on one UTF-8 text file (the CS336 interface).

    Returns (vocab, merges): vocab maps id -> token bytes (bytes 0..255, merge k at 256 + k,
    then the special tokens), merges lists the merged (bytes, bytes) pairs in order.
    An empty corpus gives the base vocabulary and no merges. Counting runs on `workers`
    processes (all cores if None); the result is the same for any number.
    """
    return _train_files([input_path], vocab_size, check_special_tokens(special_tokens), pattern,
                        workers=workers)


def train(
    input_paths: str | os.PathLike | Sequence[str | os.PathLike],
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    pattern: str = "gpt2",
    workers: int | None = None,
    executor=None,
):
    """Train on one or more files and return a Tokenizer with the same pattern and specials.
    Counting runs on `executor` (any concurrent.futures.Executor) or on a local pool of
    `workers` processes (all cores if None)."""
    from bpe.tokenizer import Tokenizer

    paths = [input_paths] if isinstance(input_paths, (str, os.PathLike)) else list(input_paths)
    specials = check_special_tokens(special_tokens)
    vocab, merges = _train_files(paths, vocab_size, specials, pattern, workers, executor)
    return Tokenizer(vocab, merges, special_tokens=specials, pattern=pattern)


def _train_files(paths, vocab_size: int, specials: list[str], pattern: str,
                 workers: int | None = None, executor=None):
    n_merges = _merge_budget(vocab_size, specials)
    counter = count_files(paths, pattern, specials, workers=workers, executor=executor)
    vocab, id_merges = learn_merges(WordTable.from_counter(counter), n_merges)
    merges = [(vocab[a], vocab[b]) for a, b in id_merges]
    for token in specials:
        vocab[len(vocab)] = token.encode("utf-8")
    return vocab, merges
