"""Microbenchmarks (pytest-benchmark): train, merge loop, encode (GPT-2, cl100k, o200k),
encode_batch, decode (from a list and from NumPy) on a 2 MB slice; encode to a list of
4.25 million ids.

    pytest bench/ --benchmark-only
"""
import pytest

import bpe
from bpe._merge import merge_words
from bpe.counting import count_pieces
from bpe.patterns import Pretokenizer


def test_train_bpe_2mb_vocab_2000(benchmark, corpus_file):
    vocab, _ = benchmark(bpe.train_bpe, corpus_file, 2000, ["<|endoftext|>"])
    assert len(vocab) == 2000


def test_merge_loop_2mb_vocab_5000(benchmark, corpus_text):
    pretokenizer = Pretokenizer("gpt2", ["<|endoftext|>"])
    table = bpe.WordTable.from_counter(count_pieces([corpus_text], pretokenizer))
    merges = benchmark(merge_words, table.symbols, table.offsets, table.counts, 5000 - 257)
    assert len(merges) > 0


def test_pretokenize_2mb(benchmark, corpus_text):
    pre = Pretokenizer("gpt2", ["<|endoftext|>"])
    benchmark(lambda: sum(len(p) for p, _ in pre.stream([corpus_text])))


@pytest.mark.parametrize("method", ["encode", "encode_to_numpy"])
def test_encode_2mb_gpt2(benchmark, gpt2, corpus_text, method):
    gpt2.encode(corpus_text[:10000])
    benchmark(getattr(gpt2, method), corpus_text)


def test_encode_to_a_fresh_list_4m_ids(benchmark):
    """encode of " a" 4.25 million times: making the list is most of the work. Its 34 MB of
    items are above the largest block glibc keeps in its heaps, so each list's items come
    freshly mapped (and are advised onto huge pages before they are written)."""
    gpt2 = bpe.get_encoding("gpt2")
    ids = benchmark(gpt2.encode, " a" * 4_250_000)
    assert len(ids) == 4_250_000


@pytest.mark.parametrize("threads", [1, 2])
def test_encode_batch_2mb_gpt2(benchmark, gpt2, corpus_text, threads):
    documents = corpus_text.split("<|endoftext|>")
    gpt2.encode_batch(documents[:10], num_threads=threads)
    benchmark(gpt2.encode_batch, documents, num_threads=threads)


@pytest.mark.parametrize("source", ["list", "numpy"])
def test_decode_2mb_gpt2(benchmark, gpt2, corpus_text, source):
    ids = gpt2.encode(corpus_text) if source == "list" else gpt2.encode_to_numpy(corpus_text)
    assert benchmark(gpt2.decode, ids) == corpus_text


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_encode_2mb_tiktoken_vocabularies(benchmark, corpus_text, name):
    # tiktoken's rule (from_pretrained) refuses the corpus's <|endoftext|> unless allowed
    tok = bpe.Tokenizer.from_pretrained(name)
    tok.encode(corpus_text[:10000], allowed_special="all")
    benchmark(tok.encode, corpus_text, allowed_special="all")
