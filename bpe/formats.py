"""File formats: GPT-2's vocab.json + merges.txt, tiktoken's rank files, JSON objects, and
token tables (a vocabulary and its merges as flat arrays).

GPT-2 stores token bytes as printable text through its bytes-to-unicode table: every byte
maps to one character (printable Latin-1 bytes to themselves, the rest to U+0100 onwards,
so the space becomes 'Ġ'). merges.txt lists one merge per line, "left right", after an
optional "#version" header.

Token tables (`TokenTables`) are what a Tokenizer's kernels are built from: every token's
bytes back to back, and each merge as ids, in int32 memoryviews. A pickled Tokenizer
carries them, and the bundled vocabularies ship them precomputed (`<name>.tables`, a raw
little-endian file written at build time by setup.py, with a stamp of each file it was made
from that every load checks), so that loading one is one file read and a few views of its
bytes rather than a Python loop per token and per merge.

Nothing here needs NumPy except `id_array` (decode's path for arrays and odd sequences):
loading tables, pickling them and checking a vocabulary import none of it. This module
imports nothing from bpe at import time (setup.py loads it on its own, before the kernels
are built, to write the tables); checking tables uses a kernel (bpe._merge_table).
"""
from __future__ import annotations

import array
import os
import struct
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple, cast

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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: the object as a dict, ValueError for a key written twice
    (json keeps the last, silently)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return data


class _DuplicateKey(ValueError):
    pass


def read_json_object(path: str | os.PathLike, where: str) -> dict:
    """The JSON object in a file; errors say `where` (the file, as the caller names it): a
    ValueError for text that is not JSON, nests too deep to read, or writes a key twice in
    one object."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f, object_pairs_hook=_unique_keys)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where} does not exist") from None
    except _DuplicateKey as e:
        raise ValueError(f"{where} is not valid here: the key {e.args[0]!r} appears twice in "
                         f"one object (JSON readers would keep only one of its values)"
                         ) from None
    except RecursionError:
        raise ValueError(f"{where} is not valid here: its JSON nests too deep to read"
                         ) from None
    except ValueError as e:     # JSONDecodeError, UnicodeDecodeError, a number too long
        raise ValueError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must hold a JSON object, got {type(data).__name__}")
    return data


def is_id(value: object) -> bool:
    """Whether a value read from a file can be an id: an int that is not a bool (JSON's
    true is not id 1) and is >= 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@contextmanager
