"""The slow, obviously correct twin of the library: pure Python, docs/architecture.md
("What is exact") read literally.

Every fast path is tested against these functions on random inputs. They share nothing with
`bpe` but the pattern strings; the `regex` module is the oracle for the patterns themselves.
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

import regex

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def split_special(text: str, special_tokens: list[str]) -> list[tuple[str, bool]]:
    """Cut text into (segment, is_special): at each position the longest special token that
    starts there wins; scanning goes left to right."""
    out, start, i = [], 0, 0
    by_length = sorted(special_tokens, key=len, reverse=True)
    while i < len(text):
        match = next((s for s in by_length if text.startswith(s, i)), None)
        if match is None:
            i += 1
            continue
        out.append((text[start:i], False))
        out.append((match, True))
        i = start = i + len(match)
    out.append((text[start:], False))
    return [(segment, special) for segment, special in out if segment or special]


def pretokenize(text: str, pattern: str = GPT2_PATTERN) -> list[str]:
    """The pattern's matches, and each stretch of text between them as a piece of its own
    (the built-in patterns match all text; a custom one may not, and no text is dropped)."""
    pieces, end = [], 0
    for m in regex.finditer(pattern, text):
        if m.start() > end:
            pieces.append(text[end:m.start()])
        if m.group():
            pieces.append(m.group())
        end = max(end, m.end())
    return [*pieces, text[end:]] if end < len(text) else pieces


def merge(word: tuple[bytes, ...], pair: tuple[bytes, bytes]) -> tuple[bytes, ...]:
    """Replace occurrences of pair left to right, without overlap."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def train(text: str, vocab_size: int, special_tokens: list[str], pattern: str = GPT2_PATTERN,
          min_frequency: int = 0, max_token_length: int | None = None):
    """(vocab, merges) per the CS336 rules, recounting every pair at every step."""
    words: Counter[tuple[bytes, ...]] = Counter()
    for segment, is_special in split_special(text, special_tokens):
        if not is_special:
            for piece in pretokenize(segment, pattern):
                words[tuple(bytes([b]) for b in piece.encode("utf-8"))] += 1
    # a special token of one byte is that byte's token; the others take new ids
    new_specials = [token for token in special_tokens if len(token.encode("utf-8")) > 1]
    merges = learn_merges(words, vocab_size - 256 - len(new_specials), min_frequency,
                          max_token_length)
    vocab = {i: bytes([i]) for i in range(256)}
    for a, b in merges:
        vocab[len(vocab)] = a + b
    for token in new_specials:
        vocab[len(vocab)] = token.encode("utf-8")
    return vocab, merges


def learn_merges(words: Counter[tuple[bytes, ...]], n_merges: int, min_frequency: int = 0,
                 max_token_length: int | None = None, tokens: set[bytes] | None = None
                 ) -> list[tuple[bytes, bytes]]:
    """Up to n_merges merges of the most frequent pair (ties: the greater pair of bytes),
    leaving out pairs whose token would be longer than max_token_length bytes and pairs
    whose bytes together are already a token (one of `tokens`, or one a merge made), and
    stopping when the best pair occurs fewer than min_frequency times."""
    tokens = set(tokens or ())
    merges = []
    while len(merges) < n_merges:
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for word, count in words.items():
            for pair in pairwise(word):
                if ((max_token_length is None or len(pair[0] + pair[1]) <= max_token_length)
                        and pair[0] + pair[1] not in tokens):
                    pairs[pair] += count
        if not pairs:
            break
        best = max(pairs, key=lambda pair: (pairs[pair], pair))
        if pairs[best] < min_frequency:
            break
        merges.append(best)
        tokens.add(best[0] + best[1])
        merged: Counter[tuple[bytes, ...]] = Counter()
        for word, count in words.items():
            merged[merge(word, best)] += count
        words = merged
    return merges


def merge_ranks(merges: list[tuple[bytes, bytes]]) -> dict[tuple[bytes, bytes], int]:
    """A merge's rank is its place in the list, except in a run of merges that make one
    token (tiktoken's splits of it), which all take the run's first place and so tie."""
    ranks: dict[tuple[bytes, bytes], int] = {}
    run = 0                             # where the run of merges making this token starts
    for k, (a, b) in enumerate(merges):
        if k == 0 or a + b != b"".join(merges[k - 1]):
            run = k
        ranks.setdefault((a, b), run)
    return ranks


def encode_piece(piece: bytes, ranks: dict[tuple[bytes, bytes], int]) -> list[bytes]:
    """Merge the adjacent pair of lowest rank (leftmost on ties) until none has a rank."""
    parts = [bytes([b]) for b in piece]
    while len(parts) > 1:
        rank, i = min((ranks.get(pair, math.inf), i) for i, pair in enumerate(pairwise(parts)))
        if rank == math.inf:
            break
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts


