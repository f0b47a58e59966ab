"""Continued training: a tokenizer's vocabulary extended with merges learned on new text.

Every id, token and merge of the base stays as it is. The new text is cut by the base's
pattern and special tokens (and any new ones); each unique piece starts as the base's
encoding of it (its merges replayed), and the merge loop learns new merges on those words by
the training rule. A pair whose bytes together are already a token is never merged, so each
new merge makes a token of its own (docs/architecture.md, "Continued training"). The new
merges take the ids after the base's largest; with `specials_last`, after its ordinary
tokens, and the base's special tokens move after the new merges. New special tokens come
last.

The extended tokenizer keeps the base's ignore_merges and, for a base read from a
tokenizer.json, its steps (added tokens, post-processor), so that extending by no merges
gives a tokenizer that encodes as the base does. Special tokens in text follow the CS336
rule (encode makes them tokens), as for every trained tokenizer, whichever rule the base
followed. A tokenizer.json that normalizes or pre-tokenizes beyond its pattern cannot be
extended: training counts text cut by the pattern alone.

train.py counts the text and runs the merge loop; this module holds what differs from
training from bytes: the checks, the words as base ids, the ids, the extended Tokenizer.
"""
from __future__ import annotations

import copy
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bpe.patterns import PatternLike, check_pattern, pattern_name
from bpe.specials import MAX_ID, check_special_tokens

if TYPE_CHECKING:
    from bpe.tokenizer import Tokenizer
    from bpe.wordtable import Settings, WordTable


