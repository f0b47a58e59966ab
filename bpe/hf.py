"""Hugging Face files: write a Tokenizer as a folder that `transformers.AutoTokenizer` and
`tokenizers` load and encode with exactly as bpe does, and read a tokenizer.json back.

tokenizer.json is the one file most models ship their tokenizer in, so writing it lets a
tokenizer trained here be used by `transformers` and friends, and reading it lets `bpe`
encode for those models. What `bpe` reproduces exactly is accepted: model BPE with GPT-2's
bytes-to-unicode alphabet (see bpe/formats.py), ignore_merges or not, and the normalizers,
pre-tokenizers, added-token flags and post-processors bpe/hf_pipeline.py reads (those of
Llama 3, Qwen2, GPT-2, RoBERTa and the like). Anything else is refused with a message
naming the field rather than encoded differently.

A folder written here holds what `transformers.AutoTokenizer.from_pretrained` reads:
- tokenizer.json, the `tokenizers` pipeline (vocabulary, merges, added tokens,
  pre-tokenizer, decoder);
- tokenizer_config.json: the class to load (PreTrainedTokenizerFast, a name transformers 4
  and 5 both resolve), which special tokens are eos, bos and pad, model_max_length, the
  added tokens, and clean_up_tokenization_spaces off (on, decode would drop the space
  before punctuation and so differ from ours);
- special_tokens_map.json: eos, bos and pad again, for readers that look there.
(These names are transformers'. `Tokenizer.save` keeps its own config in bpe_config.json,
so a folder can hold both.)

Three things about HF's format shape the writer:
- On loading, HF takes an added token's id from the model's vocab when its text is there,
  and otherwise numbers it after the vocab, ignoring the "id" written in added_tokens.
  So every special token is also written into the model vocab, under its plain text (not
  in the byte alphabet), as HF's own GPT-2 file does: that pins its id.
- Added tokens are matched in the raw text before pre-tokenizing, like our special tokens,
  and no post-processor is written, so HF's `encode(text)` adds no bos or eos and equals
  ours, with or without add_special_tokens. A tokenizer read from a tokenizer.json is
  written back with the normalizer, pre-tokenizer, added tokens and post-processor it was
  read with (and ignore_merges), so HF encodes as it does there too.
- HF runs the pre-tokenizer's regex on Oniguruma (Ruby syntax), we run it on the `regex`
  module. The built-in patterns are written in spellings tested to cut text alike. A
  custom pattern is checked construct by construct against a list of those known to mean
  the same to both engines (`hf_regex`): the few that Oniguruma spells differently are
  rewritten (X{n,m}+ as (?>X{n,m}), X{n}? as X{n}, \\xE9 as \\u00E9, \\w and \\b as the
  regex module's classes spelled out), and anything else is refused with a ValueError
  naming the construct. What no spelling fixes: the two engines' Unicode tables (a code
  point newer than one of them, or one whose category changed, such as U+0295, Lo in
  Oniguruma and Ll in `regex`) may class a character differently, as between tiktoken and
  bpe; and Oniguruma gives up (tokenizers raises) on a match that backtracks too long.
"""
from __future__ import annotations

import functools
import json
import os
import re
import warnings
from itertools import pairwise
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from bpe.atomic import write_files
from bpe.formats import byte_to_char, is_id, read_json_object, text_to_token, token_to_text
from bpe.hf_pipeline import Steps, read_steps
from bpe.patterns import (
    DEEPSEEK_V3_SPLITS,
    PATTERNS,
    PatternLike,
    pattern_from_text,
    pattern_name,
)

if TYPE_CHECKING:
    from bpe.tokenizer import Tokenizer

FILE_NAME = "tokenizer.json"
CONFIG_NAME = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_NAME = "special_tokens_map.json"
HF_FILES = (FILE_NAME, CONFIG_NAME, SPECIAL_TOKENS_MAP_NAME)
# HF's regex engine (Oniguruma, Ruby syntax) reads X{1,3}+ as (X{1,3})+, not as possessive:
# cl100k's digits would run on past three. Greedy {1,3} matches the same there (nothing
# follows it in its alternative to backtrack for), so HF files spell it that way.
_HF_SPELLINGS = {"cl100k": PATTERNS["cl100k"].replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")}
_HF_NAMES = {regex: name for name, regex in _HF_SPELLINGS.items()}
# transformers' model_max_length for "no limit" (its VERY_LARGE_INTEGER)
_NO_LIMIT = int(1e30)
# The special tokens save_hf gives each role by default: the first of these that is one of
# the tokenizer's special tokens (pad: else the eos token, so that padding works).
_ROLE_DEFAULTS = {"eos_token": ("<|endoftext|>", "</s>"), "bos_token": ("<|endoftext|>", "<s>"),
                  "pad_token": ("<pad>",)}


def _byte_level(use_regex: bool) -> dict:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
            "use_regex": use_regex}


