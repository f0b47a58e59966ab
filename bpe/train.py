"""Training: text files -> piece counts -> WordTable -> merges -> vocabulary.

`train_bpe` is the Stanford CS336 function (same name, arguments and return value);
`train` returns a ready Tokenizer. The rules (DESIGN.md, "Semantics"): the vocabulary starts
with the 256 bytes, special tokens cut documents and are never merged, pairs never cross a
piece, the most frequent pair wins with ties to the greater (bytes_a, bytes_b).
Id layout: bytes 0..255, merge k -> 256 + k, then the special tokens.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from bpe._count import PieceCounter
from bpe._merge import merge_words
from bpe.patterns import Pretokenizer, check_special_tokens
from bpe.wordtable import WordTable

def read_text_chunks(path: str | os.PathLike, block_bytes: int = 1 << 22) -> Iterator[str]:
    """Yield the UTF-8 text of a file in chunks; a clear error names the file and the byte
    offset of the first invalid byte."""
    offset = 0
    carry = b""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"training file {os.fspath(path)!r} does not exist") from None
    with f:
        while True:
            block = f.read(block_bytes)
            data = carry + block
            # Hold back an incomplete UTF-8 sequence at the end for the next block.
            cut = len(data) if not block else _last_char_boundary(data)
            try:
                text = data[:cut].decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"training file {os.fspath(path)!r} is not valid UTF-8: byte offset "
                    f"{offset + e.start} ({data[e.start:e.start + 1]!r}): {e.reason}"
                ) from None
            if text:
                yield text
            offset += cut
            carry = data[cut:]
            if not block:
                return


def _last_char_boundary(data: bytes) -> int:
    """The largest cut <= len(data) that does not split a UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


class _CountSink:
    """Receives the pre-tokenizer's output and counts pieces (see patterns.Sink)."""

    def __init__(self, counter: PieceCounter):
        self.counter = counter

    def native(self, text: str, limit: int, pattern_id: int) -> int:
        return self.counter.count_text(text, limit, pattern_id)

    def pieces(self, pieces: list[str]) -> None:
        self.counter.add(pieces)

    def special(self, token: str) -> None:
        pass  # special tokens separate documents and are never counted


def count_pieces(texts: Iterable[str], pretokenizer: Pretokenizer,
                 counter: PieceCounter | None = None) -> PieceCounter:
    """Count the pieces of a stream of text chunks (special tokens excluded)."""
    counter = counter if counter is not None else PieceCounter()
    for _ in pretokenizer.feed(texts, _CountSink(counter)):
        pass
    return counter


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
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train a byte-level BPE vocabulary on one UTF-8 text file (the CS336 interface).

    Returns (vocab, merges): vocab maps id -> token bytes (bytes 0..255, merge k at 256 + k,
    then the special tokens), merges lists the merged (bytes, bytes) pairs in order.
    An empty corpus gives the base vocabulary and no merges.
    """
    return _train_files([input_path], vocab_size, check_special_tokens(special_tokens), pattern)


def train(
    input_paths: str | os.PathLike | Sequence[str | os.PathLike],
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    pattern: str = "gpt2",
):
    """Train on one or more files and return a Tokenizer with the same pattern and specials."""
    from bpe.tokenizer import Tokenizer

    paths = [input_paths] if isinstance(input_paths, (str, os.PathLike)) else list(input_paths)
    specials = check_special_tokens(special_tokens)
    vocab, merges = _train_files(paths, vocab_size, specials, pattern)
    return Tokenizer(vocab, merges, special_tokens=specials, pattern=pattern)


def _train_files(paths, vocab_size: int, specials: list[str], pattern: str):
    n_merges = _merge_budget(vocab_size, specials)
    pretokenizer = Pretokenizer(pattern, specials)
    counter = PieceCounter()
    for path in paths:
        count_pieces(read_text_chunks(path), pretokenizer, counter)
    vocab, id_merges = learn_merges(WordTable.from_counter(counter), n_merges)
    merges = [(vocab[a], vocab[b]) for a, b in id_merges]
    for token in specials:
        vocab[len(vocab)] = token.encode("utf-8")
    return vocab, merges