def naming_files(*paths: str | os.PathLike) -> Iterator[None]:
    """Inside: a ValueError or TypeError whose message names none of the files being loaded
    (one a tokenizer's constructor raises about what they hold together) is raised again
    naming them, as every loader's errors do."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if any(os.fspath(path) in str(e) for path in paths):
            raise
        kind = TypeError if isinstance(e, TypeError) else ValueError
        files = " and ".join(repr(os.fspath(path)) for path in paths)
        raise kind(f"{files}: {e}") from None


def read_vocab_json(path: str | os.PathLike) -> dict[int, bytes]:
    """GPT-2 vocab.json ({token text: id}) -> {id: token bytes}."""
    encoder = read_json_object(path, f"vocabulary file {os.fspath(path)!r}")
    vocab: dict[int, bytes] = {}
    for text, token_id in encoder.items():
        if not is_id(token_id):
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
    except UnicodeDecodeError as e:
        raise ValueError(f"merges file {os.fspath(path)!r} is not UTF-8 text: {e}") from None
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
    import json

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
    import zlib

    where = f"rank file {os.fspath(path)!r}"
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where} does not exist") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{where} is not a whole gzip file: {e}") from None
    ranks: dict[bytes, int] = {}
    decode = binascii.a2b_base64     # one C call per token, as tiktoken's loader
    read = 0                         # lines read into ranks
    for number, line in enumerate(lines, start=1):
        try:
            token, rank = line.split()
            # ASCII digits only (int() takes "+1", "1_0", " 1"), and a rank an id can be
            if not rank.isdigit() or len(rank) > 10 or int(rank) >= _ID_LIMIT:
                raise ValueError
            ranks[decode(token, strict_mode=True)] = int(rank)
            read += 1
        except ValueError:          # binascii.Error is one too
            if not line.strip():
                continue
            raise ValueError(f"{where}, line {number}: expected 'base64-token rank' (a rank "
                             f"in 0..{_ID_LIMIT - 1}), got {line[:60]!r}") from None
    if read != len(ranks) or len(set(ranks.values())) != read:
        _refuse_repeats(lines, where)
    return ranks


_ID_LIMIT = 2**31 - 1     # ids are int32, and this one is the kernels' "none"


def _refuse_repeats(lines: list[bytes], where: str) -> None:
    """ValueError naming the first line of a (well-formed) rank file that repeats a token
    or a rank."""
    import binascii

    seen: dict[object, int] = {}        # token bytes or rank -> the line it is on
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        text, rank = line.split()
        token = binascii.a2b_base64(text, strict_mode=True)
        for key, what in ((token, f"token {token!r}"), (int(rank), f"rank {int(rank)}")):
            if key in seen:
                raise ValueError(f"{where}, line {number}: {what} is on line {seen[key]} "
                                 f"too; each token has one rank, each rank one token")
            seen[key] = number


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
#
# Every int32 array here is a flat memoryview of format "i" (the machine's int32), made
# without NumPy: from an array.array, or cast from the bytes of a tables file or a pickle,
# without a copy. The kernels take any such buffer as a typed memoryview. Files and pickles
# hold little-endian int32.

TABLES_FORMAT = 2   # the layout of a tables file (write_token_tables); another is refused
STATE_FORMAT = 1    # the layout of a pickled tokenizer's tables (TokenTables.to_state)
_MAGIC = b"bpe-tbl\n"
_HEADER = struct.Struct("<8sIIIIQ")   # magic, format, sources, tokens, merges, blob bytes
_LITTLE = sys.byteorder == "little"
_NATIVE_ORDER = "<" if _LITTLE else ">"


def int32s(values: Iterable[int]) -> memoryview:
    """values as a flat int32 memoryview; OverflowError for a value past int32."""
    return memoryview(array.array("i", values))


def int32_view(values: Any) -> memoryview:
    """Any flat, contiguous buffer of int32 (a memoryview, an array.array("i"), a NumPy int32
    array) as a memoryview of format "i", without a copy; ValueError for anything else."""
    view = memoryview(values)
    order, kind = view.format[:-1], view.format[-1:]
    if (view.ndim != 1 or not view.c_contiguous or view.itemsize != 4
            or kind not in ("i", "l") or order not in ("", "@", "=", _NATIVE_ORDER)):
        raise ValueError(f"expected a flat array of int32, got format {view.format!r} with "
                         f"shape {view.shape}")
    return view if view.format == "i" else view.cast("B").cast("i")


def _from_le(data: bytes | memoryview) -> memoryview:
    """Little-endian int32 bytes as int32s: a view of them on a little-endian machine, else
    a swapped copy. ValueError when their length is not a multiple of 4."""
    if len(data) % 4:
        raise ValueError(f"{len(data)} bytes are not a whole number of int32")
    if _LITTLE:
        return memoryview(data).cast("B").cast("i")
    swapped = array.array("i")
    swapped.frombytes(data)
    swapped.byteswap()
    return memoryview(swapped)


def _to_le(values: memoryview) -> bytes:
    """int32s as little-endian bytes."""
    if _LITTLE:
        return values.tobytes()
    swapped = array.array("i", values)
    swapped.byteswap()
    return swapped.tobytes()


def token_ids(vocab: dict[int, bytes]) -> dict[bytes, int]:
    """token bytes -> id, over a vocabulary; where ids share bytes, the smallest id."""
    return {token: token_id for token_id, token in sorted(vocab.items(), reverse=True)}


def merge_ids(merges: Sequence[tuple[bytes, bytes]], ids: dict[bytes, int]) -> memoryview:
    """The merges as int32 ids: every merge's left id, then every right id, then every
    merged id (three rows of len(merges), in rank order: merge_rows cuts them apart). `ids`
    maps token bytes to ids (token_ids); ValueError names the first merge whose left, right
    or merged token is not there."""
    try:
        rows = ([ids[left] for left, _ in merges] + [ids[right] for _, right in merges]
                + [ids[left + right] for left, right in merges])
    except KeyError:
        for rank, (left, right) in enumerate(merges):
            for token in (left, right, left + right):
                if token not in ids:
                    raise ValueError(f"merge {rank} ({left!r}, {right!r}) needs token "
                                     f"{token!r}, which is not in the vocabulary") from None
        raise
    return int32s(rows)


def merge_rows(merges: memoryview) -> tuple[memoryview, memoryview, memoryview]:
    """The left, right and merged ids of merge_ids' merges, as three views."""
    n = len(merges) // 3
    return merges[:n], merges[n:2 * n], merges[2 * n:]