@dataclass(frozen=True)
class Extension:
    """What extending `base` makes: its pattern, every special token (the base's, then the
    new ones), the new special tokens that take ids of their own, the base's special tokens
    that move after the new merges (specials_last), the first new merge's id and how many
    merges to learn."""

    base: Tokenizer
    pattern: PatternLike
    special_tokens: list[str]
    new_ids: list[str]
    moved: list[str]
    first_id: int
    n_merges: int

    def tokens(self) -> list[bytes]:
        """The bytes of each id below first_id (b"" for an id no token keeps): the merge
        loop's base vocabulary."""
        vocab = self.base.vocab
        moved = {self.base.special_ids[token] for token in self.moved}
        return [b"" if i in moved else vocab.get(i, b"") for i in range(self.first_id)]

    def words(self, table: WordTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(symbols, offsets, counts) of the table's words as the base encodes them, for the
        merge loop; words of one token, which hold no pair, are left out."""
        data = table.symbols.astype(np.uint8).tobytes()
        bounds = table.offsets.tolist()
        encode = self.base.encode_single_piece
        ids, lengths, kept = array("i"), array("q", [0]), array("q")
        for w in range(table.n_words):
            piece_ids = encode(data[bounds[w]:bounds[w + 1]])
            if len(piece_ids) > 1:
                ids.extend(piece_ids)
                lengths.append(len(piece_ids))
                kept.append(w)
        return (np.asarray(ids, dtype=np.int32), np.cumsum(np.asarray(lengths, dtype=np.int64)),
                table.counts[np.asarray(kept, dtype=np.int64)])

    def tokenizer(self, pairs: np.ndarray) -> Tokenizer:
        """The extended Tokenizer, from the merge loop's pairs of ids (row k makes id
        first_id + k)."""
        from bpe.formats import token_ids
        from bpe.tokenizer import Tokenizer

        base = self.base
        vocab = dict(base.vocab)
        for token in self.moved:
            del vocab[base.special_ids[token]]
        merges = list(base.merges)
        next_id = self.first_id
        for a, b in pairs.tolist():
            merges.append((vocab[a], vocab[b]))
            vocab[next_id] = vocab[a] + vocab[b]
            next_id += 1
        special_ids = {token: base.special_ids[token] for token in base.special_tokens}
        ids = token_ids(vocab)
        for token in [*self.moved, *self.special_tokens[len(base.special_tokens):]]:
            if token in self.moved or token in self.new_ids:
                special_ids[token] = next_id
                vocab[next_id] = token.encode("utf-8")
                next_id += 1
            else:        # a new special token whose bytes are a token already: its id
                special_ids[token] = ids[token.encode("utf-8")]
        tok = Tokenizer(vocab, merges, special_tokens=special_ids, pattern=self.pattern,
                        ignore_merges=base.ignore_merges)
        if base.hf_source is not None:
            from bpe.hf import steps_for

            tok._take_hf(*steps_for(tok, self.hf_source(special_ids),
                                    "the extended tokenizer's tokenizer.json steps"))
        return tok

    def hf_source(self, special_ids: dict[str, int]) -> dict:
        """The base's tokenizer.json steps (Tokenizer.hf_source) with the extended ids: its
        added tokens at their ids now (moved ones after the new merges), the new special
        tokens after them, and its post-processor's ids moved alike."""
        source = copy.deepcopy(self.base.hf_source)
        assert source is not None
        added = source["added_tokens"]
        for token in added:
            token["id"] = special_ids.get(token["content"], token["id"])
        listed = {token["content"] for token in added}
        added.extend({"id": special_ids[text], "content": text, "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False, "special": True}
                     for text in self.special_tokens if text not in listed)
        added.sort(key=lambda token: token["id"])
        moved = {self.base.special_ids[text]: special_ids[text] for text in self.moved}
        source["post_processor"] = _moved_ids(source["post_processor"], moved)
        return source


def _moved_ids(node, moved: dict[int, int]):
    """A post-processor's JSON with the ids of moved special tokens replaced: the "ids" of
    TemplateProcessing's special tokens, the [token, id] of RobertaProcessing's cls and sep."""
    if isinstance(node, list):
        if len(node) == 2 and isinstance(node[0], str) and isinstance(node[1], int):
            return [node[0], moved.get(node[1], node[1])]
        return [_moved_ids(item, moved) for item in node]
    if isinstance(node, dict):
        return {key: ([moved.get(i, i) for i in value] if key == "ids" and isinstance(value, list)
                      else _moved_ids(value, moved)) for key, value in node.items()}
    return node


def check_base(base: object) -> Tokenizer:
    """base, if it is a Tokenizer whose text is cut by its pattern alone; else a TypeError
    saying how to get one, or a ValueError for a tokenizer.json's Python pipeline."""
    from bpe.tokenizer import Tokenizer

    if not isinstance(base, Tokenizer):
        raise TypeError(f"base must be a bpe.Tokenizer (Tokenizer.load(folder), "
                        f"bpe.get_encoding(name), Tokenizer.from_hf(path), ...), got "
                        f"{type(base).__name__}")
    if base._pipeline is not None:
        raise ValueError("base: this tokenizer's tokenizer.json normalizes or pre-tokenizes "
                         "text in steps beyond its pattern (bpe/hf_pipeline.py); training "
                         "counts text cut by the pattern alone, so it cannot extend it")
    return base


def base_pattern(base: object, pattern: PatternLike | None) -> PatternLike:
    """The base's pattern, after checking that base is a Tokenizer (check_base) and that
    `pattern` is None or the same (the base's merges were learned on pieces its pattern
    cut)."""
    base = check_base(base)
    if pattern is not None and pattern_name(check_pattern(pattern)) != pattern_name(base.pattern):
        raise ValueError(f"pattern {pattern_name(pattern)!r} is not the base tokenizer's "
                         f"{pattern_name(base.pattern)!r}: its merges were learned on pieces "
                         f"its pattern cut (leave pattern out to use it)")
    return base.pattern


def check_table(base: Tokenizer, counted_with: Settings) -> None:
    """A count table's (pattern, special tokens), where it records them, must be the base's
    pattern and hold the base's special tokens."""
    table_pattern, table_specials = counted_with
    if table_pattern is not None and pattern_name(table_pattern) != pattern_name(base.pattern):
        raise ValueError(f"the count table was counted with pattern "
                         f"{pattern_name(table_pattern)!r}, not the base tokenizer's "
                         f"{pattern_name(base.pattern)!r}: extending it needs counts cut by "
                         f"its pattern")
    missing = [t for t in base.special_tokens
               if table_specials is not None and t not in table_specials]
    if missing:
        raise ValueError(f"the count table was counted without the base tokenizer's special "
                         f"tokens {missing!r}: its text was not cut at them")


def plan(base: object, vocab_size: int, pattern: PatternLike | None,
         special_tokens: Sequence[str] | None, specials_last: bool) -> Extension:
    """Check the arguments of training with `base`, before anything is counted, and say
    what the extension makes.

    pattern: None for the base's (base_pattern). special_tokens: new ones, added to the
    base's (the base's own may be listed too). vocab_size: the whole extended vocabulary."""
    base = check_base(base)
    pattern = base_pattern(base, pattern)
    if not isinstance(specials_last, bool):
        raise TypeError(f"specials_last={specials_last!r}; expected True or False")
    if not isinstance(vocab_size, (int, np.integer)) or isinstance(vocab_size, bool):
        raise TypeError(f"vocab_size={vocab_size!r} must be an int")
    given = check_special_tokens(special_tokens)
    specials = [*base.special_tokens, *(t for t in given if t not in base.special_ids)]
    vocab = base.vocab
    existing = set(vocab.values())
    new_ids = [t for t in specials[len(base.special_tokens):]
               if t.encode("utf-8") not in existing]
    moved: list[str] = []
    first_id = max(vocab) + 1
    if specials_last:
        # A special token of one byte, or one a merge makes, is an ordinary token too: it stays.
        tokens = {t.encode("utf-8") for t in base.special_tokens if len(t.encode("utf-8")) > 1}
        made = {a + b for a, b in base.merges if a + b in tokens}
        moved = sorted((t for t in base.special_tokens if t.encode("utf-8") in tokens - made),
                       key=base.special_ids.__getitem__)
        kept = set(vocab) - {base.special_ids[t] for t in moved}
        first_id = max(kept) + 1
    floor = len(vocab) + len(new_ids)
    if vocab_size < floor:
        plus = f" plus {len(new_ids)} new special token{'s' * (len(new_ids) != 1)}" \
            if new_ids else ""
        raise ValueError(f"vocab_size={vocab_size} is smaller than the base tokenizer's "
                         f"{len(vocab)} tokens{plus}; the extended vocabulary holds all of "
                         f"them")
    n_merges = int(vocab_size) - floor
    if first_id + n_merges + len(moved) + len(new_ids) - 1 > MAX_ID:
        raise ValueError(f"vocab_size={vocab_size} takes ids past {MAX_ID:,} (ids are 32-bit) "
                         f"after the base's largest, {first_id - 1}")
    return Extension(base, pattern, specials, new_ids, moved, first_id, n_merges)