# --- writing --------------------------------------------------------------------------

def tokenizer_json_bytes(tok: Tokenizer) -> bytes:
    """The HF tokenizer.json of a bpe.Tokenizer, as UTF-8 bytes. A tokenizer read from a
    tokenizer.json gets back the normalizer, pre-tokenizer, added tokens and post-processor
    it was read with; any other these: none, its pattern then ByteLevel, its special tokens
    matched as written, none."""
    source = tok.hf_source
    seen: dict[int, str] = {}
    for text, token_id in tok.special_ids.items():
        if seen.setdefault(token_id, text) != text:
            raise ValueError(f"special tokens {seen[token_id]!r} and {text!r} share the id "
                             f"{token_id}, which a tokenizer.json cannot hold (an added "
                             f"token is one text for one id)")
    if source is None:
        splits = [{"type": "Split", "pattern": {"Regex": text}, "behavior": "Isolated",
                   "invert": False} for text in _hf_splits(tok.pattern)]
        source = {"added_tokens": _added_tokens(tok), "normalizer": None,
                  "pre_tokenizer": {"type": "Sequence",
                                    "pretokenizers": [*splits, _byte_level(False)]},
                  "post_processor": None}
    data = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": source["added_tokens"],
        "normalizer": source["normalizer"],
        "pre_tokenizer": source["pre_tokenizer"],
        "post_processor": source["post_processor"],
        "decoder": _byte_level(True),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            "ignore_merges": tok.ignore_merges, "vocab": _model_vocab(tok),
            "merges": [[_text(a), _text(b)] for a, b in tok.merges],
        },
    }
    # One line per top-level key: json's indenting encoder is pure Python, several seconds
    # for a 200k vocabulary; its compact one is C.
    lines = (f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
             for key, value in data.items())
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def _added_tokens(tok: Tokenizer) -> list[dict]:
    """The added tokens as HF writes them, in the order of their ids: those of the file tok
    was read from as they were; special tokens matched exactly as written otherwise."""
    if tok.hf_source is not None:
        return tok.hf_source["added_tokens"]
    return [{"id": token_id, "content": text, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": True}
            for text, token_id in sorted(tok.special_ids.items(), key=lambda item: item[1])]


@functools.cache
def _alphabet() -> dict[int, str]:
    return dict(enumerate(byte_to_char()))


def _text(token: bytes) -> str:
    """formats.token_to_text, faster: a 200k vocabulary's merges are 400k calls."""
    return token.decode("latin-1").translate(_alphabet())


def steps_for(tok: Tokenizer, source: dict, where: str) -> tuple[Steps, dict]:
    """(the steps of `source`, a tokenizer.json's normalizer, pre_tokenizer, added_tokens and
    post_processor, checked against tok's vocabulary as from_hf checks a file's; the source).
    For a tokenizer made from one read with from_hf (continued training: bpe/extend.py)."""
    return read_steps(source, _model_vocab(tok), where, _read_pattern)


def _model_vocab(tok) -> dict[str, int]:
    """{token text: id}: byte-alphabet text, except special tokens under their own text."""
    special_texts = {token_id: text for text, token_id in tok.special_ids.items()}
    vocab: dict[str, int] = {}
    for token_id, token in sorted(tok.vocab.items()):
        text = special_texts.get(token_id) or _text(token)
        if text in vocab:
            raise ValueError(f"ids {vocab[text]} and {token_id} are both written {text!r}; "
                             f"tokenizer.json maps each token text to one id")
        vocab[text] = token_id
    return vocab


def hf_files(tok: Tokenizer, *, eos_token: str | EllipsisType | None = ...,
             bos_token: str | EllipsisType | None = ...,
             pad_token: str | EllipsisType | None = ...,
             model_max_length: int | None = None) -> dict[str, bytes]:
    """{file name: bytes} of the HF folder for tok (see the module docstring and
    `Tokenizer.save_hf` for the arguments). ValueError where tok cannot be written so
    that HF encodes as it does, or an argument is not what is expected."""
    roles = _roles(tok, {"eos_token": eos_token, "bos_token": bos_token, "pad_token": pad_token})
    if model_max_length is not None and (not isinstance(model_max_length, int)
                                         or isinstance(model_max_length, bool)
                                         or model_max_length < 1):
        raise ValueError(f"model_max_length must be a positive int or None (no limit), got "
                         f"{model_max_length!r}")
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model_max_length or _NO_LIMIT,
        **roles,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": {str(token["id"]): {k: v for k, v in token.items() if k != "id"}
                                 for token in _added_tokens(tok)},
    }
    special_tokens_map = {role: token for role, token in roles.items() if token is not None}
    return {
        FILE_NAME: tokenizer_json_bytes(tok),
        CONFIG_NAME: _json_bytes(config),
        SPECIAL_TOKENS_MAP_NAME: _json_bytes(special_tokens_map),
    }


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _roles(tok: Tokenizer, given: dict[str, str | EllipsisType | None]) -> dict[str, str | None]:
    """{"eos_token": ..., "bos_token": ..., "pad_token": ...}: each as given (None: unset),
    or by default as _ROLE_DEFAULTS says."""
    roles: dict[str, str | None] = {}
    for role, token in given.items():
        if token is ...:
            token = next((t for t in _ROLE_DEFAULTS[role] if t in tok.special_ids), None)
            if role == "pad_token" and token is None:
                token = roles["eos_token"]
        elif token is not None and token not in tok.special_ids:
            raise ValueError(f"{role} {token!r} is not one of the tokenizer's special tokens "
                             f"{list(tok.special_ids)}: transformers would add it as a new "
                             f"token, with an id past the vocabulary. Pass one of them, or None")
        roles[role] = token
    return roles