def byte_ids(ids: dict[bytes, int]) -> memoryview:
    """The id of each of the 256 single bytes (int32), from token bytes -> id (token_ids);
    ValueError when a byte has no token."""
    singles = [bytes([b]) for b in range(256)]
    missing = [b for b in range(256) if singles[b] not in ids]
    if missing:
        raise ValueError(f"vocab has no token for byte 0x{missing[0]:02x} ({len(missing)} bytes "
                         f"missing); a byte-level BPE vocabulary needs all 256")
    return int32s([ids[single] for single in singles])


class TokenTables(NamedTuple):
    """A vocabulary and its merges as flat arrays: what a Tokenizer's kernels are built
    from, what a pickled Tokenizer carries, what the bundled vocabularies ship precomputed.

    The arrays are int32 memoryviews; the tokens are listed in the vocabulary dict's order,
    so that `vocab()` gives back an equal dict, in the same order."""

    ids: memoryview         # each token's id
    lengths: memoryview     # each token's length in bytes
    blob: bytes             # the tokens' bytes, back to back
    merges: memoryview      # 3 * n_merges: left ids, right ids, merged ids (merge_ids)
    byte_ids: memoryview    # the id of each single byte (256)

    @classmethod
    def from_vocab(cls, vocab: dict[int, bytes], merges: memoryview,
                   byte_ids: memoryview) -> TokenTables:
        """The tables of a vocabulary (ids -> bytes) and its merges as ids (merge_ids)."""
        tokens = list(vocab.values())
        return cls(int32s(vocab), int32s(map(len, tokens)), b"".join(tokens), merges, byte_ids)

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
        from bpe._merge_table import int32_stats

        if tokens is None:
            tokens = self.tokens()
        low, high, _, rising = int32_stats(self.ids)
        if low == 0 and high == len(self.ids) - 1 and rising:
            return cast("list[bytes | None]", tokens)   # ids 0..n-1 in order: nothing to move
        by_id: list[bytes | None] = [None] * (high + 1)
        for token_id, token in zip(self.ids.tolist(), tokens, strict=True):
            by_id[token_id] = token
        return by_id

    def checked(self) -> TokenTables:
        """The tables, after checks cheap enough for every load (sizes, ranges, and that
        every id a merge or byte names is a token's: in one pass of a kernel over each
        array): ValueError if they cannot be a tokenizer's. Ids are not checked to be
        distinct."""
        # Kernels: setup.py loads this module before they are built, but never checks.
        from bpe._merge_table import first_unnamed, int32_stats

        try:
            ids, lengths, merges, byte_ids = map(
                int32_view, (self.ids, self.lengths, self.merges, self.byte_ids))
        except (TypeError, ValueError):
            raise ValueError("these token tables are damaged: the arrays must be flat int32"
                             ) from None
        id_low, id_high, _, _ = int32_stats(ids)
        length_low, _, length_sum, _ = int32_stats(lengths)
        merge_low, merge_high, _, _ = int32_stats(merges)
        byte_low, byte_high, _, _ = int32_stats(byte_ids)
        problem = None
        if not len(ids) or len(lengths) != len(ids):
            problem = "ids and lengths must be two non-empty flat arrays of one length"
        elif len(merges) % 3 or len(byte_ids) != 256:
            problem = "merges must have 3 rows of one length and byte_ids 256 entries"
        elif not 0 <= id_low <= id_high < _ID_LIMIT or length_low < 0 or length_sum != len(
                self.blob):
            problem = (f"the ids must be in 0..{_ID_LIMIT - 1}, the lengths >= 0 and add up to "
                       f"the bytes")
        elif (len(merges) and not 0 <= merge_low <= merge_high <= id_high) or not (
                0 <= byte_low <= byte_high <= id_high):
            problem = "a merge or byte names an id past the vocabulary"
        elif (unnamed := max(first_unnamed(ids, merges), first_unnamed(ids, byte_ids))) >= 0:
            problem = f"a merge or byte names id {unnamed}, which no token has"
        if problem:
            raise ValueError(f"these token tables are damaged: {problem}")
        check_id_spread(id_high, len(ids))
        return TokenTables(ids, lengths, bytes(self.blob), merges, byte_ids)

    def to_state(self) -> dict[str, object]:
        """The tables as bytes (little-endian int32): what a pickled Tokenizer carries."""
        return {"format": STATE_FORMAT, "ids": _to_le(int32_view(self.ids)),
                "lengths": _to_le(int32_view(self.lengths)), "blob": bytes(self.blob),
                "merges": _to_le(int32_view(self.merges)),
                "byte_ids": _to_le(int32_view(self.byte_ids))}

    @classmethod
    def from_state(cls, state: dict) -> TokenTables:
        """The tables back from to_state's bytes, checked (see checked); the arrays are views
        of those bytes."""
        if not isinstance(state, dict):
            raise ValueError(f"these token tables are damaged: a {type(state).__name__}, "
                             f"not a dict")
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"token tables in format {state.get('format')!r}; this bpe reads "
                             f"format {STATE_FORMAT}")
        try:
            ids, lengths, merges, byte_ids = (
                _from_le(state[name]) for name in ("ids", "lengths", "merges", "byte_ids"))
            blob = state["blob"]
            if not isinstance(blob, bytes):
                raise TypeError(f"the tokens' bytes are a {type(blob).__name__}")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"these token tables are damaged: {e}") from None
        return cls(ids, lengths, blob, merges, byte_ids).checked()


