"""Pretrained vocabularies bundled with the package, loaded offline.

`gpt2` (also called `r50k_base`) comes from GPT-2's own encoder.json + vocab.bpe;
`cl100k_base` and `o200k_base` from tiktoken's rank files (`o200k_harmony`, gpt-oss's, is
o200k_base's with its own special tokens), whose merges are derived so that
encoding equals tiktoken's (`formats.merges_from_ranks`). The files and their licences live
in `bpe.data/pretrained/`. This module only reads them; `Tokenizer.from_pretrained` builds
each once per process and shares it, as `tiktoken.get_encoding` does.

Deriving the merges is a Python loop over every way of cutting every token, so setup.py
does it once, at build time (`write_tables`): `<name>.tables` beside the files holds the
vocabulary and merges as raw int32 arrays (formats.TokenTables, formats.write_token_tables)
with a stamp of each file they were made from, and `tables(name)` loads them after checking
the files against it (formats.read_token_tables). Where they were not built (bpe imported
from a source folder before setup.py ran), `read` derives everything from the files, with
the same result.

The folder is found from bpe.data's own path rather than through importlib.resources: the
package is installed as files (never zipped), and that import is a few milliseconds of every
from_pretrained.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from bpe.formats import (
    TokenTables,
    merges_from_ranks,
    read_merges_txt,
    read_tiktoken_ranks,
    read_token_tables,
    read_vocab_json,
    token_tables,
    token_tables_current,
    write_token_tables,
)


class Pretrained(NamedTuple):
    files: tuple[str, ...]      # under bpe.data/pretrained
    pattern: str
    special_tokens: dict[str, int]


def _harmony_specials() -> dict[str, int]:
    """o200k_harmony's special tokens (gpt-oss), in tiktoken's order: o200k_base's, then
    its own, then the reserved ones. <|reserved_200018|> shares its id with
    <|endofprompt|>, which it decodes to, as in tiktoken."""
    named = {"<|startoftext|>": 199998, "<|endoftext|>": 199999, "<|return|>": 200002,
             "<|constrain|>": 200003, "<|channel|>": 200005, "<|start|>": 200006,
             "<|end|>": 200007, "<|message|>": 200008, "<|call|>": 200012}
    by_id = {token_id: token for token, token_id in named.items()}
    own = {by_id.get(i, f"<|reserved_{i}|>"): i for i in range(199998, 200013)}
    return ({"<|endoftext|>": 199999, "<|endofprompt|>": 200018} | own
            | {f"<|reserved_{i}|>": i for i in range(200013, 201088)})


PRETRAINED = {
    "gpt2": Pretrained(("encoder.json", "vocab.bpe"), "gpt2", {"<|endoftext|>": 50256}),
    "cl100k_base": Pretrained(("cl100k_base.tiktoken.gz",), "cl100k", {
        "<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "o200k_base": Pretrained(("o200k_base.tiktoken.gz",), "o200k", {
        "<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
    "o200k_harmony": Pretrained(("o200k_base.tiktoken.gz",), "o200k", _harmony_specials()),
}
# A vocabulary with another's files (and other special tokens) shares its tables.
_TABLES_OF = {"o200k_harmony": "o200k_base"}
ALIASES = {"r50k_base": "gpt2"}   # tiktoken's name for the same vocabulary
NAMES = (*PRETRAINED, *ALIASES)
# tiktoken's other encodings, whose files bpe does not ship.
NOT_BUNDLED = ("p50k_base", "p50k_edit")


def canonical(name: str) -> str:
    """The bundled vocabulary's own name for `name` (see NAMES). ValueError for any other
    name, listing the bundled ones (and naming the closest, if one is close)."""
    if name not in NAMES:
        raise ValueError(_unknown_name(name))
    return ALIASES.get(name, name)


def _unknown_name(name: object) -> str:
    bundled = ", ".join(NAMES)
    if name in NOT_BUNDLED:
        return (f"the encoding {name!r} is tiktoken's but is not bundled with bpe (the bundled "
                f"ones are {bundled}); load it with tiktoken.get_encoding({name!r}) and pass it "
                f"to bpe.Tokenizer.from_tiktoken")
    if not isinstance(name, str):
        return f"a pretrained tokenizer's name must be a str, one of {bundled}; got {name!r}"
    import difflib

    close = difflib.get_close_matches(name, NAMES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    elsewhere = ""
    if "/" in name or os.sep in name:       # a Hugging Face model id or a folder
        elsewhere = (": bpe reads no hub. For a Hugging Face tokenizer.json (a model's "
                     "folder), use bpe.Tokenizer.from_hf(path); for a folder written by "
                     "Tokenizer.save, bpe.Tokenizer.load(path)")
    return f"unknown pretrained tokenizer {name!r}.{hint} Choose one of {bundled}{elsewhere}"


def read(name: str) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]], Pretrained]:
    """The vocabulary and merges of the bundled vocabulary `name`, with its spec (pattern,
    special tokens), derived from its files (the slow way: see `tables`)."""
    spec = PRETRAINED[canonical(name)]
    vocab, merges = read_files([_path(file) for file in spec.files])
    return vocab, merges, spec


def read_files(paths: list[Path]) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """The vocabulary and merges in a bundled vocabulary's files: [encoder.json, vocab.bpe]
    or [a tiktoken rank file]."""
    if len(paths) == 2:
        return read_vocab_json(paths[0]), read_merges_txt(paths[1])
    return merges_from_ranks(read_tiktoken_ranks(paths[0]))


def tables_file(name: str) -> str:
    """The name of the precomputed tables' file of the bundled vocabulary `name`."""
    name = canonical(name)
    return f"{_TABLES_OF.get(name, name)}.tables"


def tables(name: str) -> TokenTables | None:
    """The precomputed tables of the bundled vocabulary `name` (its vocabulary and merges,
    without special tokens), or None where they were not built. ValueError when they were
    made from other files than the ones bundled now."""
    spec = PRETRAINED[canonical(name)]
    folder = _folder()
    try:
        return read_token_tables(folder / tables_file(name),
                                 [folder / file for file in spec.files])
    except FileNotFoundError:
        return None         # no tables (or no source file: read() will say which)


def write_tables(folder: str | os.PathLike) -> list[str]:
    """Write the tables of every bundled vocabulary whose files are in `folder` and whose
    tables there are missing or were made from other files; the names written. (setup.py
    calls this at build time, before the kernels exist: it needs this module and formats.)"""
    folder = Path(folder)
    written = []
    for name, spec in PRETRAINED.items():
        if name in _TABLES_OF:
            continue                  # written as the vocabulary's whose files it has
        sources = [folder / file for file in spec.files]
        target = folder / tables_file(name)
        if not all(source.exists() for source in sources) or token_tables_current(target,
                                                                                  sources):
            continue                  # not bundled here, or made from these files already
        write_token_tables(target, token_tables(*read_files(sources)), sources)
        written.append(name)
    return written


def _folder() -> Path:
    import importlib

    data = importlib.import_module("bpe.data")     # the data/ folder of a source checkout
    return Path(str(data.__file__)).parent / "pretrained"


def _path(file: str) -> Path:
    path = _folder() / file
    if not path.exists():
        raise FileNotFoundError(f"the bundled file {path} is missing: reinstall bpe")
    return path