def write_hf(tok: Tokenizer, path: str | os.PathLike, *,
             eos_token: str | EllipsisType | None = ...,
             bos_token: str | EllipsisType | None = ...,
             pad_token: str | EllipsisType | None = ...,
             model_max_length: int | None = None) -> Path:
    """Write tok for HF, never leaving a half-written file, and return tokenizer.json's path:
    - path a folder (made if missing): tokenizer.json, tokenizer_config.json and
      special_tokens_map.json in it, for `transformers.AutoTokenizer.from_pretrained`;
    - path a file name ending in .json (and not a folder): that one tokenizer.json, for
      `tokenizers.Tokenizer.from_file`; eos, bos, pad and model_max_length live in
      tokenizer_config.json, so giving one here is an error."""
    text = os.fspath(path)
    if text.endswith(".json") and not os.path.isdir(text):
        given = {"eos_token": eos_token, "bos_token": bos_token, "pad_token": pad_token,
                 "model_max_length": model_max_length}
        named = [name for name, value in given.items() if value is not ... and value is not None]
        if named:
            raise ValueError(f"{', '.join(named)} would be written to {CONFIG_NAME}, but path "
                             f"{text!r} names a single file: pass a folder to write it too")
        file = Path(text)
        write_files(file.parent, {file.name: tokenizer_json_bytes(tok)})
        return file
    write_files(text, hf_files(tok, eos_token=eos_token, bos_token=bos_token,
                               pad_token=pad_token, model_max_length=model_max_length))
    return Path(text) / FILE_NAME


def hf_files_for_save(tok: Tokenizer, folder: str | os.PathLike) -> dict[str, bytes]:
    """hf_files(tok) with its defaults, for `Tokenizer.save` to write beside its own files;
    where tok cannot be written for HF, {} and a warning saying why."""
    try:
        return hf_files(tok)
    except ValueError as e:
        warnings.warn(f"Tokenizer.save({os.fspath(folder)!r}): writing no Hugging Face files "
                      f"({', '.join(HF_FILES)}), so transformers cannot load this folder: {e}",
                      stacklevel=3)
        return {}


# --- the pre-tokenizer's regex --------------------------------------------------------

def _hf_splits(pattern: PatternLike) -> tuple[str, ...]:
    """The regexes of the Splits that cut as the pattern does: DeepSeek V3's three as its
    files hold them (bpe reads them back as the built-in), else hf_regex's one."""
    if pattern_name(pattern) == "deepseek_v3":
        return DEEPSEEK_V3_SPLITS
    return (hf_regex(pattern),)


