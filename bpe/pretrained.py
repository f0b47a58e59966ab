"""Pretrained vocabularies bundled with the package, loaded offline.

`gpt2` (also called `r50k_base`) comes from GPT-2's own encoder.json + vocab.bpe;
`cl100k_base` and `o200k_base` from tiktoken's rank files, whose merges are derived so that
encoding equals tiktoken's (`formats.merges_from_ranks`). The files and their licences live
in `bpe.data/pretrained/`. This module only reads them; `Tokenizer.from_pretrained` builds
each once per process and shares it, as `tiktoken.get_encoding` does.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import NamedTuple

from bpe.formats import merges_from_ranks, read_merges_txt, read_tiktoken_ranks, read_vocab_json


class Pretrained(NamedTuple):
    files: tuple[str, ...]      # under bpe.data/pretrained
    pattern: str
    special_tokens: dict[str, int]


PRETRAINED = {
    "gpt2": Pretrained(("encoder.json", "vocab.bpe"), "gpt2", {"<|endoftext|>": 50256}),
    "cl100k_base": Pretrained(("cl100k_base.tiktoken.gz",), "cl100k", {
        "<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "o200k_base": Pretrained(("o200k_base.tiktoken.gz",), "o200k", {
        "<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}
ALIASES = {"r50k_base": "gpt2"}   # tiktoken's name for the same vocabulary
NAMES = (*PRETRAINED, *ALIASES)



def canonical(name: str) -> str:
    """The bundled vocabulary's own name for `name` (see NAMES)."""
    if name not in NAMES:
        raise ValueError(f"unknown pretrained tokenizer {name!r}; choose one of {', '.join(NAMES)}")
    return ALIASES.get(name, name)


def read(name: str) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]], Pretrained]:
    """The vocabulary and merges of the bundled vocabulary `name`, with its spec (pattern,
    special tokens)."""
    spec = PRETRAINED[canonical(name)]
    paths = [_path(file) for file in spec.files]
    if len(paths) == 2:
        return read_vocab_json(paths[0]), read_merges_txt(paths[1]), spec
    vocab, merges = merges_from_ranks(read_tiktoken_ranks(paths[0]))
    return vocab, merges, spec


def _path(file: str) -> Path:
    path = Path(str(resources.files("bpe.data") / "pretrained" / file))
    if not path.exists():
        raise FileNotFoundError(f"the bundled file {path} is missing: reinstall bpe")
    return path
