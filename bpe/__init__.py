"""bpe: exact byte-level BPE tokenization, trained and applied by native kernels.

>>> import bpe
>>> vocab, merges = bpe.train_bpe("corpus.txt", vocab_size=1000, special_tokens=["<|endoftext|>"])
>>> tok = bpe.Tokenizer(vocab, merges, special_tokens=["<|endoftext|>"])
>>> tok.decode(tok.encode("Hello <|endoftext|> world"))
'Hello <|endoftext|> world'
"""
__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

from bpe.patterns import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN, PATTERNS, Pretokenizer
from bpe.simple import ByteTokenizer, CharacterTokenizer, WordTokenizer, compression_ratio
from bpe.tokenizer import BPETokenizerParams, Tokenizer
from bpe.train import train, train_bpe
from bpe.wordtable import WordTable

__all__ = [
    "CL100K_PATTERN",
    "GPT2_PATTERN",
    "O200K_PATTERN",
    "PATTERNS",
    "BPETokenizerParams",
    "ByteTokenizer",
    "CharacterTokenizer",
    "Pretokenizer",
    "Tokenizer",
    "WordTable",
    "WordTokenizer",
    "compression_ratio",
    "train",
    "train_bpe",
]