def hf_regex(pattern: PatternLike) -> str:
    """The pattern as HF's Split is to be given it: a built-in's tested spelling, or a
    custom pattern spelled for Oniguruma so that it matches as in `regex` (see _Spelling);
    ValueError naming the construct where that cannot be promised."""
    name = pattern_name(pattern)
    if name in PATTERNS:
        return _HF_SPELLINGS.get(name, PATTERNS[name])
    import regex

    if getattr(pattern, "flags", 0) & regex.V1:
        raise ValueError(f"pattern {name!r} is compiled with the regex module's VERSION1 "
                         f"behaviour (set operations in [...]); only VERSION0 patterns are "
                         f"written for Hugging Face tokenizers")
    try:
        return _Spelling(name, reading=False).spell()
    except ValueError as e:
        raise ValueError(f"pattern {name!r} cannot be written for Hugging Face tokenizers so "
                         f"that their regex engine (Oniguruma) cuts text as the regex module "
                         f"does: {e}") from None


# Unicode general categories, which both engines know by these names. Ll and Lo included:
# they differ only where the engines' Unicode versions do (U+0295; see the module docstring).
_CATEGORIES = frozenset([
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
    "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
    "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co",
])
# Under (?i) Oniguruma folds fully: ß and ẞ match ss, ﬅ and ﬆ st, ﬀ ff, ﬁ fi, ﬂ fl (ﬃ, ﬄ);
# the regex module folds one character to one, so it matches none of these.
_FOLDED_PAIRS = frozenset({"ss", "st", "ff", "fi", "fl"})
_CONTROL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v"}
_INTERVAL = re.compile(r"\{(\d*)(,?)(\d*)\}")
_PROPERTY = re.compile(r"\\[pP]\{(\^?)([^}]*)\}")
_MAX_REPEAT = 100_000    # Oniguruma's ONIG_MAX_REPEAT_NUM
_GROUPS = {"(?<=": "lookbehind", "(?<!": "lookbehind", "(?=": "lookahead", "(?!": "lookahead",
           "(?:": "group", "(?>": "group", "(?i:": "ignorecase"}
_EXPORTED_GROUPS = "(...), (?:...), (?>...), (?=...), (?!...), (?<=...), (?<!...) and (?i:...)"
_WHY_ESCAPE = {
    "Z": "Oniguruma's \\Z also matches before a final newline: write \\z for the end",
    "N": "write the character itself",
}
# The regex module's \w (Unicode's word class, as UTS #18 has it), in classes Oniguruma
# knows alike; Oniguruma's own \w lacks ², ½ (No), Ⅻ (Nl, Alphabetic) and the joiners.
_WORD = r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D"
_WORD_SPELLINGS = {     # (outside a set, inside one)
    "w": (f"[{_WORD}]", _WORD), "W": (f"[^{_WORD}]", f"[^{_WORD}]"),
    "b": (f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))", ""),
    "B": (f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))", ""),
}
_WHY_WORD = ("Oniguruma's \\w (and so \\b) is letters, marks, decimal digits and connector "
             "punctuation, the regex module's also ², ½, Ⅻ and the zero-width joiners")


class _Part:
    """A parsed part of a regex: its Oniguruma spelling, its width in characters when fixed,
    whether it can match empty text, whether it is an assertion (matches no text), and, under
    (?i), the characters it matches."""

    __slots__ = ("assertion", "at", "chars", "nullable", "text", "width")

    def __init__(self, text: str, width: int | None, nullable: bool = False,
                 assertion: bool = False, chars: frozenset[str] = frozenset(), at: int = 0):
        self.text, self.width, self.nullable = text, width, nullable
        self.assertion, self.chars, self.at = assertion, chars, at


