"""Tokenizer: the user-facing encode/decode class over the native kernels.

The class checks its inputs and holds the tables; the work happens in the kernels
(`bpe._encode`'s loops over the piece cache and merge table, `bpe._decode`) after
`bpe.patterns.Pretokenizer` has cut the text. The constructor and `from_files` follow the
Stanford CS336 interface; the rest follows tiktoken (`encode(..., allowed_special=,
disallowed_special=)`, `encode_ordinary`, `encode_batch`, `decode_single_token_bytes`,
`eot_token`, ...).
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from bpe import pretrained
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
from bpe.formats import (
    TokenTables,
    byte_ids,
    checked_merges,
    checked_vocab,
    id_array,
    merge_ids,
    merges_from_ranks,
    merges_txt_bytes,
    read_json_object,
    read_merges_txt,
    read_vocab_json,
    token_ids,
    vocab_json_bytes,
)
from bpe.patterns import Pretokenizer, pattern_name, resolve_pattern
from bpe.pools import even_slices, thread_pool
from bpe.specials import SpecialSet, allowed_in, assign_ids, native_specials
from bpe.surrogates import chunks_without_surrogates, without_surrogates

if TYPE_CHECKING:
    import tiktoken

    from bpe.dataset import EncodedFile

_CONFIG = "tokenizer_config.json"


@dataclass(frozen=True)
class BPETokenizerParams:
    """The lecture's view of a BPE tokenizer: id -> bytes, and (id, id) -> merged id."""

    vocab: dict[int, bytes]
    merges: dict[tuple[int, int], int]


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
        pattern: str = "gpt2",
        *,
        name: str | None = None,
    ):
        """special_tokens: a list (each gets the id of its bytes in vocab, or a new id after
        the largest) or a dict of token -> id (tiktoken's form: the ids are kept)."""
        vocab = checked_vocab(vocab)
        merges = checked_merges(merges)
        ids = token_ids(vocab)
        self._start(assign_ids(special_tokens, vocab, ids), pattern, name)
        self._vocab: dict[int, bytes] | None = vocab
        self._merges: list[tuple[bytes, bytes]] | None = merges
        self._tables: TokenTables | None = None
        merge_cols = merge_ids(merges, ids)
        self._build(merge_cols, byte_ids(ids), [vocab.get(i) for i in range(max(vocab) + 1)])

    def _start(self, special_ids: dict[str, int], pattern: str, name: str | None) -> None:
        """The part of construction that is not the vocabulary: names, special tokens,
        pre-tokenizers, caches."""
        self.pattern = pattern
        self.name = name
        self.special_ids = special_ids
        self.special_tokens = list(self.special_ids)
        self._pretrained: str | None = None   # the bundled vocabulary's name, if it is one
        self._pretokenizers: dict[frozenset[str], Pretokenizer] = {}
        self._kernel_specials: dict[Pretokenizer, Specials] = {}   # for encode_str
        self._pretokenizer = self._pretokenizer_for(frozenset(self.special_tokens))
        self._free_caches: set[PieceCache] = set()   # piece caches not in use
        self._piece_slots: PieceSlots | None = None     # their shared short-piece table
        self._slots_lock = threading.Lock()
        self._local = threading.local()                 # .cache: the one this thread used last

    def _build(self, merge_cols: np.ndarray, bytes_ids: np.ndarray,
               tokens_by_id: list[bytes | None]) -> None:
        """The kernels' tables: merges as ids (formats.merge_ids' rows), the id of each byte,
        and every id's bytes (None where no token has that id; the list is emptied, so that
        its bytes are freed before the merge table is made, if the caller holds no other
        reference). encode's lists share the ints of `_ints`, made on first use."""
        self._arena = TokenArena(tokens_by_id)
        tokens_by_id.clear()
        self._merge_cols = merge_cols
        self._byte_ids = bytes_ids
        self._table = MergeTable(merge_cols[0], merge_cols[1], merge_cols[2], bytes_ids)

    @cached_property
    def _ints(self) -> PinnedInts:
        """The ints that encode's lists share (32 bytes per id, so made on first use; after
        that, a plain attribute)."""
        return pinned_ints(self.n_vocab)

    @classmethod
    def _from_tables(cls, tables: TokenTables, special_ids: Mapping[str, int], pattern: str,
                     name: str | None) -> Tokenizer:
        """A tokenizer from trusted tables (the bundled vocabularies', a pickled tokenizer's)
        and a dict of special tokens that fits them: no Python loop over the merges, and
        `vocab` and `merges` are made from the tables on first use."""
        self = cls.__new__(cls)
        by_id = tables.tokens_by_id()
        for token, token_id in special_ids.items():
            if token_id >= len(by_id):
                by_id.extend([None] * (token_id + 1 - len(by_id)))
            by_id[token_id] = token.encode("utf-8")
        self._start(dict(special_ids), pattern, name)
        self._vocab = self._merges = None
        self._tables = tables
        self._build(tables.merges, tables.byte_ids, by_id)
        return self

    @classmethod
    def from_pretrained(cls, name: str) -> Tokenizer:
        """A bundled vocabulary, offline: "gpt2" (= "r50k_base"), "cl100k_base" or
        "o200k_base", with its pattern and special tokens; encodes equal tiktoken's. Built
        once per process and shared."""
        name = pretrained.canonical(name)
        with _PRETRAINED_LOCK:
            tok = _PRETRAINED.get(name)
            if tok is None:
                spec = pretrained.PRETRAINED[name]
                tables = pretrained.tables(name)     # precomputed at build time
                if tables is None:                   # not built: derived from the files
                    vocab, merges, spec = pretrained.read(name)
                    tok = Tokenizer(vocab, merges, spec.special_tokens, spec.pattern, name=name)
                else:
                    tok = Tokenizer._from_tables(tables, spec.special_tokens, spec.pattern, name)
                tok._pretrained = name
                _PRETRAINED[name] = tok
            return tok

    @classmethod
    def from_hf(cls, path: str | os.PathLike) -> Tokenizer:
        """Load a Hugging Face tokenizer.json (or a folder holding one) of a byte-level BPE;
        ids equal HF's `encode(text, add_special_tokens=False)`. See bpe/hf.py for what is
        accepted."""
        from bpe.hf import read_tokenizer_json

        vocab, merges, special_tokens, pattern = read_tokenizer_json(path)
        return cls(vocab, merges, special_tokens=special_tokens, pattern=pattern)

    def save_hf(self, path: str | os.PathLike) -> Path:
        """Write a Hugging Face tokenizer.json (into path, if it is a folder) that
        `tokenizers.Tokenizer.from_file` loads and encodes with exactly as this one does."""
        from bpe.hf import write_tokenizer_json

        return write_tokenizer_json(self, path)

    @classmethod
    def from_tiktoken(cls, encoding: tiktoken.Encoding) -> Tokenizer:
        """The tokenizer of a `tiktoken.Encoding`: its ranks (as merges), pattern and special
        tokens with their ids; encodes as the encoding does."""
        vocab, merges = merges_from_ranks(encoding._mergeable_ranks)
        return cls(vocab, merges, special_tokens=dict(encoding._special_tokens),
                   pattern=pattern_name(encoding._pat_str), name=encoding.name)

    def to_tiktoken(self) -> tiktoken.Encoding:
        """A `tiktoken.Encoding` with this vocabulary (ids as ranks), pattern and special
        tokens. tiktoken merges by the rank of the merged token, not by merge list: the two
        agree for the pretrained vocabularies and, in the tests, for ones from BPE training,
        but a hand-made merge list may encode differently there."""
        import tiktoken

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
        tables = self._tables or TokenTables.from_vocab(self.vocab, self._merge_cols,
                                                        self._byte_ids)
        return _unpickle, (tables.to_state(), dict(self.special_ids), self.pattern, self.name)

    # --- construction from files --------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        vocab_filepath: str | os.PathLike,
        merges_filepath: str | os.PathLike,
        special_tokens: Sequence[str] | None = None,
        pattern: str = "gpt2",
    ) -> Tokenizer:
        """Load GPT-2 style vocab.json + merges.txt (token bytes in GPT-2's unicode alphabet)."""
        return cls(read_vocab_json(vocab_filepath), read_merges_txt(merges_filepath),
                   special_tokens=special_tokens, pattern=pattern)

    def save(self, folder: str | os.PathLike) -> None:
        """Write vocab.json, merges.txt and tokenizer_config.json into folder (no file is
        ever left half-written)."""
        config = {"special_tokens": self.special_tokens, "pattern": self.pattern}
        write_files(folder, {
            "vocab.json": vocab_json_bytes(self.vocab),
            "merges.txt": merges_txt_bytes(self.merges),
            _CONFIG: json.dumps(config, ensure_ascii=False, indent=1).encode("utf-8"),
        })

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Tokenizer:
        """Load a tokenizer written by `save`."""
        folder = Path(folder)
        config_path = folder / _CONFIG
        try:
            config = read_json_object(config_path, repr(os.fspath(config_path)))
        except FileNotFoundError:
            raise FileNotFoundError(f"{os.fspath(config_path)!r} is missing: is "
                                    f"{os.fspath(folder)!r} a folder written by Tokenizer.save?"
                                    ) from None
        return cls.from_files(folder / "vocab.json", folder / "merges.txt",
                              special_tokens=config.get("special_tokens"),
                              pattern=config.get("pattern", "gpt2"))

    # --- encoding -----------------------------------------------------------------------

    def encode(self, text: str, *, allowed_special: SpecialSet | None = None,
               disallowed_special: SpecialSet | None = None) -> list[int]:
        """Encode text. By default (CS336) the tokenizer's special tokens in it become their
        ids. Passing allowed_special or disallowed_special gives tiktoken's rules: only the
        allowed specials ("all" or a set; default none) become ids, and text matching a
        disallowed one (default "all" the others) raises ValueError; pass
        disallowed_special=() to encode such text as ordinary text.

        >>> tok.encode("hello world")
        [31373, 995]
        """
        pre = self._pretokenizer_checked(text, allowed_special, disallowed_special)
        return self._encode_buffer(text, pre).to_list(self._ints)

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text with no special tokens: "<|endoftext|>" is ordinary text here."""
        return self._encode_buffer(text, self._pretokenizer_for(frozenset())).to_list(self._ints)

    def encode_to_numpy(self, text: str, *, allowed_special: SpecialSet | None = None,
                        disallowed_special: SpecialSet | None = None) -> np.ndarray:
        """Like encode, as a NumPy array: uint16 when every id fits, else uint32."""
        pre = self._pretokenizer_checked(text, allowed_special, disallowed_special)
        return self._to_numpy(self._encode_buffer(text, pre))

    def _to_numpy(self, out: IdBuffer) -> np.ndarray:
        if self.n_vocab <= 1 << 16:
            return out.to_numpy(small=True)
        return out.to_numpy().view(np.uint32)  # ids are >= 0, so the bits are the same

    def encode_batch(self, texts: Iterable[str], *, num_threads: int | None = None,
                     allowed_special: SpecialSet | None = None,
                     disallowed_special: SpecialSet | None = None) -> list[list[int]]:
        """encode of each text, on num_threads threads (default: the number of cores, at
        most 8). The kernels release the GIL, so threads run in parallel."""
        texts = texts if isinstance(texts, list) else list(texts)
        if num_threads is None:
            num_threads = min(os.cpu_count() or 1, 8)
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")

        pre = self._pretokenizer
        if allowed_special is not None or disallowed_special is not None:
            for text in texts:          # tiktoken's check of each text; pre is the same for all
                pre = self._pretokenizer_checked(text, allowed_special, disallowed_special)

        def encode_slice(part: list[str]) -> list[list[int]]:
            if pre.native_id is None:
                return [self._encode_buffer(text, pre).to_list(self._ints) for text in part]
            with self._borrowed_cache() as cache:       # one GIL-free call for the slice
                lists = encode_strs(self._table, part, pre.native_id, cache,
                                    self._specials(pre), self._ints)
            for k, ids in enumerate(lists):
                if ids is None:         # lone surrogates (as encode does them), or not a str
                    text = part[k]
                    if isinstance(text, str):
                        text = without_surrogates(text)
                    lists[k] = self._encode_buffer(text, pre).to_list(self._ints)
            return cast("list[list[int]]", lists)     # no None left

        if num_threads == 1 or len(texts) < 2:
            result = encode_slice(texts)
        else:
            # Slices of about equal length, a few per thread: the threads finish together
            # even when the texts differ widely in length.
            bounds = even_slices([len(t) if isinstance(t, str) else 1 for t in texts],
                                  4 * num_threads)
            parts = thread_pool(num_threads).map(encode_slice, [texts[a:b] for a, b in bounds])
            result = [ids for part in parts for ids in part]
        track_lists(result)         # encode_strs' lists, untracked while the batch was made
        return result

    def encode_file(self, paths: str | os.PathLike | Sequence[str | os.PathLike],
                    out: str | os.PathLike = "ids.npy", workers: int | None = None,
                    progress: bool | None = None, errors: str = "strict") -> EncodedFile:
        """Encode text files (larger than memory too) into the .npy `out`, uint16 when the
        vocabulary fits, and the document offsets `<out stem>.offsets.npy`; streaming, on
        `workers` threads. Returns bpe.dataset.EncodedFile (paths, tokens, documents).

        >>> tok.encode_file(["train.txt"], "train.npy")
        >>> ids = np.load("train.npy", mmap_mode="r")
        """
        from bpe.dataset import encode_file

        return encode_file(self, paths, out, workers=workers, progress=progress, errors=errors)

    def _encode_buffer(self, text: str, pre: Pretokenizer) -> IdBuffer:
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        out = IdBuffer()
        try:
            self._encode_whole(text, pre, out)
        except UnicodeEncodeError:
            out.clear()  # lone surrogates: encode the text as tiktoken would see it
            self._encode_whole(without_surrogates(text), pre, out)
        return out

    def _encode_whole(self, text: str, pre: Pretokenizer, out: IdBuffer) -> None:
        if pre.native_id is None:
            for _ in self._encode_into([text], out, pre):
                pass
            return
        # A native pattern: one call does it all (special tokens, pieces, merges), GIL-free.
        with self._borrowed_cache() as cache:
            encode_str(self._table, text, pre.native_id, out, cache, self._specials(pre))

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
                    if self._piece_slots is None:      # made on first use: 16 MB
                        self._piece_slots = PieceSlots()
                cache = PieceCache(self._piece_slots)
        try:
            yield cache
        finally:
            self._local.cache = cache
            self._free_caches.add(cache)

    def _specials(self, pre: Pretokenizer) -> Specials:
        specials = self._kernel_specials.get(pre)
        if specials is None:
            specials = self._kernel_specials[pre] = native_specials(pre.special_tokens,
                                                                    self.special_ids)
        return specials

    def encode_utf8_to_numpy(self, data: bytes | bytearray | memoryview) -> np.ndarray:
        """encode_to_numpy of UTF-8 bytes, as of data.decode("utf-8"), without making the
        str where the pattern has a native matcher (encode_file reads files this way).
        UnicodeDecodeError where data is not UTF-8.

        >>> tok.encode_utf8_to_numpy(b"hello world").tolist()
        [31373, 995]
        """
        pre = self._pretokenizer
        if pre.native_id is not None:
            out = IdBuffer()
            with self._borrowed_cache() as cache:
                if encode_utf8(self._table, data, pre.native_id, out, cache, self._specials(pre)):
                    return self._to_numpy(out)
        return self.encode_to_numpy(bytes(data).decode("utf-8"))

    def _pretokenizer_checked(self, text: str, allowed_special: SpecialSet | None,
                              disallowed_special: SpecialSet | None) -> Pretokenizer:
        """The pre-tokenizer for these tiktoken-style arguments, after checking that text
        holds no disallowed special token (specials.allowed_in)."""
        if allowed_special is None and disallowed_special is None:
            return self._pretokenizer
        return self._pretokenizer_for(
            allowed_in(text, self.special_tokens, allowed_special, disallowed_special))

    def _pretokenizer_for(self, specials: frozenset[str]) -> Pretokenizer:
        pre = self._pretokenizers.get(specials)
        if pre is None:
            ordered = [token for token in self.special_tokens if token in specials]
            pre = self._pretokenizers[specials] = Pretokenizer(self.pattern, ordered)
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
        if isinstance(ids, list):
            try:
                return self._arena.decode_list(ids, as_text, errors)
            except TypeError:
                pass  # items that are not Python ints (NumPy ints, say): the general path
        if (isinstance(ids, np.ndarray) and ids.ndim == 1
                and ids.dtype in (np.uint16, np.uint32, np.int32, np.int64)):
            return self._arena.decode(np.ascontiguousarray(ids), as_text, errors)   # no copy
        return self._arena.decode(id_array(ids), as_text, errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token; KeyError for an id outside the vocabulary (as tiktoken)."""
        try:
            return self.vocab[token]
        except (KeyError, TypeError):
            raise KeyError(f"token id {token!r} is not in the vocabulary") from None

    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]:
        """The bytes of each token, as a list."""
        return [self.decode_single_token_bytes(token) for token in tokens]

    # --- views --------------------------------------------------------------------------

    @property
    def vocab(self) -> dict[int, bytes]:
        """id -> token bytes, the special tokens included (where the tokenizer was loaded
        from tables, made on first use)."""
        vocab = self._vocab
        if vocab is None:
            assert self._tables is not None     # one of the two is always there
            vocab = self._tables.vocab()
            for token, token_id in self.special_ids.items():   # as specials.assign_ids adds them
                vocab[token_id] = token.encode("utf-8")
            self._vocab = vocab
        return vocab

    @property
    def merges(self) -> list[tuple[bytes, bytes]]:
        """The merges, (left bytes, right bytes) in rank order (where the tokenizer was
        loaded from tables, made on first use)."""
        merges = self._merges
        if merges is None:
            vocab = self.vocab
            merges = self._merges = [
                (vocab[left], vocab[right])
                for left, right in zip(self._merge_cols[0].tolist(),
                                       self._merge_cols[1].tolist(), strict=True)]
        return merges

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

    @property
    def params(self) -> BPETokenizerParams:
        merged = {(a, b): c for a, b, c in zip(*self._merge_cols.tolist(), strict=True)}
        return BPETokenizerParams(vocab=dict(self.vocab), merges=merged)

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return (f"Tokenizer({name}n_vocab={self.n_vocab}, n_merges={self._merge_cols.shape[1]}, "
                f"special_tokens={self.special_tokens!r}, pattern={self.pattern!r})")


_DONE = object()
_PRETRAINED: dict[str, Tokenizer] = {}     # from_pretrained's, built once
_PRETRAINED_LOCK = threading.Lock()


def _unpickle_pretrained(name: str) -> Tokenizer:
    """Unpickle a bundled vocabulary: this process's shared one."""
    return Tokenizer.from_pretrained(name)


def _unpickle(state: dict, special_ids: dict[str, int], pattern: str,
              name: str | None) -> Tokenizer:
    """Unpickle any other tokenizer from its tables (TokenTables.to_state)."""
    return Tokenizer._from_tables(TokenTables.from_state(state), special_ids, pattern, name)


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
