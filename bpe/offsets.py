"""Character offsets of tokens: which characters of the text made each token.

Highlighting, aligning labels (NER) with tokens and showing "what made this token" need,
per token, the (start, end) span of `text` it came from, as Hugging Face's
`Encoding.offsets` gives it. This module computes them after encoding from the ids alone,
in a few vectorised passes over them (none over the text), so that offsets cost little
next to the encode itself.

A token's bytes say how many characters begin in it: its bytes that are not UTF-8
continuation bytes (10xxxxxx). Two tables per tokenizer, made once, hold that count and
whether the token begins with a continuation byte, by id. Then, for the ids of a text:

- a token ends where the characters begun so far end (the running sum of the counts): a
  token that ends inside a character ends at that character's end;
- a token starts where the one before it ends, or, if it begins inside a character, at
  that character's start (one earlier). So the tokens of a split character all get that
  character's span, the rule of HF's offsets;
- a special token is its own text, and gets its span the same way.

Offsets index the text as given. A str may hold lone surrogates, which UTF-8 cannot hold;
encode replaces them as tiktoken does (bpe/surrogates.py): a valid pair becomes the one
character it stands for, a lone surrogate U+FFFD. A lone surrogate stays one character,
so only pairs move the offsets: where the spans end before the text does, they are mapped
back, a pair spanning its two code points.
"""
from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from bpe._ids import IdBuffer
    from bpe.specials import SpecialSet
    from bpe.tokenizer import Tokenizer


class TokenChars(NamedTuple):
    """Per id (zero where no token has the id): the characters that begin in the token,
    and whether it begins with a UTF-8 continuation byte (inside a character)."""

    begun: np.ndarray       # int64
    inside: np.ndarray      # bool


_TABLES: weakref.WeakKeyDictionary[Tokenizer, TokenChars] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def _lock_anew() -> None:
    """In a forked child: a lock a parent's thread held would never be let go."""
    global _TABLES_LOCK
    _TABLES_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):     # POSIX only; Windows has no fork
    os.register_at_fork(after_in_child=_lock_anew)


def encode_with_offsets(tok: Tokenizer, text: str, allowed_special: SpecialSet | None,
                        disallowed_special: SpecialSet | None) -> tuple[IdBuffer, np.ndarray]:
    """(the ids of tok.encode(text, ...) in a buffer, their (n, 2) int64 character spans)."""
    if not isinstance(text, str):
        raise TypeError(f"encode_with_offsets expects text as a str, got {type(text).__name__}")
    pre = tok._pretokenizer_checked(text, allowed_special, disallowed_special)
    out = tok._encode_buffer(text, pre)     # lone surrogates replaced as encode does
    spans = char_spans(token_chars(tok), out.to_numpy(), text.isascii())
    n_chars = int(spans[-1, 1]) if len(spans) else 0
    if n_chars != len(text):                # surrogate pairs, one character each to encode
        spans = original_starts(text, n_chars)[spans]
    return out, spans


def char_spans(chars: TokenChars, ids: np.ndarray, ascii: bool) -> np.ndarray:
    """The (n, 2) int64 character spans of the tokens `ids`, back to back from character 0
    (ascii: the text is all ASCII, so no token begins inside a character)."""
    spans = np.empty((len(ids), 2), dtype=np.int64)
    ends = spans[:, 1]
    np.cumsum(chars.begun[ids], out=ends)
    spans[1:, 0] = ends[:-1]
    spans[:1, 0] = 0
    if not ascii:
        spans[np.flatnonzero(chars.inside[ids]), 0] -= 1
    return spans


def token_chars(tok: Tokenizer) -> TokenChars:
    """tok's TokenChars, made on first use and kept while tok lives."""
    chars = _TABLES.get(tok)
    if chars is None:
        chars = _token_chars(tok)
        with _TABLES_LOCK:
            _TABLES[tok] = chars
    return chars


def _token_chars(tok: Tokenizer) -> TokenChars:
    tables = tok._tables
    ids, lengths, blob = np.asarray(tables.ids), np.asarray(tables.lengths), tables.blob
    leading = np.frombuffer(blob, dtype=np.int8) >= -64     # not 0x80..0xBF
    before = np.zeros(leading.size + 1, dtype=np.int64)     # before[j]: in blob[:j]
    np.cumsum(leading, out=before[1:])
    bounds = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    firsts = bounds[:-1][lengths > 0]
    begun = np.zeros(tok.n_vocab, dtype=np.int64)
    inside = np.zeros(tok.n_vocab, dtype=bool)
    begun[ids] = before[bounds[1:]] - before[bounds[:-1]]
    inside[ids[lengths > 0]] = ~leading[firsts]
    for token, token_id in reversed(tok.special_ids.items()):  # a shared id: the first's text
        begun[token_id], inside[token_id] = len(token), False
    return TokenChars(begun, inside)


def original_starts(text: str, n_clean: int) -> np.ndarray:
    """For each character of without_surrogates(text) (n_clean of them) and one past the
    end, where it starts in text: a valid surrogate pair is one character there and two
    here, a lone surrogate one in both."""
    units = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    high = (units >= 0xD800) & (units <= 0xDBFF)
    low = (units >= 0xDC00) & (units <= 0xDFFF)
    second = np.zeros(units.size, dtype=bool)   # the low half of a pair: no character of its own
    second[1:] = high[:-1] & low[1:]
    starts = np.append(np.flatnonzero(~second), units.size)
    if starts.size != n_clean + 1:
        raise ValueError(f"the tokens hold {n_clean} characters, expected {starts.size - 1}: "
                         f"those of the text with its surrogate pairs joined")
    return starts
