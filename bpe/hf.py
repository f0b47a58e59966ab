"""Hugging Face `tokenizers` files: write a Tokenizer as tokenizer.json, and read one back.

tokenizer.json is the one file most models ship their tokenizer in, so writing it lets a
tokenizer trained here be used by `transformers` and friends, and reading it lets `bpe`
encode for those models. Only the byte-level BPE subset that `bpe` reproduces exactly is
accepted: model BPE with GPT-2's bytes-to-unicode alphabet (see bpe/formats.py), no
normalizer, and a pre-tokenizer that is either GPT-2's ByteLevel (its built-in regex) or
Split(Regex, Isolated) followed by ByteLevel without regex. Anything else is refused with a
message rather than encoded differently.

Two things about HF's format shape the writer:
- On loading, HF takes an added token's id from the model's vocab when its text is there,
  and otherwise numbers it after the vocab, ignoring the "id" written in added_tokens.
  So every special token is also written into the model vocab, under its plain text (not
  in the byte alphabet), as HF's own GPT-2 file does: that pins its id.
- Added tokens are matched in the raw text before pre-tokenizing, like our special tokens;
  the post-processor is not written and is ignored on reading, so ids equal HF's
  `encode(text, add_special_tokens=False)`.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bpe.atomic import write_files
from bpe.formats import read_json_object, text_to_token, token_to_text
from bpe.patterns import PATTERNS, pattern_name, resolve_pattern

if TYPE_CHECKING:
    from bpe.tokenizer import Tokenizer

FILE_NAME = "tokenizer.json"
# The regex HF's ByteLevel pre-tokenizer runs when use_regex is true: GPT-2's, spelled out.
HF_GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# HF's regex engine (Oniguruma, Ruby syntax) reads X{1,3}+ as (X{1,3})+, not as possessive:
# cl100k's digits would run on past three. Greedy {1,3} matches the same there (nothing
# follows it in its alternative to backtrack for), so HF files spell it that way.
_HF_SPELLINGS = {"cl100k": PATTERNS["cl100k"].replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")}
_HF_NAMES = {regex: name for name, regex in _HF_SPELLINGS.items()}
_INTERVAL_PLUS = re.compile(r"(?<!\\)\{(?:\d+,?\d*|,\d+)\}\+")
_EXPECTED_PRE_TOKENIZER = ("ByteLevel with use_regex=true, or a Sequence of Split(Regex, "
                           "behavior Isolated) and ByteLevel with use_regex=false")


def _byte_level(use_regex: bool) -> dict:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
            "use_regex": use_regex}


# --- writing --------------------------------------------------------------------------

def tokenizer_json_bytes(tok: Tokenizer) -> bytes:
    """The HF tokenizer.json of a bpe.Tokenizer, as UTF-8 bytes."""
    split = {"type": "Split", "pattern": {"Regex": _hf_regex(tok.pattern)},
             "behavior": "Isolated", "invert": False}
    added = [{"id": token_id, "content": text, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for text, token_id in sorted(tok.special_ids.items(), key=lambda item: item[1])]
    data = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split, _byte_level(False)]},
        "post_processor": None,
        "decoder": _byte_level(True),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            "ignore_merges": False, "vocab": _model_vocab(tok),
            "merges": [[token_to_text(a), token_to_text(b)] for a, b in tok.merges],
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _hf_regex(pattern: str) -> str:
    """The pattern as HF's Split should be given it."""
    regex = resolve_pattern(pattern)
    name = pattern_name(regex)
    if name in PATTERNS:
        return _HF_SPELLINGS.get(name, PATTERNS[name])
    if _INTERVAL_PLUS.search(regex):
        raise ValueError(f"pattern {pattern!r} has a possessive {{n,m}}+, which HF's regex engine "
                         f"reads as ({{n,m}})+; write it as an atomic group (?>X{{n,m}}) instead")
    return regex


