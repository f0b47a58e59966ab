"""Tokenizer: the user-facing encode/decode class over the native kernels.

The class checks its inputs and holds the tables; the work happens in `bpe._encode`
(per-piece BPE with a piece cache, the decode arena) after `bpe.patterns.Pretokenizer` has
cut the text. The constructor and `from_files` follow the Stanford CS336 interface; method
names follow tiktoken where they overlap.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bpe._encode import IdBuffer, MergeTable, PieceCache, TokenArena
from bpe.formats import (
    merges_txt_bytes,
    read_merges_txt,
    read_vocab_json,
    vocab_json_bytes,
    write_files,
)
from bpe.patterns import Pretokenizer, check_special_tokens

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
        special_tokens: Sequence[str] | None = None,
        pattern: str = "gpt2",
    ):
        specials = check_special_tokens(special_tokens)
        self.vocab = _checked_vocab(vocab)
        self.merges = _checked_merges(merges)
        self.pattern = pattern
        self.special_tokens = specials
        self._pretokenizer = Pretokenizer(pattern, specials)

        token_ids = {token: token_id for token_id, token in sorted(self.vocab.items(), reverse=True)}
        next_id = max(self.vocab, default=-1) + 1
        self.special_ids: dict[str, int] = {}
        for token in specials:
            token_bytes = token.encode("utf-8")
            if token_bytes not in token_ids:
                self.vocab[next_id] = token_bytes
                token_ids[token_bytes] = next_id
                next_id += 1
            self.special_ids[token] = token_ids[token_bytes]

        self._merge_ids = _merge_ids(self.merges, token_ids)
        self._table = MergeTable(*np.ascontiguousarray(self._merge_ids.T), _byte_ids(token_ids))
        self._arena = _arena(self.vocab)
        self._local = threading.local()

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
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{os.fspath(config_path)!r} is missing: is {os.fspath(folder)!r} "
                                    f"a folder written by Tokenizer.save?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{os.fspath(config_path)!r} is not valid JSON: {e}") from None
        return cls.from_files(folder / "vocab.json", folder / "merges.txt",
                              special_tokens=config.get("special_tokens"),
                              pattern=config.get("pattern", "gpt2"))

    # --- encoding -----------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Encode text; the tokenizer's special tokens in it become their ids.

        >>> tok.encode("hello world")
        [31373, 995]
        """
        return self.encode_to_numpy(text).tolist()

    def encode_to_numpy(self, text: str) -> np.ndarray:
        """Like encode, as a NumPy array: uint16 when every id fits, else uint32."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        out = IdBuffer()
        try:
            for _ in self._encode_into([text], out):
                pass
        except UnicodeEncodeError:
            out.clear()  # lone surrogates: encode the text as tiktoken would see it
            for _ in self._encode_into([_without_surrogates(text)], out):
                pass
        if self.n_vocab <= 1 << 16:
            return out.to_numpy(small=True)
        return out.to_numpy().view(np.uint32)  # ids are >= 0, so the bits are the same

    def encode_iterable(self, iterable: Iterable[str]) -> Iterator[int]:
        """Lazily encode a stream of str (such as an open file's lines); yields exactly the
        ids of encode("".join(iterable)) while holding about a megabyte of text at a time."""
        out = IdBuffer()
        for _ in self._encode_into(_chunks_without_surrogates(iterable), out):
            yield from out.to_numpy().tolist()
            out.clear()

    def _encode_into(self, chunks: Iterable[str], out: IdBuffer) -> Iterator[None]:
        """Append the ids of the text to out, pausing after each settled stretch."""
        sink = _EncodeSink(self._table, out, self._cache(), self.special_ids)
        for _ in self._pretokenizer.feed(chunks, sink):
            yield
            sink.cache = self._cache()  # a generator may be resumed on another thread

    def _cache(self) -> PieceCache:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = PieceCache()
        return cache

    # --- decoding -----------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of the ids, concatenated.

        >>> tok.decode_bytes([31373, 995])
        b'hello world'
        """
        if isinstance(ids, list):
            try:
                return self._arena.decode_list(ids)
            except TypeError:
                pass  # items that are not Python ints (NumPy ints, say): the general path
        return self._arena.decode(_id_array(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """The text of the ids; bytes that are not valid UTF-8 become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # --- views --------------------------------------------------------------------------

    @property
    def n_vocab(self) -> int:
        """One more than the largest id."""
        return self._arena.n_vocab

    @property
    def params(self) -> BPETokenizerParams:
        merged = {(int(a), int(b)): int(c) for a, b, c in self._merge_ids}
        return BPETokenizerParams(vocab=dict(self.vocab), merges=merged)

    def __repr__(self) -> str:
        return (f"Tokenizer(n_vocab={self.n_vocab}, n_merges={len(self.merges)}, "
                f"special_tokens={self.special_tokens!r}, pattern={self.pattern!r})")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(text: str) -> str:
    """Like tiktoken: valid surrogate pairs joined, lone surrogates replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _chunks_without_surrogates(chunks: Iterable[str]) -> Iterator[str]:
    """_without_surrogates over a stream, keeping a pair that a chunk boundary splits."""
    carry = ""
    for chunk in chunks:
        if not isinstance(chunk, str):
            raise TypeError(f"expected str chunks, got {type(chunk).__name__}")
        if chunk.isascii() and not carry:  # the common case costs nothing
            yield chunk
            continue
        chunk, carry = carry + chunk, ""
        if chunk and "\ud800" <= chunk[-1] <= "\udbff":  # a high surrogate: its pair may follow
            chunk, carry = chunk[:-1], chunk[-1]
        yield _without_surrogates(chunk) if _SURROGATE.search(chunk) else chunk
    if carry:
        yield _without_surrogates(carry)


class _EncodeSink:
    """Receives the pre-tokenizer's output and appends ids (see patterns.Sink)."""

    __slots__ = ("table", "out", "cache", "special_ids")

    def __init__(self, table: MergeTable, out: IdBuffer, cache: PieceCache, special_ids: dict):
        self.table, self.out, self.cache, self.special_ids = table, out, cache, special_ids

    def native(self, text: str, limit: int, pattern_id: int) -> int:
        return self.table.encode_text(text, limit, pattern_id, self.out, self.cache)

    def pieces(self, pieces: list[str]) -> None:
        self.table.encode_pieces(pieces, self.out, self.cache)

    def special(self, token: str) -> None:
        self.out.append(self.special_ids[token])


def _checked_vocab(vocab: dict[int, bytes]) -> dict[int, bytes]:
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError("vocab must be a non-empty dict of id -> bytes")
    checked = {}
    for token_id, token in vocab.items():
        if not isinstance(token_id, (int, np.integer)) or not 0 <= token_id < 2**31 - 1:
            raise ValueError(f"vocab id {token_id!r} must be an int in 0..{2**31 - 2}")
        if not isinstance(token, (bytes, bytearray)):
            raise ValueError(f"vocab[{token_id}] is {type(token).__name__}, expected bytes")
        checked[int(token_id)] = bytes(token)
    return checked


def _checked_merges(merges) -> list[tuple[bytes, bytes]]:
    checked = []
    for rank, merge in enumerate(merges):
        if (not isinstance(merge, (tuple, list)) or len(merge) != 2
                or not all(isinstance(t, (bytes, bytearray)) for t in merge)):
            raise ValueError(f"merge {rank} is {merge!r}; expected a pair of bytes")
        checked.append((bytes(merge[0]), bytes(merge[1])))
    return checked


def _byte_ids(token_ids: dict[bytes, int]) -> np.ndarray:
    missing = [b for b in range(256) if bytes([b]) not in token_ids]
    if missing:
        raise ValueError(f"vocab has no token for byte 0x{missing[0]:02x} ({len(missing)} bytes "
                         f"missing); a byte-level BPE vocabulary needs all 256")
    return np.array([token_ids[bytes([b])] for b in range(256)], dtype=np.int32)


def _merge_ids(merges: list[tuple[bytes, bytes]], token_ids: dict[bytes, int]) -> np.ndarray:
    """(left id, right id, merged id) per merge, in rank order."""
    rows = np.empty((len(merges), 3), dtype=np.int32)
    for rank, (left, right) in enumerate(merges):
        for token in (left, right, left + right):
            if token not in token_ids:
                raise ValueError(f"merge {rank} ({left!r}, {right!r}) needs token {token!r}, "
                                 f"which is not in the vocabulary")
        rows[rank] = token_ids[left], token_ids[right], token_ids[left + right]
    return rows


def _arena(vocab: dict[int, bytes]) -> TokenArena:
    n_vocab = max(vocab) + 1
    present = np.zeros(n_vocab, dtype=np.uint8)
    present[list(vocab)] = 1
    tokens = [vocab.get(i, b"") for i in range(n_vocab)]
    offsets = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum([len(t) for t in tokens], out=offsets[1:])
    return TokenArena(np.frombuffer(b"".join(tokens) or b"\0", dtype=np.uint8), offsets, present)


def _id_array(ids: Iterable[int]) -> np.ndarray:
    """ids as a flat int64 array; TypeError for non-ints, ValueError for ids past int64."""
    array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim == 1 and array.dtype.kind in "iu":
        if array.dtype == np.uint64 and array.max() > np.iinfo(np.int64).max:
            raise ValueError(f"token id {array.max()} is not in the vocabulary")
        return np.ascontiguousarray(array, dtype=np.int64)
    if array.ndim == 1 and array.dtype == object and all(isinstance(i, int) for i in array):
        huge = next((i for i in array if not -(2**63) <= i < 2**63), None)
        if huge is None:
            return array.astype(np.int64)
        raise ValueError(f"token id {huge} is not in the vocabulary")
    raise TypeError(f"ids must be a flat sequence of ints, got dtype {array.dtype} "
                    f"with shape {array.shape}")