def check_pickled_fields(special_ids: object, name: object, tiktoken_rule: object) -> None:
    """ValueError unless what a pickled tokenizer carries beside its tables and pattern
    (Tokenizer.__reduce__) is of its kind: the special tokens a dict of non-empty str ->
    ids (ints in 0..2**31-2, not bools; tiktoken lets two share one), the name a str or
    None, the special-token rule a bool. (A pickle is a program, trusted by whoever loads
    it; this catches one damaged or made by hand, not a hostile one.)"""
    problem = None
    if not isinstance(special_ids, dict) or not all(
            isinstance(token, str) and token and is_id(token_id) and token_id < _ID_LIMIT
            for token, token_id in special_ids.items()):
        problem = (f"its special tokens are {special_ids!r:.200}; expected a dict of str -> id "
                   f"in 0..{_ID_LIMIT - 1}")
    elif not (name is None or isinstance(name, str)):
        problem = f"its name is {name!r:.100}; expected a str or None"
    elif not isinstance(tiktoken_rule, bool):
        problem = f"its special-token rule is {tiktoken_rule!r:.100}; expected a bool"
    if problem:
        raise ValueError(f"this pickled tokenizer is damaged: {problem}")


def token_tables(vocab: dict[int, bytes], merges: Sequence[tuple[bytes, bytes]]) -> TokenTables:
    """The tables of a vocabulary and its merges (as Tokenizer(vocab, merges) derives them
    before special tokens are added)."""
    ids = token_ids(vocab)
    return TokenTables.from_vocab(vocab, merge_ids(merges, ids), byte_ids(ids))


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, in hex."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class SourceStamp(NamedTuple):
    """What a tables file records of each file it was made from."""

    sha256: str     # hex: what the build compares, and errors name
    size: int       # bytes
    crc32: int      # zlib.crc32 of the bytes: what every load compares (see _check_sources)

    @classmethod
    def of(cls, path: str | os.PathLike) -> SourceStamp:
        import hashlib

        with open(path, "rb") as f:
            data = f.read()
        return cls(hashlib.sha256(data).hexdigest(), len(data), zlib.crc32(data))


# A tables file (little-endian throughout), read with one read() and taken apart into views
# of its bytes, so that loading one costs about what reading it does:
#   header    _HEADER: magic, TABLES_FORMAT, the number of source files, of tokens, of
#             merges, and of the tokens' bytes (32 bytes)
#   sources   _SOURCE per source file, in the order they are given: its sha256, size and
#             crc32 (48 bytes each)
#   ids       int32 per token
#   lengths   int32 per token
#   merges    int32 * 3 per merge: left ids, right ids, merged ids (merge_ids)
#   byte_ids  int32 * 256
#   blob      the tokens' bytes
# Every array starts at a multiple of 4 bytes. The file's size must be exactly what the
# header adds up to, so that one cut short is refused.
_SOURCE = struct.Struct("<32sQI4x")