class _Spelling:
    """A recursive-descent reading of a regex in the `regex` module's syntax that accepts
    only constructs that match alike in Oniguruma, and spells them for it.

    Accepted: literal characters; escaped ASCII punctuation; \\n \\r \\t \\f \\v, \\xHH,
    \\uHHHH, \\UHHHHHHHH; \\s \\S \\d \\D \\w \\W; \\p{X}, \\P{X} and \\p{^X} for the
    general categories X; `.`; sets [...] of these and of ranges (no nested sets, no &&);
    the assertions \\A, \\z, \\b and \\B; groups (...), (?:...) and atomic (?>...);
    lookahead; lookbehind of a fixed width in each alternative; repeats * + ? {n} {n,} {,m}
    {n,m}, lazy or possessive; and case-insensitive parts (?i:...) (or (?i) at the start)
    of ASCII literals and sets of them, where no pair of neighbours folds to a ligature or ß
    (see _FOLDED_PAIRS) and no i (Oniguruma's (?i:i) does not match İ, the regex module's
    does). No alternative may match empty text.

    `reading`: the text is a HF file's regex, which must mean the same to both engines as
    written, so what writing would rewrite is refused instead."""

    def __init__(self, text: str, reading: bool):
        self.text, self.at, self.reading = text, 0, reading

    def spell(self) -> str:
        ignorecase = self.text.startswith("(?i)")
        self.at = 4 if ignorecase else 0
        part, branches = self._alternation(ignorecase, False)
        if self.at < len(self.text):
            self._refuse(self.at, ")", "it closes no group")
        for branch in branches:
            if branch.nullable:
                self._refuse(branch.at, branch.text or "|", "it can match empty text, and "
                             "after an empty match the engines go on differently (\\A|a cuts "
                             "'a1' into 'a', '1' in the regex module and leaves it whole in "
                             "Oniguruma)")
        return ("(?i)" if ignorecase else "") + part.text

    def _refuse(self, at: int, construct: str, why: str) -> NoReturn:
        raise ValueError(f"{construct!r} at character {at}: {why}")

    def _peek(self, ahead: int = 0) -> str:
        at = self.at + ahead
        return self.text[at] if at < len(self.text) else ""

    def _rewrite(self, at: int, construct: str, why: str) -> None:
        """A construct that Oniguruma spells otherwise: rewritten on writing, refused in a
        file (where Oniguruma reads it as written)."""
        if self.reading:
            self._refuse(at, construct, why)

    def _alternation(self, ignorecase: bool, behind: bool) -> tuple[_Part, list[_Part]]:
        branches = [self._sequence(ignorecase, behind)]
        while self._peek() == "|":
            self.at += 1
            branches.append(self._sequence(ignorecase, behind))
        widths = {branch.width for branch in branches}
        return _Part("|".join(branch.text for branch in branches),
                     widths.pop() if len(widths) == 1 else None,
                     any(branch.nullable for branch in branches)), branches

    def _sequence(self, ignorecase: bool, behind: bool) -> _Part:
        at = self.at
        parts: list[tuple[int, _Part]] = []
        while self._peek() not in ("", "|", ")"):
            start = self.at
            parts.append((start, self._repeat(self._atom(ignorecase, behind), ignorecase)))
        if ignorecase:
            self._check_folding(parts)
        widths = [part.width for _, part in parts]
        return _Part("".join(part.text for _, part in parts),
                     None if None in widths else sum(w or 0 for w in widths),
                     all(part.nullable for _, part in parts), at=at)

    def _check_folding(self, parts: list[tuple[int, _Part]]) -> None:
        for start, part in parts:
            if part.chars & {"i", "I"}:
                self._refuse(start, self.text[start:start + len(part.text)],
                             "Oniguruma's (?i:i) does not match İ (U+0130), the regex "
                             "module's does")
        for (start, left), (_, right) in pairwise(parts):
            pairs = {(a + b).lower() for a in left.chars for b in right.chars}
            if pairs & _FOLDED_PAIRS:
                self._refuse(start, left.text + right.text,
                             f"under (?i) Oniguruma matches {sorted(pairs & _FOLDED_PAIRS)[0]!r} "
                             f"to a ligature or ß (full case folding), the regex module "
                             f"does not")

    def _repeat(self, atom: _Part, ignorecase: bool) -> _Part:
        """atom with the repeat after it, if any."""
        mark = self._peek()
        if mark not in ("*", "+", "?", "{"):
            return atom
        at = self.at
        exact = False
        if mark == "{":
            match = _INTERVAL.match(self.text, at)
            if not match or not (match[1] or (match[2] and match[3])):
                self._refuse(at, "{", "write \\{ for a literal {")
            low = int(match[1] or 0)
            high = int(match[3]) if match[3] else None if match[2] else low
            exact = not match[2]
            self.at = match.end()
        else:
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[mark]
            self.at += 1
        if ignorecase:
            self._refuse(at, mark, "no repeats inside a case-insensitive part: Oniguruma's "
                                   "full case folding could match across them")
        if atom.assertion:
            self._refuse(at, mark, "a repeat of an assertion (which matches no text)")
        if max(low, high or 0) > _MAX_REPEAT:
            self._refuse(at, self.text[at:self.at],
                         f"Oniguruma repeats at most {_MAX_REPEAT} times")
        mode = self._peek() if self._peek() in ("?", "+") else ""
        self.at += len(mode)
        if self._peek() in ("*", "+", "?", "{"):
            self._refuse(self.at, self._peek(), "a repeat of a repeat: put the first in (?:...)")
        repeat = self.text[at:self.at]
        text = atom.text + repeat
        if mark == "{" and mode == "+":
            self._rewrite(at, repeat, f"Oniguruma reads X{repeat} as (?:X{repeat[:-1]})+, "
                                      f"not as a possessive repeat")
            text = f"(?>{atom.text}{repeat[:-1]})"
        elif exact and mode == "?":
            self._rewrite(at, repeat, f"Oniguruma reads X{repeat} as (?:X{repeat[:-1]})?, "
                                      f"an optional repeat")
            text = atom.text + repeat[:-1]
        width = atom.width * low if atom.width is not None and low == high else None
        return _Part(text, width, low == 0 or atom.nullable)

    def _atom(self, ignorecase: bool, behind: bool) -> _Part:
        char, at = self._peek(), self.at
        if char == "(":
            return self._group(ignorecase, behind)
        if char == "[":
            return self._set(ignorecase)
        if char == "\\":
            text, code, assertion = self._escape(ignorecase, in_set=False)
            if behind and assertion and text.startswith("(?"):
                self._refuse(at, self.text[at:self.at], "no word boundary inside a lookbehind")
            return _Part(text, 0 if assertion else 1, assertion, assertion,
                         frozenset(chr(code)) if code is not None else frozenset())
        if char in ("^", "$"):
            self._refuse(at, char, "Oniguruma's ^ and $ match at every line break: write \\A "
                                   "for the start and \\z for the end")
        if char == "{":
            self._refuse(at, char, "write \\{ for a literal {")
        if char in ("*", "+", "?"):
            self._refuse(at, char, "nothing to repeat")
        if ignorecase and (char == "." or not char.isascii()):
            self._refuse(at, char, "a case-insensitive part may hold only ASCII characters "
                                   "and sets of them")
        self.at += 1
        return _Part(char, 1, chars=frozenset(char))

    def _group(self, ignorecase: bool, behind: bool) -> _Part:
        at = self.at
        opener = next((o for o in _GROUPS if self.text.startswith(o, at)), None)
        if opener is None and self.text.startswith("(?", at):
            construct = self.text[at:self.text.find(")", at) + 1 or at + 4][:12]
            why = (f"only {_EXPORTED_GROUPS} are written"
                   if construct != "(?i)" else
                   "a (?i) after the start applies to the whole pattern in the regex module "
                   "and to the rest of its group in Oniguruma: write (?i:...) around the part")
            self._refuse(at, construct, why)
        kind = _GROUPS.get(opener or "", "capture")
        opener = opener or "("
        if ignorecase:
            self._refuse(at, opener, "no groups inside a case-insensitive part")
        if behind and kind not in ("group",):
            self._refuse(at, opener, "inside a lookbehind only (?:...) and (?>...) groups")
        self.at += len(opener)
        inner, branches = self._alternation(kind == "ignorecase", behind or kind == "lookbehind")
        if self._peek() != ")":
            self._refuse(at, opener, "the group is not closed")
        self.at += 1
        if kind == "lookbehind" and any(branch.width is None for branch in branches):
            self._refuse(at, self.text[at:self.at][:20],
                         "a lookbehind needs a fixed width in each alternative (Oniguruma's "
                         "rule)")
        text = opener + inner.text + ")"
        if kind in ("lookahead", "lookbehind"):
            return _Part(text, 0, True, True)
        return _Part(text, inner.width, inner.nullable)

    def _set(self, ignorecase: bool) -> _Part:
        at = self.at
        self.at += 1
        out = ["["]
        if self._peek() == "^":
            out.append("^")
            self.at += 1
        first, chars, only_chars = self.at, set(), True
        while True:
            char, here = self._peek(), self.at
            if char == "":
                self._refuse(at, "[", "the set is not closed")
            if char == "]" and here > first:
                self.at += 1
                break
            if char == "]":
                self._refuse(here, "]", "write \\] for a literal ] at the start of a set")
            if char == "[":
                self._refuse(here, "[", "Oniguruma reads [ inside a set as a nested set (and "
                                        "[:alpha:] as a POSIX class): write \\[")
            if self.text.startswith("&&", here):
                self._refuse(here, "&&", "Oniguruma reads && in a set as an intersection: "
                                         "write \\&&")
            if char == "-" and here > first and self._peek(1) != "]":
                self._refuse(here, "-", "write \\- for a literal - inside a set")
            low_text, low = self._set_item(ignorecase)
            if self._peek() == "-" and self._peek(1) not in ("]", ""):
                self.at += 1
                high_text, high = self._set_item(ignorecase)
                if low is None or high is None:
                    self._refuse(here, self.text[here:self.at], "a range needs one character "
                                 "at each end: write \\- for a literal -")
                if ignorecase:
                    self._refuse(here, self.text[here:self.at], "no ranges in a case-"
                                 "insensitive part: Oniguruma's (?i:[a-z]) does not match "
                                 "İ (U+0130), the regex module's does")
                out.append(f"{low_text}-{high_text}")
                continue
            out.append(low_text)
            if low is None:
                only_chars = False
            else:
                chars.add(chr(low))
        if ignorecase and (out[1:2] == ["^"] or not only_chars):
            self._refuse(at, self.text[at:self.at], "a case-insensitive part may hold only "
                         "ASCII characters and sets of them")
        return _Part("".join(out) + "]", 1, chars=frozenset(chars))

    def _set_item(self, ignorecase: bool) -> tuple[str, int | None]:
        """One character of a set (its spelling and code point) or a class escape (None)."""
        char = self._peek()
        if char == "\\":
            text, code, _ = self._escape(ignorecase, in_set=True)
            return text, code
        if ignorecase and not char.isascii():
            self._refuse(self.at, char, "a case-insensitive part may hold only ASCII "
                                        "characters and sets of them")
        self.at += 1
        return char, ord(char)

    def _escape(self, ignorecase: bool, in_set: bool) -> tuple[str, int | None, bool]:
        """An escape: (its Oniguruma spelling, its code point if it is one character,
        whether it is an assertion)."""
        at, char = self.at, self._peek(1)
        construct = "\\" + char
        if char == "":
            self._refuse(at, "\\", "a \\ ends the pattern")
        if char in ("p", "P"):
            match = _PROPERTY.match(self.text, at)
            if not match:
                self._refuse(at, construct, f"write \\{char}{{L}}: Oniguruma has no "
                                            f"one-letter form")
            if match[2] not in _CATEGORIES:
                self._refuse(at, match[0], "only the Unicode general categories (\\p{L}, "
                             "\\p{Lu}, \\p{N}, \\p{P}, ...) are written; other properties and "
                             "scripts may be unknown to Oniguruma or mean something else there")
            code: int | None = None
            self.at = match.end()
        elif char in ("s", "S", "d", "D") or (char in ("A", "z") and not in_set):
            code = None
            self.at += 2
        elif char in ("w", "W") or (char in ("b", "B") and not in_set):
            self.at += 2
            self._rewrite(at, construct, _WHY_WORD)
            if ignorecase:
                self._refuse(at, construct, "a case-insensitive part may hold only ASCII "
                                            "characters and sets of them")
            return _WORD_SPELLINGS[char][in_set], None, char in ("b", "B")
        elif char in _CONTROL_ESCAPES:
            code = ord(_CONTROL_ESCAPES[char])
            self.at += 2
        elif char in ("x", "u", "U"):
            digits = self.text[at + 2:at + 2 + {"x": 2, "u": 4, "U": 8}[char]]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}(?:[0-9A-Fa-f]{2}(?:[0-9A-Fa-f]{4})?)?", digits):
                self._refuse(at, construct, "expected hex digits after it")
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                self._refuse(at, construct + digits, "not a character")
            self.at += 2 + len(digits)
            if char == "U" or (char == "x" and code >= 0x80):
                self._rewrite(at, construct + digits, "Oniguruma reads \\xHH as a byte and has "
                                                      "no \\U: write \\uHHHH")
                if ignorecase and code >= 0x80:
                    self._refuse(at, construct + digits, "a case-insensitive part may hold "
                                                         "only ASCII characters")
                return (f"\\u{code:04X}" if code < 0x10000 else chr(code)), code, False
        elif char.isascii() and not char.isalnum():
            code = ord(char)           # escaped punctuation: the character itself in both
            self.at += 2
        else:
            why = _WHY_ESCAPE.get(char, "backreferences and octal escapes are not written"
                                  if char.isdigit() else "it means something else, or nothing, "
                                  "in Oniguruma, or is not known to be alike")
            self._refuse(at, construct, why)
        if ignorecase and code is None:
            self._refuse(at, self.text[at:self.at], "a case-insensitive part may hold only "
                                                    "ASCII characters and sets of them")
        return self.text[at:self.at], code, char in ("A", "z") and not in_set


