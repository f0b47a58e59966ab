"""File formats: GPT-2's vocab.json + merges.txt, tiktoken's rank files, JSON objects, and
token tables (a vocabulary and its merges as flat arrays).

GPT-2 stores token bytes as printable text through its bytes-to-unicode table: every byte
maps to one character (printable Latin-1 bytes to themselves, the rest to U+0100 onwards,
so the space becomes 'Ġ'). merges.txt lists one merge per line, "left right", after an
optional "#version" header.

Token tables (`TokenTables`) are what a Tokenizer's kernels are built from: every token's
bytes back to back, and each merge as ids. A pickled Tokenizer carries them, and the
bundled vocabularies ship them precomputed (`<name>.tables.npz`, written at build time by
setup.py and checked against the sha256 of the files they were made from), so that loading
one is a few array reads rather than a Python loop per token and per merge.

This module imports nothing from bpe (setup.py loads it on its own, before the kernels are
built), and NumPy only where the tables need it.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    import numpy as np


@cache
def byte_to_char() -> tuple[str, ...]:
    """GPT-2's bytes-to-unicode table: byte value -> printable character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return tuple(chars[b] for b in range(256))


@cache
def char_to_byte() -> dict[str, int]:
    return {c: b for b, c in enumerate(byte_to_char())}


def token_to_text(token: bytes) -> str:
    table = byte_to_char()
    return "".join(table[b] for b in token)


def text_to_token(text: str, where: str) -> bytes:
    table = char_to_byte()
    try:
        return bytes(table[c] for c in text)
    except KeyError as e:
        raise ValueError(f"{where}: {text!r} holds {e.args[0]!r}, which is not in GPT-2's "
                         f"bytes-to-unicode alphabet") from None