def _model_vocab(tok) -> dict[str, int]:
    """{token text: id}: byte-alphabet text, except special tokens under their own text."""
    special_texts = {token_id: text for text, token_id in tok.special_ids.items()}
    vocab: dict[str, int] = {}
    for token_id, token in sorted(tok.vocab.items()):
        text = special_texts.get(token_id) or token_to_text(token)
        if text in vocab:
            raise ValueError(f"ids {vocab[text]} and {token_id} are both written {text!r}; "
                             f"tokenizer.json maps each token text to one id")
        vocab[text] = token_id
    return vocab


def write_tokenizer_json(tok: Tokenizer, path: str | os.PathLike) -> Path:
    """Write tok as a HF tokenizer.json at path (or inside it, if path is a folder), never
    leaving a half-written file. Returns the file's path."""
    path = _json_path(path)
    write_files(path.parent, {path.name: tokenizer_json_bytes(tok)})
    return path


def _json_path(path: str | os.PathLike) -> Path:
    text = os.fspath(path)
    if os.path.isdir(text) or text.endswith(("/", os.sep)):
        return Path(text) / FILE_NAME
    return Path(text)


# --- reading --------------------------------------------------------------------------

def read_tokenizer_json(path: str | os.PathLike) -> tuple[
        dict[int, bytes], list[tuple[bytes, bytes]], dict[str, int], str]:
    """A HF tokenizer.json (or a folder holding one) -> (vocab, merges, special_tokens,
    pattern), where pattern is "gpt2", "cl100k" or "o200k" when the regex is one of those.

    >>> vocab, merges, special_tokens, pattern = read_tokenizer_json("gpt2/tokenizer.json")
    >>> tok = Tokenizer(vocab, merges, special_tokens=list(special_tokens), pattern=pattern)
    """
    path = _json_path(path)
    where = f"tokenizer file {os.fspath(path)!r}"
    data = read_json_object(path, where)
    _check_normalizer(data.get("normalizer"), where)
    pattern = _pattern(data.get("pre_tokenizer"), where)
    model = _check_model(data.get("model"), where)
    texts = _texts(model.get("vocab"), where)
    special_tokens = _special_tokens(data.get("added_tokens") or [], texts, where)
    vocab = _vocab(texts, special_tokens, where)
    merges = _merges(model.get("merges"), texts, where)
    return vocab, merges, special_tokens, pattern


def _check_normalizer(normalizer, where: str) -> None:
    if normalizer is None or normalizer == {"type": "Sequence", "normalizers": []}:
        return
    kind = normalizer.get("type") if isinstance(normalizer, dict) else normalizer
    raise ValueError(f"{where} has normalizer {kind!r}, which would change the text before "
                     f"it is tokenized; bpe encodes the text as given, so it expects none")


def _pattern(pre_tokenizer, where: str) -> str:
    """The pre-tokenizer's regex: a pattern name when it is a known one."""
    steps: object = [pre_tokenizer]
    if isinstance(pre_tokenizer, dict) and pre_tokenizer.get("type") == "Sequence":
        steps = pre_tokenizer.get("pretokenizers")
    regex = None
    if (isinstance(steps, list) and len(steps) == 1 and _is_byte_level(steps[0], True)):
        regex = HF_GPT2_PATTERN
    elif (isinstance(steps, list) and len(steps) == 2 and _is_byte_level(steps[1], False)
          and isinstance(steps[0], dict) and steps[0].get("type") == "Split"
          and steps[0].get("behavior") == "Isolated" and not steps[0].get("invert")
          and isinstance(steps[0].get("pattern"), dict)):
        regex = steps[0]["pattern"].get("Regex")
    if not isinstance(regex, str):
        raise ValueError(f"{where}: expected pre_tokenizer {_EXPECTED_PRE_TOKENIZER}, got "
                         f"{json.dumps(pre_tokenizer)[:300]}")
    return _HF_NAMES.get(regex) or pattern_name(regex)


def _is_byte_level(step, use_regex: bool) -> bool:
    return (isinstance(step, dict) and step.get("type") == "ByteLevel"
            and not step.get("add_prefix_space") and step.get("use_regex", True) == use_regex)


