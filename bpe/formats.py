"""File formats: GPT-2's vocab.json + merges.txt, tiktoken's rank files, JSON objects.

GPT-2 stores token bytes as printable text through its bytes-to-unicode table: every byte
maps to one character (printable Latin-1 bytes to themselves, the rest to U+0100 onwards,
so the space becomes 'Ġ'). merges.txt lists one merge per line, "left right", after an
optional "#version" header.
"""
from __future__ import annotations

import json
import os
from functools import cache


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
    import base64
    import gzip

    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    ranks: dict[bytes, int] = {}
    try:
        with opener(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    token, rank = line.split()
                    ranks[base64.b64decode(token, validate=True)] = int(rank)
                except ValueError:
                    raise ValueError(f"rank file {os.fspath(path)!r}, line {number}: expected "
                                     f"'base64-token rank', got {line[:60]!r}") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"rank file {os.fspath(path)!r} does not exist") from None
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