def write_token_tables(path: str | os.PathLike, tables: TokenTables,
                       sources: Sequence[str | os.PathLike]) -> None:
    """Write tables to `path` in the tables format (above), with the stamp (sha256, size,
    crc32) of each of the files they were made from; the file appears whole or not at all."""
    ids, lengths, merges, byte_ids = map(
        int32_view, (tables.ids, tables.lengths, tables.merges, tables.byte_ids))
    if len(merges) % 3:
        raise ValueError("merges must have 3 rows of one length")
    header = _HEADER.pack(_MAGIC, TABLES_FORMAT, len(sources), len(ids), len(merges) // 3,
                          len(tables.blob))
    stamps = [SourceStamp.of(source) for source in sources]
    parts = [header,
             *(_SOURCE.pack(bytes.fromhex(s.sha256), s.size, s.crc32) for s in stamps),
             *map(_to_le, (ids, lengths, merges, byte_ids)), bytes(tables.blob)]
    path = os.fspath(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            f.write(b"".join(parts))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _parse_token_tables(data: bytes, where: str) -> tuple[list[SourceStamp], TokenTables]:
    """The sources' stamps and the tables in the bytes of a tables file, unchecked;
    ValueError when the bytes are not a whole tables file in this format."""
    if len(data) < _HEADER.size or data[:len(_MAGIC)] != _MAGIC:
        raise ValueError(f"token tables {where!r} cannot be read: not a bpe tables file")
    _, found, n_sources, n_tokens, n_merges, n_blob = _HEADER.unpack_from(data)
    if found != TABLES_FORMAT:
        raise ValueError(f"token tables {where!r} are in format {found}; this bpe reads format "
                         f"{TABLES_FORMAT}: remake them (setup.py does, at build time)")
    sizes = [_SOURCE.size * n_sources, 4 * n_tokens, 4 * n_tokens, 12 * n_merges, 4 * 256,
             n_blob]
    expected = _HEADER.size + sum(sizes)
    if len(data) != expected:
        raise ValueError(f"token tables {where!r} cannot be read: the file has {len(data)} "
                         f"bytes where its header says {expected} (cut short or damaged)")
    view, start, parts = memoryview(data), _HEADER.size, []
    for size in sizes:
        parts.append(view[start:start + size])
        start += size
    stamps, ids, lengths, merges, byte_ids, blob = parts
    made_from = [SourceStamp(digest.hex(), size, crc32)
                 for digest, size, crc32 in _SOURCE.iter_unpack(stamps)]
    return made_from, TokenTables(_from_le(ids), _from_le(lengths), blob.tobytes(),
                                  _from_le(merges), _from_le(byte_ids))


def _check_sources(where: str, made_from: list[SourceStamp],
                   sources: Sequence[str | os.PathLike], strong: bool) -> None:
    """ValueError unless the tables `where` were made from exactly these files: the same
    size and crc32 (every load), or the same sha256 (`strong`: the build).

    A load compares the crc32 rather than the sha256 because importing hashlib loads
    OpenSSL, which costs more time and memory than everything else a load does; the check
    guards against tables left stale by a changed vocabulary file, which a crc32 and a size
    miss with odds of one in 2**32 (a deliberate collision gains nothing: whoever can
    change the files can change the tables, or the code, too)."""
    if len(made_from) != len(sources):
        raise ValueError(f"token tables {where!r} were made from {len(made_from)} files, "
                         f"not {len(sources)}")
    for source, stamp in zip(sources, made_from, strict=True):
        if strong:
            same = file_sha256(source) == stamp.sha256
        else:
            with open(source, "rb") as f:
                data = f.read()
            same = len(data) == stamp.size and zlib.crc32(data) == stamp.crc32
        if not same:
            raise ValueError(
                f"token tables {where!r} do not belong to {os.fspath(source)!r}: they were "
                f"made from a file with sha256 {stamp.sha256}, and this one has sha256 "
                f"{file_sha256(source)}. Remake them (`pip install -e .` or "
                f"`python setup.py build_ext --inplace` does) or delete them")


def read_token_tables(path: str | os.PathLike, sources: Sequence[str | os.PathLike]
                      ) -> TokenTables:
    """The tables written by write_token_tables, after checking that they were made from
    exactly these files (_check_sources) and that they can be a tokenizer's
    (TokenTables.checked): ValueError, saying what is wrong, if not; FileNotFoundError where
    there are none."""
    where = os.fspath(path)
    with open(where, "rb") as f:
        data = f.read()
    made_from, tables = _parse_token_tables(data, where)
    _check_sources(where, made_from, sources, strong=False)
    return tables.checked()


def token_tables_current(path: str | os.PathLike,
                         sources: Sequence[str | os.PathLike]) -> bool:
    """Whether `path` holds whole tables in this format, made from exactly these files by
    sha256 (what setup.py asks before it remakes them: no kernel is needed to answer)."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as f:
            made_from, _ = _parse_token_tables(f.read(), where)
        _check_sources(where, made_from, sources, strong=True)
    except (FileNotFoundError, ValueError):
        return False
    return True


def is_integer(value: object) -> bool:
    """Whether value is an int or a NumPy integer, without importing NumPy (a NumPy integer
    can only come from a program that imported it)."""
    if isinstance(value, int):
        return True
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.integer)


ID_SLACK = 65536     # see check_id_spread


def check_id_spread(largest: int, n_tokens: int, what: str = "vocab id") -> None:
    """Refuse a largest id far past the number of tokens: ValueError unless it is below
    2 * n_tokens + ID_SLACK. The kernels' tables (decode's, the merge table's byte tables,
    the ints of encode's lists) are as long as the largest id, so one stray id in a small
    file would cost gigabytes. Real vocabularies are dense but for a few gaps (o200k's
    special tokens sit at 199999 and 200018); special tokens count as tokens."""
    limit = 2 * n_tokens + ID_SLACK
    if largest >= limit:
        raise ValueError(f"{what} {largest} is far past the vocabulary's {n_tokens} tokens: "
                         f"ids must be below 2 * {n_tokens} + {ID_SLACK} = {limit}")


def checked_vocab(vocab: dict[int, bytes]) -> dict[int, bytes]:
    """A Tokenizer's vocab argument checked: ids 0..2**31-2 (ints, or NumPy's integers;
    not bools), no id far past the number of tokens (check_id_spread), bytes values
    (copied)."""
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError("vocab must be a non-empty dict of id -> bytes")
    # The common case at C speed (a trainer's or a file's vocabulary: ints to bytes); the
    # loop below, for anything else, converts or names the bad entry.
    if (set(map(type, vocab)) == {int} and set(map(type, vocab.values())) == {bytes}
            and min(vocab) >= 0 and max(vocab) < 2**31 - 1):
        check_id_spread(max(vocab), len(vocab))
        return dict(vocab)
    checked = {}
    for token_id, token in vocab.items():
        if (not is_integer(token_id) or isinstance(token_id, bool)
                or not 0 <= token_id < 2**31 - 1):
            raise ValueError(f"vocab id {token_id!r} must be an int in 0..{2**31 - 2}")
        if not isinstance(token, (bytes, bytearray)):
            raise ValueError(f"vocab[{token_id}] is {type(token).__name__}, expected bytes")
        checked[int(token_id)] = bytes(token)
    check_id_spread(max(checked), len(checked))
    return checked


def checked_merges(merges: Iterable[Sequence[bytes]]) -> list[tuple[bytes, bytes]]:
    """A Tokenizer's merges argument checked: pairs of bytes."""
    merges = list(merges)
    # The common case at C speed (tuples of two bytes); the loop below, for anything else,
    # converts or names the bad merge.
    if (set(map(type, merges)) <= {tuple} and set(map(len, merges)) <= {2}
            and set(map(type, chain.from_iterable(merges))) <= {bytes}):
        return cast("list[tuple[bytes, bytes]]", merges)
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

    if not isinstance(ids, np.ndarray):
        ids = list(ids)
        flag = next((i for i in ids if isinstance(i, (bool, np.bool_))), None)
        if flag is not None:    # NumPy would read True as 1
            raise TypeError(f"ids must be ints, got {flag!r} at position {ids.index(flag)}")
    values = np.asarray(ids)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if values.ndim == 1 and values.dtype.kind in "iu":
        if values.dtype == np.uint64 and values.max() > np.iinfo(np.int64).max:
            raise ValueError(f"token id {values.max()} is not in the vocabulary")
        return np.ascontiguousarray(values, dtype=np.int64)
    if values.ndim == 1 and values.dtype == object and all(isinstance(i, int) for i in values):
        huge = next((i for i in values if not -(2**63) <= i < 2**63), None)
        if huge is None:
            return values.astype(np.int64)
        raise ValueError(f"token id {huge} is not in the vocabulary")
    raise TypeError(f"ids must be a flat sequence of ints, got dtype {values.dtype} "
                    f"with shape {values.shape}")