# --- reading --------------------------------------------------------------------------

def _json_path(path: str | os.PathLike) -> Path:
    text = os.fspath(path)
    if os.path.isdir(text) or text.endswith(("/", os.sep)):
        return Path(text) / FILE_NAME
    return Path(text)


class HFFile(NamedTuple):
    """What read_tokenizer_json reads from a tokenizer.json."""

    vocab: dict[int, bytes]
    merges: list[tuple[bytes, bytes]]
    special_tokens: dict[str, int]          # the added tokens, text -> id
    pattern: PatternLike                    # a built-in's name ("cl100k") or a compiled regex
    ignore_merges: bool
    steps: Steps                            # normalizers, pre-tokenizer, flags, template
    source: dict                            # those fields' JSON, to write back


def read_tokenizer_json(path: str | os.PathLike) -> HFFile:
    """A HF tokenizer.json (or a folder holding one), checked to be a byte-level BPE that
    bpe encodes as HF does (bpe/hf_pipeline.py); the pattern is a built-in's name (such
    as "cl100k" or "llama3") when the regex is one.

    >>> vocab, merges, special_tokens, pattern, *_ = read_tokenizer_json("gpt2/tokenizer.json")
    """
    path = _json_path(path)
    where = f"tokenizer file {os.fspath(path)!r}"
    data = read_json_object(path, where)
    for key in ("truncation", "padding"):
        if data.get(key) is not None:
            raise ValueError(f"{where}: {key} is set, which would change encode's ids; bpe "
                             f"expects {key}: null")
    model = _check_model(data.get("model"), where)
    texts = _texts(model.get("vocab"), where)
    steps, source = read_steps(data, texts, where, _read_pattern)
    special_tokens = {token.content: token.id for token in steps.added}
    vocab = _vocab(texts, special_tokens, where)
    merges = _merges(model.get("merges"), texts, where)
    for token_id in (*steps.template.before, *steps.template.after) if steps.template else ():
        if token_id not in vocab:
            raise ValueError(f"{where}: post_processor adds id {token_id}, which is no token's")
    return HFFile(vocab, merges, special_tokens, steps.pattern, model["ignore_merges"], steps,
                  source)