def read_json_object(path: str | os.PathLike, where: str) -> dict:
    """The JSON object in a file; errors say `where` (the file, as the caller names it)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must hold a JSON object, got {type(data).__name__}")
    return data


def read_vocab_json(path: str | os.PathLike) -> dict[int, bytes]:
    """GPT-2 vocab.json ({token text: id}) -> {id: token bytes}."""
    encoder = read_json_object(path, f"vocabulary file {os.fspath(path)!r}")
    vocab: dict[int, bytes] = {}
    for text, token_id in encoder.items():
        if not isinstance(token_id, int) or token_id < 0:
            raise ValueError(f"vocabulary file {os.fspath(path)!r}: token {text!r} has id "
                             f"{token_id!r}, expected an int >= 0")
        if token_id in vocab:
            raise ValueError(f"vocabulary file {os.fspath(path)!r}: id {token_id} is used twice")
        vocab[token_id] = text_to_token(text, f"vocabulary file {os.fspath(path)!r}")
    return vocab


def read_merges_txt(path: str | os.PathLike) -> list[tuple[bytes, bytes]]:
    """GPT-2 merges.txt -> [(left bytes, right bytes), ...] in rank order."""
    merges = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        raise FileNotFoundError(f"merges file {os.fspath(path)!r} does not exist") from None
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        where = f"merges file {os.fspath(path)!r}, line {number}"
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{where}: expected 'left right', got {line!r}")
        merges.append((text_to_token(parts[0], where), text_to_token(parts[1], where)))
    return merges


def vocab_json_bytes(vocab: dict[int, bytes]) -> bytes:
    encoder: dict[str, int] = {}
    for token_id, token in sorted(vocab.items()):
        text = token_to_text(token)
        if text in encoder:
            raise ValueError(f"ids {encoder[text]} and {token_id} both hold {token!r}; GPT-2's "
                             f"vocab.json maps each token's bytes to one id")
        encoder[text] = token_id
    return json.dumps(encoder, ensure_ascii=False, indent=1).encode("utf-8")


def merges_txt_bytes(merges: list[tuple[bytes, bytes]]) -> bytes:
    lines = ["#version: 0.2"] + [f"{token_to_text(a)} {token_to_text(b)}" for a, b in merges]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_tiktoken_ranks(path: str | os.PathLike) -> dict[bytes, int]:
    """A tiktoken rank file ("base64-token rank" per line; gzipped if it ends in .gz)."""
    import binascii
    import gzip

    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        raise FileNotFoundError(f"rank file {os.fspath(path)!r} does not exist") from None
    ranks: dict[bytes, int] = {}
    decode = binascii.a2b_base64     # one C call per token, as tiktoken's loader
    for number, line in enumerate(lines, start=1):
        try:
            token, rank = line.split()
            ranks[decode(token, strict_mode=True)] = int(rank)
        except ValueError:          # binascii.Error is one too
            if not line.strip():
                continue
            raise ValueError(f"rank file {os.fspath(path)!r}, line {number}: expected "
                             f"'base64-token rank', got {line[:60]!r}") from None
    return ranks


def merges_from_ranks(ranks: dict[bytes, int]
                      ) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """(vocab, merges) that encode exactly as tiktoken does with these byte ranks.

    tiktoken merges the adjacent pair whose concatenation has the lowest rank. So every way
    of writing a multi-byte token as two tokens becomes a merge, in the token's rank order;
    splits of one token never compete (they cover different bytes), so their order among
    themselves does not matter.
    """
    vocab = {rank: token for token, rank in ranks.items()}
    merges = []
    for rank in sorted(vocab):
        token = vocab[rank]
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                merges.append((left, right))
    return vocab, merges


# --- token tables ------------------------------------------------------------------------

TABLES_FORMAT = 1   # the layout of a tables file; a file in another is refused


def token_ids(vocab: dict[int, bytes]) -> dict[bytes, int]:
    """token bytes -> id, over a vocabulary; where ids share bytes, the smallest id."""
    return {token: token_id for token_id, token in sorted(vocab.items(), reverse=True)}


def merge_ids(merges: Sequence[tuple[bytes, bytes]], ids: dict[bytes, int]) -> np.ndarray:
    """The merges as ids: int32 rows left, right and merged id (shape (3, len(merges))), in
    rank order. `ids` maps token bytes to ids (token_ids); ValueError names the first merge
    whose left, right or merged token is not there."""
    import numpy as np

    try:
        rows = [(ids[left], ids[right], ids[left + right]) for left, right in merges]
    except KeyError:
        for rank, (left, right) in enumerate(merges):
            for token in (left, right, left + right):
                if token not in ids:
                    raise ValueError(f"merge {rank} ({left!r}, {right!r}) needs token "
                                     f"{token!r}, which is not in the vocabulary") from None
        raise
    if not rows:
        return np.zeros((3, 0), dtype=np.int32)
    return np.ascontiguousarray(np.array(rows, dtype=np.int32).T)


def byte_ids(ids: dict[bytes, int]) -> np.ndarray:
    """The id of each of the 256 single bytes (int32), from token bytes -> id (token_ids);
    ValueError when a byte has no token."""
    import numpy as np

    missing = [b for b in range(256) if bytes([b]) not in ids]
    if missing:
        raise ValueError(f"vocab has no token for byte 0x{missing[0]:02x} ({len(missing)} bytes "
                         f"missing); a byte-level BPE vocabulary needs all 256")
    return np.array([ids[bytes([b])] for b in range(256)], dtype=np.int32)


class TokenTables(NamedTuple):
    """A vocabulary and its merges as flat arrays: what a Tokenizer's kernels are built
    from, what a pickled Tokenizer carries, what the bundled vocabularies ship precomputed.

    The arrays are int32; the tokens are listed in the vocabulary dict's order, so that
    `vocab()` gives back an equal dict, in the same order."""

    ids: np.ndarray         # each token's id
    lengths: np.ndarray     # each token's length in bytes
    blob: bytes             # the tokens' bytes, back to back
    merges: np.ndarray      # shape (3, n_merges): left, right and merged id, in rank order
    byte_ids: np.ndarray    # the id of each single byte (256)

    @classmethod
    def from_vocab(cls, vocab: dict[int, bytes], merges: np.ndarray,
                   byte_ids: np.ndarray) -> TokenTables:
        """The tables of a vocabulary (ids -> bytes) and its merges as ids (merge_ids)."""
        import numpy as np

        tokens = list(vocab.values())
        return cls(np.fromiter(vocab, dtype=np.int32, count=len(vocab)),
                   np.fromiter(map(len, tokens), dtype=np.int32, count=len(tokens)),
                   b"".join(tokens), merges, byte_ids)

    def tokens(self) -> list[bytes]:
        """Each token's bytes, in the vocabulary's order."""
        import io

        return list(map(io.BytesIO(self.blob).read, self.lengths.tolist()))

    def vocab(self) -> dict[int, bytes]:
        """id -> bytes, in the vocabulary's order."""
        return dict(zip(self.ids.tolist(), self.tokens(), strict=True))

    def tokens_by_id(self, tokens: list[bytes] | None = None) -> list[bytes | None]:
        """The list of every id's bytes, None where no token has that id (the tokens are
        made here unless given, as tokens() makes them)."""
        if tokens is None:
            tokens = self.tokens()
        ids = self.ids
        if ids.size and ids[0] == 0 and ids[-1] == ids.size - 1 and _rising(ids):
            return cast("list[bytes | None]", tokens)   # ids 0..n-1 in order: nothing to move
        by_id: list[bytes | None] = [None] * (int(ids.max()) + 1 if ids.size else 0)
        for token_id, token in zip(ids.tolist(), tokens, strict=True):
            by_id[token_id] = token
        return by_id

    def checked(self) -> TokenTables:
        """The tables, after checks cheap enough for every load (shapes, ranges, sizes):
        ValueError if they cannot be a tokenizer's. Ids are not checked to be distinct."""
        import numpy as np

        arrays = [np.asarray(a) for a in (self.ids, self.lengths, self.merges, self.byte_ids)]
        if not all(a.dtype.kind == "i" and a.dtype.itemsize == 4 for a in arrays):
            raise ValueError("these token tables are damaged: the arrays must be int32")
        # In the machine's byte order (files and pickles hold little-endian int32).
        ids, lengths, merges, byte_ids = (a.astype(np.int32, copy=False) for a in arrays)
        problem = None
        if ids.ndim != 1 or lengths.shape != ids.shape or not ids.size:
            problem = "ids and lengths must be two non-empty flat arrays of one length"
        elif merges.ndim != 2 or merges.shape[0] != 3 or byte_ids.shape != (256,):
            problem = "merges must have shape (3, n) and byte_ids 256 entries"
        elif ids.min() < 0 or lengths.min() < 0 or int(lengths.sum()) != len(self.blob):
            problem = "the ids and lengths must be >= 0 and the lengths add up to the bytes"
        elif (merges.size and not 0 <= merges.min() <= merges.max() <= ids.max()) or not (
                0 <= byte_ids.min() <= byte_ids.max() <= ids.max()):
            problem = "a merge or byte names an id past the vocabulary"
        if problem:
            raise ValueError(f"these token tables are damaged: {problem}")
        return TokenTables(ids, lengths, bytes(self.blob), merges, byte_ids)

    def to_state(self) -> dict[str, object]:
        """The tables as bytes (little-endian int32): what a pickled Tokenizer carries."""
        import numpy as np

        def raw(array: np.ndarray) -> bytes:
            return np.ascontiguousarray(array, dtype="<i4").tobytes()

        return {"format": TABLES_FORMAT, "ids": raw(self.ids), "lengths": raw(self.lengths),
                "blob": bytes(self.blob), "merges": raw(self.merges),
                "byte_ids": raw(self.byte_ids)}

    @classmethod
    def from_state(cls, state: dict) -> TokenTables:
        """The tables back from to_state's bytes, checked (see checked)."""
        import numpy as np

        if state.get("format") != TABLES_FORMAT:
            raise ValueError(f"token tables in format {state.get('format')!r}; this bpe reads "
                             f"format {TABLES_FORMAT}")

        def array(name: str) -> np.ndarray:
            return np.frombuffer(state[name], dtype="<i4").astype(np.int32, copy=False)

        return cls(array("ids"), array("lengths"), state["blob"],
                   array("merges").reshape(3, -1), array("byte_ids")).checked()