def encode(text: str, vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]],
           special_tokens: list[str], pattern: str = GPT2_PATTERN,
           ignore_merges: bool = False) -> list[int]:
    """Apply, inside each piece, the adjacent pair of lowest rank (leftmost on ties): see
    merge_ranks and encode_piece. ignore_merges: a piece that is a token (not a special
    one) is that token, unmerged."""
    ids = {token: i for i, token in sorted(vocab.items(), reverse=True)}
    specials = {token.encode("utf-8") for token in special_tokens}
    ranks = merge_ranks(merges)
    out = []
    for segment, is_special in split_special(text, special_tokens):
        if is_special:
            out.append(ids[segment.encode("utf-8")])
            continue
        for piece in pretokenize(segment, pattern):
            whole = piece.encode("utf-8")
            if ignore_merges and whole in ids and whole not in specials:
                out.append(ids[whole])
                continue
            out.extend(ids[p] for p in encode_piece(whole, ranks))
    return out


def encode_dropout(text: str, vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]],
                   special_tokens: list[str], p: float, state: int,
                   pattern: str = GPT2_PATTERN) -> list[int]:
    """encode, each piece by merge_dropout, its draws one stream from state in text order."""
    ids = {token: i for i, token in sorted(vocab.items(), reverse=True)}
    ranks = merge_ranks(merges)
    out = []
    for segment, is_special in split_special(text, special_tokens):
        if is_special:
            out.append(ids[segment.encode("utf-8")])
            continue
        for piece in pretokenize(segment, pattern):
            parts, state = merge_dropout(piece.encode("utf-8"), ranks, p, state)
            out.extend(ids[part] for part in parts)
    return out


def extend(text: str, vocab: dict[int, bytes], merges: list[tuple[bytes, bytes]],
           special_tokens: list[str], n_merges: int, pattern: str = GPT2_PATTERN,
           min_frequency: int = 0, max_token_length: int | None = None
           ) -> list[tuple[bytes, bytes]]:
    """The new merges of continued training on text over a base (vocab, merges): each piece
    starts as the base encodes it, then learn_merges, where every base token exists."""
    ranks = merge_ranks(merges)
    words: Counter[tuple[bytes, ...]] = Counter()
    for segment, is_special in split_special(text, special_tokens):
        if not is_special:
            for piece in pretokenize(segment, pattern):
                words[tuple(encode_piece(piece.encode("utf-8"), ranks))] += 1
    return learn_merges(words, n_merges, min_frequency, max_token_length,
                        tokens=set(vocab.values()))


def decode(ids: list[int], vocab: dict[int, bytes]) -> str:
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def splitmix64(state: int) -> tuple[int, int]:
    """(the next state, 64 random bits): the stream BPE-dropout draws from."""
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


def merge_dropout(piece: bytes, ranks: dict[tuple[bytes, bytes], int], p: float,
                  state: int) -> tuple[list[bytes], int]:
    """BPE-dropout of one piece by Hugging Face's rule, read literally: candidates (rank,
    position) of every adjacent pair that merges; take the least; with probability p (the
    top 53 bits of a draw below p * 2**53) set it aside; else put the set-aside ones back,
    and merge it if it is still the pair there, adding the new pairs on either side. Returns
    the parts and the stream's state after."""
    threshold = round(p * 2**53)
    parts: list[bytes | None] = [bytes([b]) for b in piece]
    following = [*range(1, len(parts)), -1]         # the next live part, -1 at the end
    preceding = list(range(-1, len(parts) - 1))
    candidates = [(ranks[pair], i) for i, pair in enumerate(pairwise(parts)) if pair in ranks]
    aside: list[tuple[int, int]] = []
    while candidates:
        top = min(candidates)
        candidates.remove(top)
        state, draw = splitmix64(state)
        if draw >> 11 < threshold:
            aside.append(top)
            continue
        candidates += aside
        aside = []
        rank, i = top
        j = following[i]
        if parts[i] is None or j < 0 or ranks.get((parts[i], parts[j])) != rank:
            continue
        parts[i], parts[j] = parts[i] + parts[j], None
        following[i] = following[j]
        if following[i] >= 0:
            preceding[following[i]] = i
        for a, b in ((preceding[i], i), (i, following[i])):
            if a >= 0 and b >= 0 and (parts[a], parts[b]) in ranks:
                candidates.append((ranks[parts[a], parts[b]], a))
    return [part for part in parts if part is not None], state
