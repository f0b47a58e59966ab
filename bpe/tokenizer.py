"""Tokenizer: the user-facing encode/decode class over the native kernels.

The class checks its inputs and holds the tables; the work happens in the kernels
(`bpe._encode`'s loops over the piece cache and merge table, `bpe._decode`) after
`bpe.patterns.Pretokenizer` has cut the text. The constructor and `from_files` follow the
Stanford CS336 interface; the rest follows tiktoken (`encode(..., allowed_special=,
disallowed_special=)`, `encode_ordinary`, `encode_batch`, `decode_single_token_bytes`,
`eot_token`, ...; the longer of those methods live in `bpe.tiktoken_api`).
"""
from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bpe import pretrained, tiktoken_api
from bpe._decode import TokenArena
from bpe._encode import (
    Specials,
    encode_ordinary,
    encode_pieces,
    encode_str,
    encode_strs,
    encode_utf8,
)
from bpe._ids import IdBuffer, PinnedInts, pinned_ints, track_lists
from bpe._merge_table import MergeTable
from bpe._piece_cache import PieceCache, PieceSlots
from bpe.atomic import write_files
from bpe.dropout import Dropout, dropout_of, part_dropout
from bpe.formats import (
    TokenTables,
    byte_ids,
    check_id_spread,
    check_pickled_fields,
    checked_merges,
    checked_vocab,
    id_array,
    is_integer,
    merge_ids,
    merge_rows,
    merges_from_ranks,
    merges_txt_bytes,
    naming_files,
    read_json_object,
    read_merges_txt,
    read_vocab_json,
    token_ids,
    vocab_json_bytes,
)
from bpe.patterns import (
    PatternLike,
    Pretokenizer,
    check_pattern,
    pattern_from_text,
    pattern_name,
    resolve_pattern,
)
from bpe.pools import even_slices, map_on_threads
from bpe.specials import (
    SpecialSet,
    allowed_in,
    assign_ids,
    first_special,
    native_specials,
    refuse_disallowed,
    special_rule,
)
from bpe.surrogates import chunks_without_surrogates, without_surrogates

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from types import EllipsisType

    import numpy as np
    import tiktoken

    from bpe.dataset import EncodedFile
    from bpe.hf_pipeline import Pipeline, Steps, Template
    from bpe.params import BPETokenizerParams
    from bpe.shards import EncodedShards

_CONFIG = "bpe_config.json"     # save's own config: the special tokens and the pattern
_OLD_CONFIG = "tokenizer_config.json"   # the config in folders saved by bpe 0.1 (now HF's)