def _check_model(model, where: str) -> dict:
    """The model, checked to be a byte-level BPE's."""
    kind = model.get("type") if isinstance(model, dict) else None
    if kind != "BPE":
        raise ValueError(f"{where}: expected model type 'BPE', got {kind!r}")
    if any(model.get(key) for key in ("dropout", "continuing_subword_prefix",
                                      "end_of_word_suffix")):
        raise ValueError(f"{where}: the BPE model sets dropout, continuing_subword_prefix or "
                         f"end_of_word_suffix; a byte-level BPE has none of them")
    if model.get("ignore_merges"):
        raise ValueError(f"{where}: the BPE model sets ignore_merges (a word found in the vocab "
                         f"skips the merges); bpe always applies the merges")
    return model


def _texts(encoder, where: str) -> dict[str, int]:
    """The model's vocab, checked: {token text: id}."""
    if not isinstance(encoder, dict):
        raise ValueError(f"{where}: expected model.vocab to be an object of token -> id")
    seen: dict[int, str] = {}
    for text, token_id in encoder.items():
        if not isinstance(token_id, int) or token_id < 0:
            raise ValueError(f"{where}: token {text!r} has id {token_id!r}, expected an int >= 0")
        if token_id in seen:
            raise ValueError(f"{where}: id {token_id} is used by {seen[token_id]!r} and {text!r}")
        seen[token_id] = text
    return encoder


def _special_tokens(added_tokens, texts: dict[str, int], where: str) -> dict[str, int]:
    """{text: id} of the added tokens (all matched in the raw text, like special tokens).

    HF does not read the ids written here: it takes a token's id from the model's vocab, or
    else the next id after the vocab and the added tokens so far. A file whose ids say
    otherwise would encode differently in HF, so it is refused.
    """
    if not isinstance(added_tokens, list):
        raise ValueError(f"{where}: expected added_tokens to be a list")
    special_tokens: dict[str, int] = {}
    for added in added_tokens:
        added = added if isinstance(added, dict) else {}
        text, token_id = added.get("content"), added.get("id")
        if not isinstance(text, str) or not text or not isinstance(token_id, int) or token_id < 0:
            raise ValueError(f"{where}: added token {added!r} needs a non-empty content and "
                             f"an id >= 0")
        if any(added.get(flag) for flag in ("single_word", "lstrip", "rstrip")):
            raise ValueError(f"{where}: added token {text!r} sets single_word, lstrip or rstrip; "
                             f"bpe matches special tokens exactly as written")
        hf_id = texts.get(text, max([len(texts), *(i + 1 for i in special_tokens.values())]))
        if token_id != hf_id:
            source = "its id in the model's vocab" if text in texts else "the next free id"
            raise ValueError(f"{where}: added token {text!r} has id {token_id}, but HF would give "
                             f"it {hf_id} ({source})")
        special_tokens[text] = token_id
    return special_tokens


def _vocab(texts: dict[str, int], special_tokens: dict[str, int], where: str) -> dict[int, bytes]:
    vocab = {token_id: text.encode("utf-8") if special_tokens.get(text) == token_id
             else text_to_token(text, f"{where}, model vocab (not a byte-level BPE?)")
             for text, token_id in texts.items()}
    for text, token_id in special_tokens.items():
        if vocab.setdefault(token_id, text.encode("utf-8")) != text.encode("utf-8"):
            raise ValueError(f"{where}: added token {text!r} has id {token_id}, which the model's "
                             f"vocab gives to {token_to_text(vocab[token_id])!r}")
    return vocab


def _merges(merges, texts: dict[str, int], where: str) -> list[tuple[bytes, bytes]]:
    """The merges, written "a b" or [a, b], as byte pairs in rank order."""
    if not isinstance(merges, list):
        raise ValueError(f"{where}: expected model.merges to be a list")
    pairs = []
    for rank, merge in enumerate(merges):
        pair = merge.split(" ") if isinstance(merge, str) else merge
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(t, str) for t in pair)):
            raise ValueError(f"{where}: merge {rank} is {merge!r}; expected \"a b\" or [a, b]")
        for text in (pair[0], pair[1], pair[0] + pair[1]):
            if text not in texts:
                raise ValueError(f"{where}: merge {rank} {merge!r} needs token {text!r}, which "
                                 f"is not in the model's vocab")
        pairs.append((text_to_token(pair[0], where), text_to_token(pair[1], where)))
    return pairs
