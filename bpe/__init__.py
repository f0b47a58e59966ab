"""bpe: exact byte-level BPE tokenization, trained and applied by native kernels.

>>> import bpe
>>> vocab, merges = bpe.train_bpe("corpus.txt", vocab_size=1000, special_tokens=["<|endoftext|>"])
>>> tok = bpe.Tokenizer(vocab, merges, special_tokens=["<|endoftext|>"])
>>> tok.decode(tok.encode("Hello <|endoftext|> world"))
'Hello <|endoftext|> world'

`import bpe` is cheap: the names below are imported from their modules on first use
(PEP 562), so NumPy, `regex` and the compiled kernels load only when something needs them
(`python -X importtime -c "import bpe"`; bench/startup.py).
"""
__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

import sys as _sys
import types as _types

TYPE_CHECKING = False  # not typing's: importing typing alone would cost a few ms
# public name -> the module that defines it
_LAZY = {
    "CL100K_PATTERN": "bpe.patterns",
    "DEEPSEEK_V3_PATTERN": "bpe.patterns",
    "DEEPSEEK_V3_SPLITS": "bpe.patterns",
    "GPT2_PATTERN": "bpe.patterns",
    "LLAMA3_PATTERN": "bpe.patterns",
    "O200K_PATTERN": "bpe.patterns",
    "QWEN2_PATTERN": "bpe.patterns",
    "PATTERNS": "bpe.patterns",
    "Pretokenizer": "bpe.patterns",
    "encoding_for_model": "bpe.registry",
    "encoding_name_for_model": "bpe.registry",
    "get_encoding": "bpe.registry",
    "list_encoding_names": "bpe.registry",
    "ByteTokenizer": "bpe.simple",
    "CharacterTokenizer": "bpe.simple",
    "WordTokenizer": "bpe.simple",
    "compression_ratio": "bpe.simple",
    "open_shards": "bpe.shards",
    "BPETokenizerParams": "bpe.tokenizer",
    "Tokenizer": "bpe.tokenizer",
    "train": "bpe.train",
    "train_bpe": "bpe.train",
    "train_from_iterator": "bpe.train",
    "WordTable": "bpe.wordtable",
    "BadRecordsWarning": "bpe.sources",
}
# Submodules reachable as attributes (bpe.formats, ...) before anything imported them, as
# they were when this file imported them all.
_SUBMODULES = frozenset({
    "atomic", "cli", "counting", "dataset", "formats", "hf", "patterns", "pretrained",
    "shards", "simple", "sources", "specials", "tokenizer", "wordtable",
})

__all__ = [
    "CL100K_PATTERN",
    "DEEPSEEK_V3_PATTERN",
    "DEEPSEEK_V3_SPLITS",
    "GPT2_PATTERN",
    "LLAMA3_PATTERN",
    "O200K_PATTERN",
    "PATTERNS",
    "QWEN2_PATTERN",
    "BPETokenizerParams",
    "BadRecordsWarning",
    "ByteTokenizer",
    "CharacterTokenizer",
    "Pretokenizer",
    "Tokenizer",
    "WordTable",
    "WordTokenizer",
    "compression_ratio",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
    "open_shards",
    "train",
    "train_bpe",
    "train_from_iterator",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports these
    from bpe.patterns import (
        CL100K_PATTERN,
        DEEPSEEK_V3_PATTERN,
        DEEPSEEK_V3_SPLITS,
        GPT2_PATTERN,
        LLAMA3_PATTERN,
        O200K_PATTERN,
        PATTERNS,
        QWEN2_PATTERN,
        Pretokenizer,
    )
    from bpe.registry import (
        encoding_for_model,
        encoding_name_for_model,
        get_encoding,
        list_encoding_names,
    )
    from bpe.shards import open_shards
    from bpe.simple import ByteTokenizer, CharacterTokenizer, WordTokenizer, compression_ratio
    from bpe.sources import BadRecordsWarning
    from bpe.tokenizer import BPETokenizerParams, Tokenizer
    from bpe.train import train, train_bpe, train_from_iterator
    from bpe.wordtable import WordTable


def __getattr__(name: str):
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Kept, so the next lookup is an ordinary one. (Importing bpe.train binds the submodule
    # to the name "train" here first; the function replaces it, as with the eager imports.)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """bpe's module type: keeps `bpe.train` the function. Importing the submodule bpe.train
    (as `from bpe.train import learn_merges` does) would otherwise bind the module to that
    name once it has run; the eager imports this file once made rebound the function."""

    def __setattr__(self, name: str, value) -> None:
        if name == "train" and isinstance(value, _types.ModuleType):
            value = value.train
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
del TYPE_CHECKING