def _read_pattern(regex: str, field: str) -> PatternLike:
    """A Split's regex as a pattern: a built-in's name for the spellings HF files use,
    else the regex compiled, where it means the same to the regex module as to HF's
    Oniguruma (see _Spelling)."""
    if regex in _HF_NAMES:
        return _HF_NAMES[regex]
    try:
        pattern = pattern_from_text(regex)
        # (cl100k as the regex module spells it has X{1,3}+, which Oniguruma reads otherwise)
        if not isinstance(pattern, str) or regex == PATTERNS["cl100k"]:
            _Spelling(regex, reading=True).spell()
    except ValueError as e:
        raise ValueError(f"{field}: the regex {regex!r} would not cut text in bpe (the regex "
                         f"module) as in HF (Oniguruma): {e}") from None
    return pattern


def _check_model(model, where: str) -> dict:
    """The model, checked to be a byte-level BPE's."""
    kind = model.get("type") if isinstance(model, dict) else None
    if kind != "BPE":
        raise ValueError(f"{where}: expected model type 'BPE', got {kind!r}")
    if any(model.get(key) for key in ("dropout", "continuing_subword_prefix",
                                      "end_of_word_suffix")):
        raise ValueError(f"{where}: the BPE model sets dropout, continuing_subword_prefix or "
                         f"end_of_word_suffix; a byte-level BPE has none of them")
    ignore_merges = model.setdefault("ignore_merges", False)
    if not isinstance(ignore_merges, bool):
        raise ValueError(f"{where}: the BPE model's ignore_merges is {ignore_merges!r}, "
                         f"expected true or false")
    return model


def _texts(encoder, where: str) -> dict[str, int]:
    """The model's vocab, checked: {token text: id}."""
    if not isinstance(encoder, dict):
        raise ValueError(f"{where}: expected model.vocab to be an object of token -> id")
    seen: dict[int, str] = {}
    for text, token_id in encoder.items():
        if not is_id(token_id):
            raise ValueError(f"{where}: token {text!r} has id {token_id!r}, expected an int >= 0")
        if token_id in seen:
            raise ValueError(f"{where}: id {token_id} is used by {seen[token_id]!r} and {text!r}")
        seen[token_id] = text
    return encoder


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