def __getattr__(name: str) -> object:
    """BPETokenizerParams, from bpe.params on first use (see there why it lives apart)."""
    if name == "BPETokenizerParams":
        from bpe.params import BPETokenizerParams

        return BPETokenizerParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Tokenizer:
    """A byte-level BPE tokenizer.

    >>> tok = Tokenizer.from_files("vocab.json", "merges.txt", special_tokens=["<|endoftext|>"])
    >>> tok.encode("hello world<|endoftext|>")
    [31373, 995, 50256]
    >>> tok.decode([31373, 995])
    'hello world'
    """

    def __init__(
        self,
        vocab: dict[int, bytes],
        merges: Sequence[tuple[bytes, bytes]],
        special_tokens: Sequence[str] | Mapping[str, int] | None = None,
        pattern: PatternLike = "gpt2",
        *,
        name: str | None = None,
        ignore_merges: bool = False,
    ):
        """special_tokens: a list (each gets the id of its bytes in vocab, or a new id after
        the largest) or a dict of token -> id (tiktoken's form: the ids are kept).
        pattern: "gpt2", "cl100k", "o200k", "llama3", "qwen2" or "deepseek_v3" (or an alias such as
        "cl100k_base"), or a custom pattern compiled by the `regex` module
        (`regex.compile(r"...")`; a built-in's regex text runs as the built-in).
        ignore_merges: a piece that is itself a token (not a special one) is that token,
        unmerged, as tiktoken encodes and as Hugging Face's BPE option of this name does.
        Where merging a token's bytes gives that token (every token of GPT-2's, cl100k's and
        o200k's vocabularies) this changes nothing; Llama 3's vocabulary has tokens that
        merging never makes.

        encode treats the special tokens in text as tokens (the CS336 rule); the tokenizers
        of from_pretrained and from_tiktoken follow tiktoken's rule instead (see encode)."""
        if not isinstance(ignore_merges, bool):
            raise TypeError(f"ignore_merges must be True or False, got {ignore_merges!r}")
        vocab = checked_vocab(vocab)
        merges = checked_merges(merges)
        ids = token_ids(vocab)
        self._start(assign_ids(special_tokens, vocab, ids), pattern, name,
                    ignore_merges=ignore_merges)
        rows, singles = merge_ids(merges, ids), byte_ids(ids)
        # Kept as flat tables, not as the dict and list given: GPT-2's 50,257 bytes objects,
        # their ints and 50,000 tuples of two take 13 MB, the tables 1.3 MB. `vocab` and
        # `merges` are made from them on first use, as for a tokenizer loaded from tables.
        self._vocab: dict[int, bytes] | None = None
        self._merges: list[tuple[bytes, bytes]] | None = None
        self._tables = TokenTables.from_vocab(vocab, rows, singles)
        self._build(rows, singles, [vocab.get(i) for i in range(max(vocab) + 1)])

    def _start(self, special_ids: dict[str, int], pattern: PatternLike, name: str | None,
               tiktoken_rule: bool = False, ignore_merges: bool = False) -> None:
        """The part of construction that is not the vocabulary: names, special tokens,
        pre-tokenizers, caches."""
        self.pattern = check_pattern(pattern)
        self.name = name
        # encode's default for special tokens in text: raise (tiktoken) or encode them (CS336)
        self._tiktoken_rule = tiktoken_rule
        self._ignore_merges = ignore_merges     # (the merge table's whole tokens: _build)
        self.special_ids = special_ids
        self.special_tokens = list(self.special_ids)
        self._pretrained: str | None = None   # the bundled vocabulary's name, if it is one
        # Read from a tokenizer.json (_take_hf): its steps' JSON, the ids its post-processor
        # adds (encode's add_special_tokens), and the pipeline that cuts text in place of
        # the pattern where the steps are more than bpe's own.
        self._hf_source: dict | None = None
        self._hf_steps: Steps | None = None
        self._template: Template | None = None
        self._pipeline: Pipeline | None = None
        self._pretokenizers: dict[frozenset[str], Pretokenizer] = {}
        self._kernel_specials: dict[Pretokenizer, Specials] = {}   # for encode_str
        self._kernel_refused: dict[frozenset[str], Specials] = {}  # its refused tokens
        self._pretokenizer = self._pretokenizer_for(frozenset(self.special_tokens))
        self._free_caches: set[PieceCache] = set()   # piece caches not in use
        self._piece_slots: PieceSlots | None = None     # their shared short-piece table
        self._slots_lock = threading.Lock()             # remade in a forked child
        self._local = threading.local()                 # .cache: the one this thread used last
        _TOKENIZERS.add(self)

    def _build(self, merges: memoryview, bytes_ids: memoryview,
               tokens_by_id: list[bytes | None]) -> None:
        """The kernels' tables: merges as int32 ids (formats.merge_ids: the left, right and
        merged rows back to back), the id of each byte, and every id's bytes (None where no
        token has that id; the list is emptied, so that its bytes are freed before the merge
        table is made, if the caller holds no other reference). encode's lists share the
        ints of `_ints`, made on first use."""
        self._arena = TokenArena(tokens_by_id)
        whole = []
        if self._ignore_merges:             # every ordinary token, to find those to keep whole
            special = set(self.special_ids.values())
            whole = [(token, i) for i, token in enumerate(tokens_by_id)
                     if token is not None and i not in special]
        tokens_by_id.clear()
        self._merge_ids = merges
        self._merge_cols = merge_rows(merges)       # left, right, merged: views of merges
        self._byte_ids = bytes_ids
        self._table = MergeTable(*self._merge_cols, bytes_ids)
        if whole:
            self._table.take_whole_tokens([token for token, _ in whole], [i for _, i in whole])

    @cached_property
    def _ints(self) -> PinnedInts:
        """The ints that encode's lists share (32 bytes per id, so made on first use; after
        that, a plain attribute)."""
        return pinned_ints(self.n_vocab)

    @classmethod
    def _from_tables(cls, tables: TokenTables, special_ids: Mapping[str, int],
                     pattern: PatternLike, name: str | None,
                     tiktoken_rule: bool = False, ignore_merges: bool = False) -> Tokenizer:
        """A tokenizer from trusted tables (the bundled vocabularies', a pickled tokenizer's)
        and a dict of special tokens that fits them: no Python loop over the merges, and
        `vocab` and `merges` are made from the tables on first use."""
        self = cls.__new__(cls)
        if special_ids:
            check_id_spread(max(special_ids.values()), len(tables.ids) + len(special_ids),
                            "special token: id")
        by_id = tables.tokens_by_id()
        taken: set[int] = set()         # as specials.assign_ids: an id shared decodes as the first
        for token, token_id in special_ids.items():
            if token_id in taken:
                continue
            taken.add(token_id)
            if token_id >= len(by_id):
                by_id.extend([None] * (token_id + 1 - len(by_id)))
            if by_id[token_id] not in (None, token.encode("utf-8")):
                raise ValueError(f"special token {token!r} has id {token_id}, which the "
                                 f"vocabulary gives to {by_id[token_id]!r}")
            by_id[token_id] = token.encode("utf-8")
        self._start(dict(special_ids), pattern, name, tiktoken_rule, ignore_merges)
        self._vocab = self._merges = None
        self._tables = tables
        self._build(tables.merges, tables.byte_ids, by_id)
        return self

    @classmethod
    def from_pretrained(cls, name: str) -> Tokenizer:
        """A bundled vocabulary, offline: "gpt2" (= "r50k_base"), "cl100k_base",
        "o200k_base" or "o200k_harmony", with its pattern and special tokens; encodes equal
        tiktoken's, special tokens in text included (tiktoken's rule, see encode). Its
        `name` is the one asked for, as tiktoken's is. Built once per process and name, and
        shared."""
        bundled = pretrained.canonical(name)      # whose files (ValueError for no bundled one)
        with _PRETRAINED_LOCK:
            tok = _PRETRAINED.get(name)
            if tok is None:
                spec = pretrained.PRETRAINED[bundled]
                tables = pretrained.tables(name)     # precomputed at build time
                if tables is None:                   # not built: derived from the files
                    vocab, merges, spec = pretrained.read(name)
                    tok = Tokenizer(vocab, merges, spec.special_tokens, spec.pattern, name=name)
                    tok._tiktoken_rule = True
                else:
                    tok = Tokenizer._from_tables(tables, spec.special_tokens, spec.pattern, name,
                                                 tiktoken_rule=True)
                tok._pretrained = name
                _PRETRAINED[name] = tok
            return tok

    @classmethod
    def from_hf(cls, path: str | os.PathLike) -> Tokenizer:
        """Load a Hugging Face tokenizer.json (or a folder holding one, such as save_hf's)
        of a byte-level BPE: encode(text) equals HF's `encode(text,
        add_special_tokens=False).ids`, and encode(text, add_special_tokens=True) HF's
        default. Read: the BPE model (ignore_merges too); normalizers NFC, NFD, NFKC, NFKD;
        pre-tokenizers Split (any behavior, invert) and ByteLevel; added tokens with their
        flags (special, lstrip, rstrip, single_word, normalized); post-processors
        TemplateProcessing, RobertaProcessing and ByteLevel; Sequences of these. A file that
        HF would encode otherwise than bpe is refused, naming the field (bpe/hf.py,
        bpe/hf_pipeline.py). Where the file's steps are more than a pattern and special
        tokens, text is cut in Python: encode_file, encode_with_offsets and
        encode_with_unstable are refused then."""
        from bpe.hf import read_tokenizer_json

        hf = read_tokenizer_json(path)
        with naming_files(path):
            tok = cls(hf.vocab, hf.merges, special_tokens=hf.special_tokens, pattern=hf.pattern,
                      ignore_merges=hf.ignore_merges)
            tok._take_hf(hf.steps, hf.source)
        return tok

    def _take_hf(self, steps: Steps, source: dict) -> None:
        """The steps of the tokenizer.json this tokenizer was read from (see _start)."""
        from bpe.hf_pipeline import Pipeline

        self._hf_source, self._hf_steps = source, steps
        self._template = steps.template
        self._pipeline = None if steps.plain else Pipeline(steps)
        self._pretokenizers.clear()
        self._pretokenizer = self._pretokenizer_for(frozenset(self.special_tokens))

    def _refuse_pipeline(self, what: str) -> None:
        """ValueError where text is cut by a Hugging Face pipeline, which `what` cannot
        follow."""
        if self._pipeline is not None:
            raise ValueError(f"{what} is not available for this tokenizer: its tokenizer.json "
                             f"normalizes or pre-tokenizes text in steps bpe takes in Python "
                             f"(bpe/hf_pipeline.py), which {what} cannot follow; use encode, "
                             f"encode_batch or encode_to_numpy")

    def save_hf(self, path: str | os.PathLike, *, eos_token: str | EllipsisType | None = ...,
                bos_token: str | EllipsisType | None = ...,
                pad_token: str | EllipsisType | None = ...,
                model_max_length: int | None = None) -> Path:
        """Write the tokenizer for Hugging Face; returns the path of the tokenizer.json.

        path a folder (made if missing): tokenizer.json, tokenizer_config.json and
        special_tokens_map.json, which `transformers.AutoTokenizer.from_pretrained(path)`
        loads; it encodes as this tokenizer does (special tokens in text included, as the
        CS336 rule of `encode`), adds no bos or eos, and decodes alike.
        path a file name ending in .json: only that tokenizer.json, for
        `tokenizers.Tokenizer.from_file`.

        eos_token, bos_token, pad_token: special tokens of this tokenizer for transformers'
        roles, or None for none. By default eos and bos are "<|endoftext|>" where that is a
        special token ("</s>" and "<s>" otherwise, where they are), and pad is "<pad>" if
        there is one, else the eos token; with no pad token, `padding=True` raises in
        transformers until one is set. model_max_length: the model's context, for
        transformers' truncation (default: no limit).

        A custom pattern is written only where HF's regex engine cuts text as the regex
        module does; a construct it cannot promise that for raises ValueError naming it."""
        from bpe.hf import write_hf

        return write_hf(self, path, eos_token=eos_token, bos_token=bos_token,
                        pad_token=pad_token, model_max_length=model_max_length)

    @classmethod
    def from_tiktoken(cls, encoding: tiktoken.Encoding) -> Tokenizer:
        """The tokenizer of a `tiktoken.Encoding`: its ranks (as merges), pattern and special
        tokens with their ids; encodes as the encoding does (special tokens in text
        included: tiktoken's rule, see encode).

        tiktoken gives a piece that is itself a token that token's rank, without merging
        (ignore_merges): in most encodings merging its bytes gives that token anyway, and
        the merge table keeps the tokens where it does not whole."""
        ranks = encoding._mergeable_ranks
        vocab, merges = merges_from_ranks(ranks)
        tok = cls(vocab, merges, special_tokens=dict(encoding._special_tokens),
                  pattern=pattern_from_text(encoding._pat_str), name=encoding.name,
                  ignore_merges=True)
        tok._tiktoken_rule = True
        return tok

    def to_tiktoken(self) -> tiktoken.Encoding:
        """A `tiktoken.Encoding` with this vocabulary (ids as ranks), pattern and special
        tokens. tiktoken merges by the rank of the merged token, not by merge list: the two
        agree for the pretrained vocabularies and, in the tests, for ones from BPE training,
        but a hand-made merge list may encode differently there. tiktoken takes a piece that
        is a token whole, as ignore_merges does. Refused for a tokenizer read from a
        tokenizer.json with more steps than a pattern (tiktoken has no normalizers)."""
        import tiktoken

        self._refuse_pipeline("to_tiktoken")

        special = set(self.special_ids.values())
        ranks = {token: i for i, token in self.vocab.items() if i not in special}
        if len(ranks) != len(self.vocab) - len(special):
            raise ValueError("two ids share the same bytes; tiktoken needs one rank per token")
        return tiktoken.Encoding(self.name or "bpe", pat_str=resolve_pattern(self.pattern),
                                 mergeable_ranks=ranks, special_tokens=dict(self.special_ids))

    def __reduce__(self):
        """A bundled vocabulary is pickled by name (as tiktoken does), any other tokenizer
        as its tables: flat arrays of bytes, which load without a loop per merge."""
        if self._pretrained is not None:
            return _unpickle_pretrained, (self._pretrained,)
        tables = self._tables
        hf = None if self._hf_source is None else (self._hf_steps, self._hf_source)
        return _unpickle, (tables.to_state(), dict(self.special_ids), self.pattern, self.name,
                           self._tiktoken_rule, self._ignore_merges, hf)

    # --- construction from files --------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        vocab_filepath: str | os.PathLike,
        merges_filepath: str | os.PathLike,
        special_tokens: Sequence[str] | None = None,
        pattern: PatternLike = "gpt2",
    ) -> Tokenizer:
        """Load GPT-2 style vocab.json + merges.txt (token bytes in GPT-2's unicode alphabet)."""
        with naming_files(vocab_filepath, merges_filepath):
            return cls(read_vocab_json(vocab_filepath), read_merges_txt(merges_filepath),
                       special_tokens=special_tokens, pattern=pattern)

    def save(self, folder: str | os.PathLike) -> None:
        """Write the tokenizer into folder (made if missing), all files or none:
        vocab.json and merges.txt (GPT-2's format, which `from_files` reads) and
        bpe_config.json (special tokens, pattern), which `load` reads; and Hugging Face's
        files as `save_hf(folder)` writes them, so that transformers' AutoTokenizer loads
        the folder too. Where save_hf would refuse the tokenizer (a custom pattern HF's
        regex engine would cut otherwise), those are left out with a warning, and any an
        earlier save left there removed. A tokenizer read from a tokenizer.json is loaded
        back from the one written here ("hugging_face" in bpe_config.json), with its steps;
        ignore_merges is kept as "ignore_merges"."""
        from bpe.hf import HF_FILES, hf_files_for_save

        # a list, each token found again by its bytes in vocab.json; a dict where two share
        # an id (only the first's bytes are there)
        shared = len(set(self.special_ids.values())) < len(self.special_ids)
        config: dict[str, object] = {
            "special_tokens": dict(self.special_ids) if shared else self.special_tokens,
            "pattern": pattern_name(self.pattern),
            "special_token_rule": "tiktoken" if self._tiktoken_rule else "cs336"}
        if self._ignore_merges:
            config["ignore_merges"] = True
        if self._hf_source is not None:
            config["hugging_face"] = True
        files = {"vocab.json": vocab_json_bytes(self.vocab),
                 "merges.txt": merges_txt_bytes(self.merges), _CONFIG: _json_bytes(config)}
        hf = hf_files_for_save(self, folder)
        write_files(folder, files | hf)
        for name in () if hf else HF_FILES:         # an earlier save's, now stale
            (Path(folder) / name).unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Tokenizer:
        """Load a folder written by `save` (by bpe 0.1 too, whose config is in
        tokenizer_config.json), or else one with a Hugging Face tokenizer.json (`from_hf`)."""
        folder = Path(folder)
        config_path = folder / _CONFIG
        if not config_path.exists():
            old = folder / _OLD_CONFIG
            if old.exists() and {"special_tokens", "pattern"} <= read_json_object(
                    old, repr(os.fspath(old))).keys():
                config_path = old
            elif (folder / "tokenizer.json").exists():
                return cls.from_hf(folder)
            else:
                raise FileNotFoundError(f"{os.fspath(config_path)!r} is missing: is "
                                        f"{os.fspath(folder)!r} a folder written by "
                                        f"Tokenizer.save?")
        where = repr(os.fspath(config_path))
        config = read_json_object(config_path, where)
        pattern = config.get("pattern", "gpt2")
        if not isinstance(pattern, str):
            raise ValueError(f"{where}: expected \"pattern\" to be a name or regex text, got "
                             f"{pattern!r}")
        rule = config.get("special_token_rule", "cs336")
        if rule not in ("cs336", "tiktoken"):
            raise ValueError(f"{where}: expected \"special_token_rule\" to be \"cs336\" or "
                             f"\"tiktoken\", got {rule!r}")
        flags = {key: config.get(key, False) for key in ("ignore_merges", "hugging_face")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected \"{key}\" to be true or false, got "
                                 f"{value!r}")
        if flags["hugging_face"]:
            tok = cls.from_hf(folder)
        else:
            vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
            with naming_files(vocab_path, merges_path):
                tok = cls(read_vocab_json(vocab_path), read_merges_txt(merges_path),
                          special_tokens=config.get("special_tokens"),
                          pattern=pattern_from_text(pattern),
                          ignore_merges=flags["ignore_merges"])
        tok._tiktoken_rule = rule == "tiktoken"
        return tok

    # --- encoding -----------------------------------------------------------------------

    def encode(self, text: str, *, allowed_special: SpecialSet | None = None,
               disallowed_special: SpecialSet | None = None, dropout: float | None = None,
               seed: int | None = None, add_special_tokens: bool = False) -> list[int]:
        """Encode text. Special tokens in it follow one of two rules:
        - CS336 (a tokenizer made from a vocabulary, from files, from_hf or by training):
          the tokenizer's special tokens become their ids.
        - tiktoken (from_pretrained, from_tiktoken), or whenever allowed_special or
          disallowed_special is passed: only the allowed specials ("all" or a set; default
          none) become ids, and text matching a disallowed one (default "all" the others)
          raises ValueError, so user text cannot inject a special token; pass
          disallowed_special=() to encode such text as ordinary text.
        dropout: BPE-dropout (Provilkov et al.) by Hugging Face's rule: each merge a piece
        would make is skipped with probability p (it may still be made later in the
        piece); 0 is plain encode, 1 leaves bytes. seed: an int for the same ids on every
        run (None: random). See bpe/dropout.py.
        add_special_tokens: put the special tokens that the post-processor of the
        tokenizer.json this tokenizer was read from adds (from_hf: Llama 3's
        <|begin_of_text|>, say) around the ids, as Hugging Face's encode does by default.
        Off by default, as in tiktoken; other tokenizers add nothing.

        >>> tok.encode("hello world")
        [31373, 995]
        >>> tok.encode("hello world", dropout=0.5, seed=0)    # a different cut each seed
        """
        template = self._template_for(add_special_tokens)
        pre, refused = self._special_rule(allowed_special, disallowed_special)
        if dropout is None:
            ids = self._encode_buffer(text, pre, refused).to_list(self._ints)
        else:
            with self._dropping(dropout_of(dropout, seed)):
                ids = self._encode_buffer(text, pre, refused).to_list(self._ints)
        return ids if template is None else [*template.before, *ids, *template.after]

    def _template_for(self, add_special_tokens: bool) -> Template | None:
        """The template encode's add_special_tokens asks for (None: none to add)."""
        if type(add_special_tokens) is not bool:
            raise TypeError(f"add_special_tokens must be True or False, got "
                            f"{add_special_tokens!r}")
        return self._template if add_special_tokens else None

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text with no special tokens: "<|endoftext|>" is ordinary text here."""
        return self._encode_buffer(text, self._pretokenizer_for(frozenset())).to_list(self._ints)

    def encode_to_numpy(self, text: str, *, allowed_special: SpecialSet | None = None,
                        disallowed_special: SpecialSet | None = None,
                        num_threads: int = 1, dropout: float | None = None,
                        seed: int | None = None, add_special_tokens: bool = False
                        ) -> np.ndarray:
        """Like encode, as a NumPy array: uint16 when every id fits, else uint32.
        num_threads: a long text (several MB) is cut where no piece can straddle (as
        encode_file cuts files) and its parts encoded on that many threads; the same ids.
        dropout, seed, add_special_tokens: as in encode (on one thread: one random stream
        for the text)."""
        template = self._template_for(add_special_tokens)
        if template is not None:
            import numpy as np

            plain = self.encode_to_numpy(text, allowed_special=allowed_special,
                                         disallowed_special=disallowed_special,
                                         num_threads=num_threads, dropout=dropout, seed=seed)
            return np.concatenate([np.array(template.before, dtype=plain.dtype), plain,
                                   np.array(template.after, dtype=plain.dtype)])
        pre, refused = self._special_rule(allowed_special, disallowed_special)
        if dropout is not None:
            tiktoken_api.check_num_threads(num_threads)
            with self._dropping(dropout_of(dropout, seed)):
                return self._to_numpy(self._encode_buffer(text, pre, refused))
        if type(num_threads) is not int or num_threads != 1:     # (True == 1)
            tiktoken_api.check_num_threads(num_threads)
            if int(num_threads) > 1 and pre.native_id is not None and type(text) is str:
                if refused:
                    refuse_disallowed(text, refused)
                ids = self._encode_in_parts(text, pre, int(num_threads))
                if ids is not None:
                    return ids
        return self._to_numpy(self._encode_buffer(text, pre, refused))

    def _encode_in_parts(self, text: str, pre: Pretokenizer, num_threads: int
                         ) -> np.ndarray | None:
        """encode_to_numpy of a long text on threads: its UTF-8 cut into parts of at least
        _PART_BYTES, a few per thread, each encoded on its own; None where it is too short
        to cut, or holds lone surrogates (left to the one-thread path)."""
        if len(text) < 2 * _PART_BYTES:
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
        import numpy as np

        from bpe.counting import cut_rule, text_chunk_ranges

        ranges = text_chunk_ranges(data, pre.special_tokens, cut_rule(self.pattern) or False,
                                   max(_PART_BYTES, len(data) // (4 * num_threads) + 1))
        if len(ranges) < 2:
            return None
        view, specials, native_id = memoryview(data), self._specials(pre), pre.native_id
        assert native_id is not None

        def encode_part(span: tuple[int, int]) -> np.ndarray:
            out = IdBuffer()
            with self._borrowed_cache() as cache:
                encode_utf8(self._table, view[span[0]:span[1]], native_id, out, cache, specials)
            return self._to_numpy(out)

        return np.concatenate(map_on_threads(encode_part, ranges, num_threads))

    def encode_with_offsets(self, text: str, *, allowed_special: SpecialSet | None = None,
                            disallowed_special: SpecialSet | None = None,
                            ) -> tuple[list[int], list[tuple[int, int]]]:
        """(encode's ids, each token's (start, end) character span): text[start:end] are the
        characters that made the token. The tokens of a character split across several
        all get that character's span (as Hugging Face's offsets); a special token gets its
        own; offsets index text as given, lone surrogates included (bpe/offsets.py). For
        long texts, encode_with_offsets_to_numpy: a tuple per token costs more than the
        encode.

        >>> tok.encode_with_offsets("hi 😀")
        ([5303, 30325, 222], [(0, 2), (2, 4), (3, 4)])
        """
        from bpe.offsets import encode_with_offsets

        self._refuse_pipeline("encode_with_offsets")
        out, spans = encode_with_offsets(self, text, allowed_special, disallowed_special)
        return out.to_list(self._ints), list(zip(spans[:, 0].tolist(), spans[:, 1].tolist(),
                                                  strict=True))

    def encode_with_offsets_to_numpy(self, text: str, *, allowed_special: SpecialSet | None = None,
                                     disallowed_special: SpecialSet | None = None,
                                     ) -> tuple[np.ndarray, np.ndarray]:
        """encode_with_offsets as NumPy arrays: the ids as encode_to_numpy gives them, and
        the spans as an (n, 2) int64 array of (start, end) rows; for large texts."""
        from bpe.offsets import encode_with_offsets

        self._refuse_pipeline("encode_with_offsets_to_numpy")
        out, spans = encode_with_offsets(self, text, allowed_special, disallowed_special)
        return self._to_numpy(out), spans

    def _to_numpy(self, out: IdBuffer) -> np.ndarray:
        if self.n_vocab <= 1 << 16:
            return out.to_numpy(small=True)
        import numpy as np

        return out.to_numpy().view(np.uint32)  # ids are >= 0, so the bits are the same

    def encode_batch(self, texts: Iterable[str], *, num_threads: int | None = None,
                     allowed_special: SpecialSet | None = None,
                     disallowed_special: SpecialSet | None = None,
                     dropout: float | None = None, seed: int | None = None,
                     add_special_tokens: bool = False) -> list[list[int]]:
        """encode of each text, on num_threads threads (default: the number of cores, at
        most 8). The kernels release the GIL, so threads run in parallel. dropout, seed: as
        in encode, each text with a random stream of its own (from the seed and its place
        in the batch): the same ids on any number of threads. add_special_tokens: as in
        encode."""
        template = self._template_for(add_special_tokens)
        if template is not None:
            return [[*template.before, *ids, *template.after]
                    for ids in self.encode_batch(texts, num_threads=num_threads,
                                                 allowed_special=allowed_special,
                                                 disallowed_special=disallowed_special,
                                                 dropout=dropout, seed=seed)]
        if isinstance(texts, str):
            raise TypeError(f"encode_batch expects a list of str, got the str {texts!r:.40}: "
                            f"write [text] for a batch of one, or call encode")
        texts = texts if isinstance(texts, list) else list(texts)
        if any(type(text) is not str for text in texts):
            texts = [_exact_str(text) for text in texts]
        if num_threads is None:
            num_threads = min(os.cpu_count() or 1, 8)
        tiktoken_api.check_num_threads(num_threads)
        num_threads = int(num_threads)

        pre, refused = self._special_rule(allowed_special, disallowed_special)
        drop = dropout_of(dropout, seed)
        if drop is not None:
            def encode_one(k: int) -> list[int]:
                with self._dropping(part_dropout(drop, k)):
                    return self._encode_buffer(texts[k], pre, refused).to_list(self._ints)

            return map_on_threads(encode_one, range(len(texts)), num_threads)
        if refused and pre.native_id is None:
            for text in texts:              # tiktoken's check of each text
                if isinstance(text, str):
                    refuse_disallowed(text, refused)
            refused = frozenset()
        # Else the kernel checks each text as it encodes it (encode_strs): a text holding a
        # refused token comes back as None, and the first such text in the batch raises.
        check = self._refused_specials(refused) if refused else None
        held: list[str] = []

        def encode_slice(part: list[str]) -> list[list[int] | None]:
            if pre.native_id is None:
                return [self._encode_buffer(text, pre).to_list(self._ints) for text in part]
            with self._borrowed_cache() as cache:       # one GIL-free call for the slice
                lists = encode_strs(self._table, part, pre.native_id, cache,
                                    self._specials(pre), self._ints, check)
            for k, ids in enumerate(lists):
                if ids is None:         # lone surrogates (as encode does them), not a str,
                    text = part[k]      # or a refused special token (left as None)
                    if isinstance(text, str):
                        if refused and first_special(text, refused) is not None:
                            held.append(text)
                            continue
                        text = without_surrogates(text)
                    lists[k] = self._encode_buffer(text, pre).to_list(self._ints)
            return lists

        if num_threads == 1 or len(texts) < 2:
            result = encode_slice(texts)
        else:
            # Slices of about equal length, a few per thread: the threads finish together
            # even when the texts differ widely in length.
            bounds = even_slices([len(t) if isinstance(t, str) else 1 for t in texts],
                                  4 * num_threads)
            parts = map_on_threads(encode_slice, [texts[a:b] for a, b in bounds], num_threads)
            result = [ids for part in parts for ids in part]
        track_lists(result)         # encode_strs' lists, untracked while the batch was made
        if held:                    # the first text in the batch with a refused token
            refuse_disallowed(next(text for text, ids in zip(texts, result, strict=True)
                                   if ids is None), refused)
        return cast("list[list[int]]", result)      # no None left

    def encode_ordinary_batch(self, texts: Iterable[str], *, num_threads: int | None = 8
                              ) -> list[list[int]]:
        """encode_ordinary of each text, on num_threads threads (see encode_batch)."""
        return self.encode_batch(texts, num_threads=num_threads, disallowed_special=())

    def encode_with_unstable(self, text: str, *, allowed_special: SpecialSet | None = None,
                             disallowed_special: SpecialSet | None = None
                             ) -> tuple[list[int], list[list[int]]]:
        """tiktoken's encode_with_unstable, for text that more may follow: (the tokens of
        its start that no continuation changes, the token sequences that may come next),
        where each sequence decodes to bytes starting with the rest of text. Special tokens
        as in encode.

        >>> stable, completions = tok.encode_with_unstable("hello fanta")
        >>> stable, [277, 4910] in completions      # " fanta" as " f" + "anta"
        ([31373], True)
        """
        self._refuse_pipeline("encode_with_unstable")
        return tiktoken_api.encode_with_unstable(self, text, allowed_special,
                                                 disallowed_special)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of the one token whose text (or bytes) this is, special tokens included;
        KeyError where no single token is (as tiktoken).

        >>> tok.encode_single_token("hello")
        31373
        """
        return tiktoken_api.single_token_id(self._token_index, self.special_ids, text_or_bytes)

    def encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        """The ids of one piece: its bytes merged by BPE as they are, with no
        pre-tokenization and no special tokens (tiktoken's _encode_single_piece; what
        continued training starts each word from).

        >>> tok.encode_single_piece(b" hello")
        [23748]
        """
        if isinstance(text_or_bytes, str):
            piece = text_or_bytes.encode("utf-8")
        elif isinstance(text_or_bytes, (bytes, bytearray, memoryview)):
            piece = bytes(text_or_bytes)
        else:
            raise TypeError(f"encode_single_piece expects str or bytes, got "
                            f"{type(text_or_bytes).__name__}")
        return self._table.encode_piece(piece)

    def encode_file(self, paths: str | os.PathLike | Sequence[str | os.PathLike],
                    out: str | os.PathLike = "ids.npy", workers: int | None = None,
                    progress: bool | None = None, errors: str = "strict", *,
                    text_field: str = "text", executor: Executor | None = None,
                    shard_bytes: int | None = None, shard_format: str = "npy",
                    dropout: float | None = None, seed: int | None = None
                    ) -> EncodedFile | EncodedShards:
        """Encode text files (larger than memory too; also .gz, .zst, JSONL and Parquet,
        whose records are documents: `text_field` names their text) into the .npy `out`,
        uint16 when the vocabulary fits, and the document offsets `<out stem>.offsets.npy`;
        streaming, on `workers` threads. Returns a bpe.dataset.EncodedFile (ids and offsets
        paths, n_tokens, n_documents, dtype, sidecar, skipped); see bpe.dataset.encode_file
        (also for .bin and errors). `out` a folder: shards and a manifest (bpe.open_shards
        reads them), encoded on `executor` (a Dask Client, any concurrent.futures.Executor)
        or on threads. dropout, seed: as in encode, each chunk with a random stream of its
        own.

        >>> tok.encode_file(["train.txt"], "train.npy")
        >>> ids = np.load("train.npy", mmap_mode="r")
        >>> tok.encode_file(paths, "train_ids", executor=client)   # a Dask cluster
        >>> ids = bpe.open_shards("train_ids")
        """
        from bpe.dataset import encode_file

        self._refuse_pipeline("encode_file")
        return encode_file(self, paths, out, workers=workers, progress=progress, errors=errors,
                           text_field=text_field, executor=executor, shard_bytes=shard_bytes,
                           shard_format=shard_format, dropout=dropout, seed=seed)

    def _encode_buffer(self, text: str, pre: Pretokenizer,
                       refused: frozenset[str] = frozenset()) -> IdBuffer:
        """The ids of text under pre; refused: special tokens text must not hold
        (tiktoken's ValueError), checked by the kernel where the pattern is native."""
        if type(text) is not str:
            if not isinstance(text, str):
                raise TypeError(f"encode expects str, got {type(text).__name__}")
            text = _exact_str(text)
        if refused and pre.native_id is None:
            refuse_disallowed(text, refused)
            refused = frozenset()
        out = IdBuffer()
        try:
            self._encode_whole(text, pre, out, refused)
        except UnicodeEncodeError:
            out.clear()  # lone surrogates: encode the text as tiktoken would see it
            self._encode_whole(without_surrogates(text), pre, out, refused)
        return out

    def _encode_whole(self, text: str, pre: Pretokenizer, out: IdBuffer,
                      refused: frozenset[str] = frozenset()) -> None:
        if pre.native_id is None and hasattr(pre, "plain_for"):   # a Hugging Face pipeline
            pre = pre.plain_for(text) or pre
        if pre.native_id is None:
            for _ in self._encode_into([text], out, pre):
                pass
            return
        # A native pattern: one call does it all (the check for refused special tokens,
        # special tokens, pieces, merges), GIL-free.
        with self._borrowed_cache() as cache:
            if encode_str(self._table, text, pre.native_id, out, cache, self._specials(pre),
                          self._refused_specials(refused) if refused else None):
                return
        refuse_disallowed(text, refused)        # tiktoken's error, naming the token
        raise AssertionError("the kernel and specials.first_special disagree")  # pragma: no cover

    def _refused_specials(self, refused: frozenset[str]) -> Specials:
        specials = self._kernel_refused.get(refused)
        if specials is None:
            specials = self._kernel_refused[refused] = native_specials(sorted(refused),
                                                                       self.special_ids)
        return specials

    @contextmanager
    def _borrowed_cache(self) -> Iterator[PieceCache]:
        """A piece cache for one encode on this thread: the one it used last if free (its
        memory is still in this core's caches), else any free one, else a new one. Caches
        are lent per encode, not owned by threads, so they outlive short-lived threads
        (encode_batch's) and a generator resumed on another thread still finds one."""
        cache = None
        favourite = getattr(self._local, "cache", None)
        if favourite is not None:
            try:
                self._free_caches.remove(favourite)   # set operations are atomic
                cache = favourite
            except KeyError:
                pass                                  # another thread has it now
        if cache is None:
            try:
                cache = self._free_caches.pop()
            except KeyError:
                with self._slots_lock:
                    if self._piece_slots is None:      # made on first use: 18 MB
                        self._piece_slots = self._new_piece_slots()
                    slots = self._piece_slots
                cache = PieceCache(slots)
        dropout = getattr(self._local, "dropout", None)
        if dropout is not None:           # this thread's encode is under BPE-dropout
            cache.dropout, cache.rng = dropout.threshold, self._local.rng
        try:
            yield cache
        finally:
            if dropout is not None:
                self._local.rng, cache.dropout = cache.rng, 0
            if cache.shared is self._piece_slots and len(self._free_caches) < _CACHES_KEPT:
                self._local.cache = cache
                self._free_caches.add(cache)
            else:                       # dropped (or on a replaced table): its memory given back
                self._local.cache = None

    @contextmanager
    def _dropping(self, dropout: Dropout | None) -> Iterator[None]:
        """BPE-dropout for the encodes on this thread inside the block (None: none): the
        caches lent meanwhile merge by merge_dropout, their draws one stream from the
        seed."""
        if dropout is None:
            yield
            return
        self._local.dropout, self._local.rng = dropout, dropout.seed
        try:
            yield
        finally:
            self._local.dropout = None

    def _new_piece_slots(self, bits: int = 18) -> PieceSlots:
        """A short-piece table of 1 << bits lines, whose ways hold 16-bit ids where every id
        fits (packed), else 32-bit ones."""
        return PieceSlots(bits, packed=self.n_vocab <= 1 << 16)

    def _size_piece_cache(self, n_bytes: int) -> None:
        """Before encoding n_bytes of text in one go (encode_file): a short-piece table that
        holds that much text's working set. A large corpus has more distinct pieces than the
        18 MB table holds (the mix corpus: 490 thousand), so pieces met again and again are
        evicted and encoded anew; from _BIG_TEXT_BYTES of input the table has twice the
        lines, from twice that four times (72 MB, touched as used). Caches already lent keep
        the table they have; the new one starts empty."""
        bits = 18 if n_bytes < _BIG_TEXT_BYTES else 19 if n_bytes < 2 * _BIG_TEXT_BYTES else 20
        with self._slots_lock:
            if self._piece_slots is not None and self._piece_slots.bits >= bits:
                return
            self._piece_slots = self._new_piece_slots(bits)
            self._free_caches.clear()              # their table is the old one

    def _specials(self, pre: Pretokenizer) -> Specials:
        specials = self._kernel_specials.get(pre)
        if specials is None:
            specials = self._kernel_specials[pre] = native_specials(pre.special_tokens,
                                                                    self.special_ids)
        return specials

    def encode_utf8_to_numpy(self, data: bytes | bytearray | memoryview, *,
                             dropout: float | None = None, seed: int | None = None
                             ) -> np.ndarray:
        """encode_to_numpy of UTF-8 bytes, as of data.decode("utf-8"), without making the
        str where the pattern has a native matcher (encode_file reads files this way).
        UnicodeDecodeError where data is not UTF-8. dropout, seed: as in encode.

        >>> tok.encode_utf8_to_numpy(b"hello world").tolist()
        [31373, 995]
        """
        if dropout is not None:
            with self._dropping(dropout_of(dropout, seed)):
                return self.encode_utf8_to_numpy(data)
        pre = self._pretokenizer
        if pre.native_id is not None:
            out = IdBuffer()
            with self._borrowed_cache() as cache:
                if encode_utf8(self._table, data, pre.native_id, out, cache, self._specials(pre)):
                    return self._to_numpy(out)
        return self.encode_to_numpy(bytes(data).decode("utf-8"))

    def _special_rule(self, allowed_special: SpecialSet | None,
                      disallowed_special: SpecialSet | None
                      ) -> tuple[Pretokenizer, frozenset[str]]:
        """(the pre-tokenizer for these tiktoken-style arguments, the special tokens the
        text must not hold): the check is left to the caller (_encode_buffer)."""
        if allowed_special is None and disallowed_special is None and not self._tiktoken_rule:
            return self._pretokenizer, frozenset()
        allowed, disallowed = special_rule(self.special_tokens, allowed_special,
                                           disallowed_special)
        return self._pretokenizer_for(allowed), disallowed

    def _pretokenizer_checked(self, text: str, allowed_special: SpecialSet | None,
                              disallowed_special: SpecialSet | None) -> Pretokenizer:
        """The pre-tokenizer for these tiktoken-style arguments, after checking that text
        holds no disallowed special token (specials.allowed_in)."""
        if allowed_special is None and disallowed_special is None and not self._tiktoken_rule:
            return self._pretokenizer
        return self._pretokenizer_for(
            allowed_in(text, self.special_tokens, allowed_special, disallowed_special))

    def _pretokenizer_for(self, specials: frozenset[str]) -> Pretokenizer:
        pre = self._pretokenizers.get(specials)
        if pre is None:
            ordered = [token for token in self.special_tokens if token in specials]
            pre = self._pretokenizers[specials] = (
                Pretokenizer(self.pattern, ordered) if self._pipeline is None
                else cast("Pretokenizer", self._pipeline.pretokenizer(ordered)))
        return pre

    def encode_iterable(self, iterable: Iterable[str]) -> Iterator[int]:
        """Lazily encode a stream of str (such as an open file's lines); yields exactly the
        ids of encode("".join(iterable)) while holding about a megabyte of text at a time."""
        out = IdBuffer()
        for _ in self._encode_into(chunks_without_surrogates(iterable), out):
            yield from out.to_list(self._ints)
            out.clear()

    def _encode_into(self, chunks: Iterable[str], out: IdBuffer,
                     pre: Pretokenizer | None = None) -> Iterator[None]:
        """Append the ids of the text to out, pausing after each settled stretch."""
        sink = _EncodeSink(self._table, out, None, self.special_ids)
        steps = (pre or self._pretokenizer).feed(chunks, sink)
        while True:
            with self._borrowed_cache() as sink.cache:   # one thread at a time
                done = next(steps, _DONE) is _DONE
            if done:
                return
            yield

    # --- decoding -----------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of the ids, concatenated.

        >>> tok.decode_bytes([31373, 995])
        b'hello world'
        """
        return self._decode(ids, False, "strict")

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of the ids; bytes that are not valid UTF-8 become U+FFFD (or as
        `errors` says: "strict", "ignore", ...)."""
        return self._decode(ids, True, errors)

    def _decode(self, ids: Iterable[int], as_text: bool, errors: str):
        if errors not in _CHECKED_ERRORS:
            check_errors_handler(errors)
        if isinstance(ids, list):
            try:
                return self._arena.decode_list(ids, as_text, errors)
            except TypeError:
                pass  # items that are not Python ints (NumPy ints, say): the general path
        np = sys.modules.get("numpy")     # an array can only come from an imported NumPy
        if np is not None and isinstance(ids, np.ndarray):
            if ids.ndim == 1 and ids.dtype in (np.uint16, np.uint32, np.int32, np.int64):
                return self._arena.decode(np.ascontiguousarray(ids), as_text, errors)  # no copy
        elif not isinstance(ids, list):
            if isinstance(ids, _NOT_IDS) or not hasattr(ids, "__iter__"):
                raise TypeError(f"ids must be a sequence of ints (a list, tuple or array), "
                                f"got {type(ids).__name__}")
            ids = list(ids)     # a tuple, range, generator: as a list, if its items are ints
            try:
                return self._arena.decode_list(ids, as_text, errors)
            except TypeError:
                pass
        return self._arena.decode(id_array(ids), as_text, errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token; KeyError for an id outside the vocabulary (as tiktoken),
        TypeError for an id that is not an int (a float, a bool)."""
        if isinstance(token, bool) or not is_integer(token):
            raise TypeError(f"token id {token!r} is a {type(token).__name__}; expected an int")
        try:
            return self.vocab[token]
        except KeyError:
            raise KeyError(f"token id {token!r} is not in the vocabulary") from None

    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]:
        """The bytes of each token, as a list."""
        return [self.decode_single_token_bytes(token) for token in tokens]

    def decode_with_offsets(self, tokens: Iterable[int]) -> tuple[str, list[int]]:
        """(the text of the tokens, the index in it of each token's first character); a
        token that starts inside a character gets that character's index. As tiktoken's:
        UnicodeDecodeError where the bytes are not UTF-8.

        >>> tok.decode_with_offsets([31373, 995])
        ('hello world', [0, 5])
        """
        token_bytes = self.decode_tokens_bytes(tokens)
        return b"".join(token_bytes).decode("utf-8"), tiktoken_api.token_offsets(token_bytes)

    def decode_batch(self, batch: Iterable[Iterable[int]], *, errors: str = "replace",
                     num_threads: int = 8) -> list[str]:
        """decode of each sequence of ids. (num_threads is taken as tiktoken takes it; the
        decoding is a copy of bytes, done on this thread.)"""
        tiktoken_api.check_num_threads(num_threads)
        return [self.decode(ids, errors) for ids in batch]

    def decode_bytes_batch(self, batch: Iterable[Iterable[int]], *, num_threads: int = 8
                           ) -> list[bytes]:
        """decode_bytes of each sequence of ids (num_threads: see decode_batch)."""
        tiktoken_api.check_num_threads(num_threads)
        return [self.decode_bytes(ids) for ids in batch]

    # --- views --------------------------------------------------------------------------

    @property
    def vocab(self) -> dict[int, bytes]:
        """id -> token bytes, the special tokens included (made from the tokenizer's flat
        tables on first use)."""
        vocab = self._vocab
        if vocab is None:
            vocab = self._tables.vocab()
            for token, token_id in self.special_ids.items():   # as specials.assign_ids adds them
                vocab.setdefault(token_id, token.encode("utf-8"))
            self._vocab = vocab
        return vocab

    @property
    def merges(self) -> list[tuple[bytes, bytes]]:
        """The merges, (left bytes, right bytes) in rank order (made from the tokenizer's
        flat tables on first use)."""
        merges = self._merges
        if merges is None:
            vocab = self.vocab
            merges = self._merges = [
                (vocab[left], vocab[right])
                for left, right in zip(self._merge_cols[0].tolist(),
                                       self._merge_cols[1].tolist(), strict=True)]
        return merges

    @property
    def ignore_merges(self) -> bool:
        """Whether a piece that is itself a token is that token, unmerged (see __init__)."""
        return self._ignore_merges

    @property
    def hf_source(self) -> dict | None:
        """For a tokenizer read from a tokenizer.json (from_hf): the JSON of its normalizer,
        pre_tokenizer, added_tokens and post_processor, which save_hf writes back; else
        None."""
        return self._hf_source

    @property
    def n_vocab(self) -> int:
        """One more than the largest id."""
        return self._arena.n_vocab

    @property
    def eot_token(self) -> int:
        """The id of "<|endoftext|>"; KeyError if it is not a special token here."""
        try:
            return self.special_ids["<|endoftext|>"]
        except KeyError:
            raise KeyError(f"'<|endoftext|>' is not one of this tokenizer's special tokens "
                           f"{self.special_tokens!r}") from None

    @property
    def special_tokens_set(self) -> set[str]:
        return set(self.special_tokens)

    def is_special_token(self, token_id: int) -> bool:
        """Whether token_id is a special token's id."""
        if not is_integer(token_id):
            raise TypeError(f"token_id must be an int, got {type(token_id).__name__}")
        return token_id in self._special_id_set

    @property
    def max_token_value(self) -> int:
        """The largest id (tiktoken's name; n_vocab - 1)."""
        return self.n_vocab - 1

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every ordinary (not special) token, sorted (as tiktoken)."""
        return list(self._token_index.sorted_bytes)

    @cached_property
    def _special_id_set(self) -> frozenset[int]:
        return frozenset(self.special_ids.values())

    @cached_property
    def _token_index(self) -> tiktoken_api.TokenIndex:
        """The ordinary tokens by their bytes (made on first use)."""
        return tiktoken_api.TokenIndex.of(self.vocab, self._special_id_set)

    @property
    def params(self) -> BPETokenizerParams:
        merged = {(a, b): c for a, b, c in zip(*(row.tolist() for row in self._merge_cols),
                                               strict=True)}
        from bpe.params import BPETokenizerParams

        return BPETokenizerParams(vocab=dict(self.vocab), merges=merged)

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        specials = repr(self.special_tokens)
        if len(self.special_tokens) > 8:       # o200k_harmony has 1,091
            shown = ", ".join(map(repr, self.special_tokens[:5]))
            specials = f"[{shown}, ... {len(self.special_tokens)} in all]"
        return (f"Tokenizer({name}n_vocab={self.n_vocab}, n_merges={len(self._merge_cols[0])}, "
                f"special_tokens={specials!s}, pattern={self.pattern!r})")


_DONE = object()


def _exact_str(text):
    """A str subclass's value (numpy.str_, ...) as a plain str, which the kernels take;
    anything else as it is."""
    return str.__str__(text) if isinstance(text, str) else text


# What decode refuses as ids: iterable, but not a sequence of ids (bytes would decode as
# byte values, a set in no particular order, a dict as its keys).
_NOT_IDS = (str, bytes, bytearray, memoryview, set, frozenset, Mapping)
_CHECKED_ERRORS = {"strict", "replace", "ignore", "backslashreplace", "surrogateescape"}


def check_errors_handler(errors: object) -> None:
    """decode's `errors`: the name of a registered error handler (codecs.lookup_error),
    checked before any decoding, as a handler is only looked up on the first bad byte."""
    import codecs

    if not isinstance(errors, str):
        raise TypeError(f"errors={errors!r}; expected the name of an error handler such as "
                        f"'replace' or 'strict'")
    try:
        codecs.lookup_error(errors)
    except LookupError:
        raise LookupError(f"errors={errors!r} is not a registered error handler; expected "
                          f"'replace', 'strict', 'ignore', ...") from None

# Free piece caches a tokenizer keeps (a few MB each, once full): one per core, at least 8.
# More threads than that make more caches, which are dropped when given back.
_CACHES_KEPT = max(8, os.cpu_count() or 1)
# Text from which encode_file doubles the short-piece table (and from twice this, doubles it
# again): below it, a piece evicted is seldom met again. One pass over the 78 MB mix corpus
# takes as long on 2^18 lines as on 2^19 (0.29 s on one thread), and 18 MB less memory;
# two passes take 6% less time on 2^19, four passes 10% less on 2^20.
_BIG_TEXT_BYTES = 128 << 20
_PART_BYTES = 1 << 20       # encode_to_numpy(num_threads=...) cuts parts of at least this
_PRETRAINED: dict[str, Tokenizer] = {}     # from_pretrained's, built once
_PRETRAINED_LOCK = threading.Lock()
_TOKENIZERS: weakref.WeakSet[Tokenizer] = weakref.WeakSet()   # whose locks a child remakes


def _locks_anew() -> None:
    """In a forked child: every lock of this module made anew. A thread of the parent
    that held one (building a pretrained tokenizer, making a tokenizer's piece slots,
    filling a cached_property on Python < 3.12) is not in the child and would never let
    go of it."""
    global _PRETRAINED_LOCK
    _PRETRAINED_LOCK = threading.Lock()
    for tok in list(_TOKENIZERS):
        tok._slots_lock = threading.Lock()
    for attribute in vars(Tokenizer).values():
        if isinstance(attribute, cached_property) and hasattr(attribute, "lock"):
            attribute.lock = threading.RLock()      # Python 3.11's, held while computing


if hasattr(os, "register_at_fork"):     # POSIX only; Windows has no fork
    os.register_at_fork(after_in_child=_locks_anew)


def _json_bytes(data: object) -> bytes:
    import json  # here, not at the top: loading a tokenizer needs no JSON

    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def _unpickle_pretrained(name: str) -> Tokenizer:
    """Unpickle a bundled vocabulary: this process's shared one."""
    return Tokenizer.from_pretrained(name)


def _unpickle(state: dict, special_ids: dict[str, int], pattern: PatternLike,
              name: str | None, tiktoken_rule: bool = False, ignore_merges: bool = False,
              hf: tuple[Steps, dict] | None = None) -> Tokenizer:
    """Unpickle any other tokenizer from its tables (TokenTables.to_state), with the steps
    of the tokenizer.json it was read from, if it was."""
    from bpe.hf_pipeline import Steps

    check_pickled_fields(special_ids, name, tiktoken_rule)
    if not isinstance(ignore_merges, bool) or not (hf is None or (
            isinstance(hf, tuple) and len(hf) == 2 and isinstance(hf[0], Steps)
            and isinstance(hf[1], dict))):
        raise ValueError(f"this pickled tokenizer is damaged: its ignore_merges is "
                         f"{ignore_merges!r:.100} (expected a bool) and its Hugging Face steps "
                         f"{hf!r:.100} (expected None or (Steps, dict))")
    tok = Tokenizer._from_tables(TokenTables.from_state(state), special_ids,
                                 pattern_from_text(pattern) if isinstance(pattern, str)
                                 else pattern, name, tiktoken_rule, ignore_merges)
    if hf is not None:
        tok._take_hf(*hf)
    return tok


def _rebuild(vocab, merges, special_ids, pattern, name) -> Tokenizer:
    """Unpickle a tokenizer pickled by bpe 0.1.0 (its vocab and merges)."""
    return Tokenizer(vocab, merges, special_tokens=special_ids, pattern=pattern, name=name)


class _EncodeSink:
    """Receives the pre-tokenizer's output and appends ids (see patterns.Sink)."""

    __slots__ = ("cache", "out", "special_ids", "table")

    def __init__(self, table: MergeTable, out: IdBuffer, cache: PieceCache | None,
                 special_ids: dict):
        """cache: the piece cache, or None until one is borrowed (before any output)."""
        self.table, self.out, self.cache, self.special_ids = table, out, cache, special_ids

    def native(self, text: str, limit: int, pattern_id: int) -> int:
        assert self.cache is not None
        return encode_ordinary(self.table, text, limit, pattern_id, self.out, self.cache)

    def pieces(self, pieces: list[str]) -> None:
        assert self.cache is not None
        encode_pieces(self.table, pieces, self.out, self.cache)

    def special(self, token: str) -> None:
        self.out.append(self.special_ids[token])