def token_tables(vocab: dict[int, bytes], merges: Sequence[tuple[bytes, bytes]]) -> TokenTables:
    """The tables of a vocabulary and its merges (as Tokenizer(vocab, merges) derives them
    before special tokens are added)."""
    ids = token_ids(vocab)
    return TokenTables.from_vocab(vocab, merge_ids(merges, ids), byte_ids(ids))


def _rising(ids: np.ndarray) -> bool:
    import numpy as np

    return bool(np.all(ids[1:] > ids[:-1]))


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, in hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_token_tables(path: str | os.PathLike, tables: TokenTables,
                       sources: Sequence[str | os.PathLike]) -> None:
    """Write tables to the .npz `path` (uncompressed, so that it loads at disk speed), with
    the sha256 of each of the files they were made from; the file appears whole or not at
    all."""
    import numpy as np

    path = os.fspath(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            np.savez(f, format=np.array(TABLES_FORMAT),
                     sources=np.array([os.path.basename(s) for s in sources]),
                     sha256=np.array([file_sha256(s) for s in sources]),
                     ids=tables.ids, lengths=tables.lengths,
                     blob=np.frombuffer(tables.blob, dtype=np.uint8),
                     merges=tables.merges, byte_ids=tables.byte_ids)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_token_tables(path: str | os.PathLike, sources: Sequence[str | os.PathLike]
                      ) -> TokenTables:
    """The tables written by write_token_tables, after checking that they were made from
    exactly these files (by sha256): ValueError, saying which file differs, if not."""
    import zipfile

    import numpy as np

    where = os.fspath(path)
    try:
        with np.load(where) as data:
            found = int(data["format"])
            made_from = [str(digest) for digest in data["sha256"]]
            tables = TokenTables(data["ids"], data["lengths"], data["blob"].tobytes(),
                                 data["merges"], data["byte_ids"])
    except FileNotFoundError:
        raise
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"token tables {where!r} cannot be read: {e}") from None
    if found != TABLES_FORMAT:
        raise ValueError(f"token tables {where!r} are in format {found}; this bpe reads format "
                         f"{TABLES_FORMAT}: remake them (setup.py does, at build time)")
    if len(made_from) != len(sources):
        raise ValueError(f"token tables {where!r} were made from {len(made_from)} files, "
                         f"not {len(sources)}")
    for source, digest in zip(sources, made_from, strict=True):
        actual = file_sha256(source)
        if actual != digest:
            raise ValueError(
                f"token tables {where!r} do not belong to {os.fspath(source)!r}: they were "
                f"made from a file with sha256 {digest}, and this one has sha256 {actual}. "
                f"Remake them (`pip install -e .` or `python setup.py build_ext --inplace` "
                f"does) or delete them")
    return tables.checked()


def checked_vocab(vocab: dict[int, bytes]) -> dict[int, bytes]:
    """A Tokenizer's vocab argument checked: ids 0..2**31-2, bytes values (copied)."""
    import numpy as np

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


def checked_merges(merges: Iterable[Sequence[bytes]]) -> list[tuple[bytes, bytes]]:
    """A Tokenizer's merges argument checked: pairs of bytes."""
    checked = []
    for rank, merge in enumerate(merges):
        if (not isinstance(merge, (tuple, list)) or len(merge) != 2
                or not all(isinstance(t, (bytes, bytearray)) for t in merge)):
            raise ValueError(f"merge {rank} is {merge!r}; expected a pair of bytes")
        checked.append((bytes(merge[0]), bytes(merge[1])))
    return checked


def id_array(ids: Iterable[int]) -> np.ndarray:
    """ids as a flat int64 array; TypeError for non-ints, ValueError for ids past int64."""
    import numpy as np

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
