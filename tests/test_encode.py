"""The encode kernels alone: short and long piece algorithms agree, the cache is transparent,
decode gathers exactly and makes the str Python's decoder would."""
import json
import pickle
import re
import subprocess
import sys
import sysconfig
import threading

import numpy as np
import pytest
import regex
from hypothesis import example, given
from hypothesis import strategies as st

from bpe import GPT2_PATTERN
from bpe._decode import TokenArena
from bpe._encode import encode_ordinary, encode_pieces
from bpe._ids import IdBuffer, pinned_ints
from bpe._merge_table import SHORT_PIECE_BYTES as SHORT_PIECE
from bpe._merge_table import MergeTable
from bpe._piece_cache import PieceCache, PieceSlots
from bpe._pretokenize import PATTERN_IDS
from bpe.formats import merges_from_ranks

from . import reference
from .conftest import run_capped


def table_from(merges: list[tuple[bytes, bytes]], pack: bool = True,
               vocab: dict[int, bytes] | None = None):
    """A MergeTable plus vocab for the given merges, ids in creation order unless a vocab
    is given (pack=False: its pairs in a PairMap, though they fit a PackedPairs)."""
    vocab = dict(vocab or {i: bytes([i]) for i in range(256)})
    ids = {v: k for k, v in vocab.items()}
    rows = []
    for a, b in merges:
        if a + b not in ids:
            ids[a + b] = len(vocab)
            vocab[len(vocab)] = a + b
        rows.append((ids[a], ids[b], ids[a + b]))
    rows = np.array(rows, dtype=np.int32).reshape(-1, 3)
    table = MergeTable(*np.ascontiguousarray(rows.T), np.arange(256, dtype=np.int32), pack)
    assert table.is_packed == (pack and all(np.diff(rows[:, 2]) >= 0))
    return table, vocab


def merges_for(alphabet: bytes, n: int, seed: int) -> list[tuple[bytes, bytes]]:
    """Random but valid merges: each side is a byte or an earlier merge's result."""
    rng = np.random.default_rng(seed)
    tokens = [bytes([c]) for c in alphabet]
    merges = []
    for _ in range(n):
        a, b = tokens[rng.integers(len(tokens))], tokens[rng.integers(len(tokens))]
        merges.append((a, b))
        tokens.append(a + b)
    return merges


def every_split(merges: list[tuple[bytes, bytes]]):
    """(vocab, merges) from tiktoken's ranks of the tokens these merges make, in that
    order: every split of each token, side by side (merges_from_ranks)."""
    ranks = {bytes([b]): b for b in range(256)}
    for a, b in merges:
        ranks.setdefault(a + b, len(ranks))
    return merges_from_ranks(ranks)


@pytest.mark.parametrize("pack", [True, False])
@pytest.mark.parametrize("splits", [False, True])
@given(seed=st.integers(0, 2**32 - 1),
       piece=st.binary(min_size=1, max_size=300).map(lambda b: bytes(97 + x % 3 for x in b)))
def test_pieces_equal_reference_both_algorithms(pack, splits, seed, piece):
    """Both piece algorithms, on both kinds of pair table. Random merges over three letters
    often make one token again later, from another pair; every split of each token, side
    by side, share a rank (and pack)."""
    merges, vocab = merges_for(b"abc", 40, seed), None
    if splits:
        vocab, merges = every_split(merges)
    table, vocab = table_from(merges, pack, vocab)
    expected = reference.encode(piece.decode(), vocab, merges, [], pattern=r"(?s).+")
    assert table.encode_piece(piece) == expected
    # the same piece padded past the short limit runs the heap algorithm
    long_piece = piece * (SHORT_PIECE // len(piece) + 2)
    expected = reference.encode(long_piece.decode(), vocab, merges, [], pattern=r"(?s).+")
    assert table.encode_piece(long_piece) == expected


@given(st.integers(0, 2**32 - 1),
       st.binary(min_size=1, max_size=200).map(lambda b: bytes(97 + x % 6 for x in b)))
def test_pieces_cut_where_no_merge_joins(seed, piece):
    """Few merges over six letters leave many byte pairs that no merge joins: pieces are cut
    there and encoded part by part, with the reference's ids."""
    merges = merges_for(b"abcdef", 12, seed)
    table, vocab = table_from(merges)
    expected = reference.encode(piece.decode(), vocab, merges, [], pattern=r"(?s).+")
    assert table.encode_piece(piece) == expected


@pytest.mark.parametrize("pack", [True, False])
@given(seed=st.integers(0, 2**32 - 1), drop=st.integers(2, 5), data=st.data())
def test_whole_tokens_equal_reference(pack, seed, drop, data):
    """take_whole_tokens (ignore_merges, tiktoken's rule): with every drop-th merge left
    out, tokens are made that merging their bytes no longer gives; exactly those are kept
    whole, a piece equal to one is its id, and any other piece merges as before (short
    pieces, and long ones past the heap limit)."""
    merges = merges_for(b"abc", 40, seed)
    _, vocab = table_from(merges)                   # every token the merges make
    kept = [merge for k, merge in enumerate(merges) if k % drop]
    table, _ = table_from(kept, pack, vocab)
    expected_whole = {i for i, token in vocab.items() if table.encode_piece(token) != [i]}
    assert sorted(table.take_whole_tokens(list(vocab.values()), list(vocab))) == sorted(
        expected_whole)
    assert table.n_wholes == len(expected_whole)
    tokens = sorted(token for token in vocab.values() if set(token) <= set(b"abc"))
    pieces = st.one_of(st.sampled_from(tokens),
                       st.binary(min_size=1, max_size=300).map(
                           lambda b: bytes(97 + x % 3 for x in b)))
    for piece in (data.draw(pieces), data.draw(pieces), tokens[-1] * (SHORT_PIECE + 1)):
        expected = reference.encode(piece.decode(), vocab, kept, [], pattern=r"(?s).+",
                                    ignore_merges=True)
        assert table.encode_piece(piece) == expected
    with pytest.raises(RuntimeError, match="called already"):
        table.take_whole_tokens([], [])


def test_pieces_uncut_when_a_merge_comes_before_its_token():
    """A merge whose left token is made only by a later merge: no junctions can be known
    in one pass, so no piece is cut (and "abc" still ends as one token). Its merged ids
    fall with the rank, so the ranks stay in a PairMap."""
    table = MergeTable(np.array([256, 97], dtype=np.int32), np.array([99, 98], dtype=np.int32),
                       np.array([257, 256], dtype=np.int32), np.arange(256, dtype=np.int32))
    assert not table.is_packed
    assert table.encode_piece(b"abc") == [257]
    assert table.encode_piece(b"xabcabc") == [120, 257, 257]


def test_ids_past_the_packed_range_use_a_pair_map():
    """A token id of 2**21 or more does not fit a PackedPairs: the same merges with the
    ids moved past it encode to the moved ids."""
    merges = merges_for(b"abc", 40, 3)
    small, vocab = table_from(merges)
    ids = {token: i for i, token in vocab.items()}
    rows = np.array([(ids[a], ids[b], ids[a + b]) for a, b in merges], dtype=np.int32)
    moved = np.where(rows >= 256, rows + (1 << 21), rows).astype(np.int32)
    table = MergeTable(*np.ascontiguousarray(moved.T), np.arange(256, dtype=np.int32))
    assert not table.is_packed
    for piece in [b"abcabc", b"cababbbca" * 20, b"a"]:
        expected = [i + (1 << 21) if i >= 256 else i for i in small.encode_piece(piece)]
        assert table.encode_piece(piece) == expected


def _mix(key: int) -> int:
    """_pairmap.pxd's hash of a pair key (splitmix64's finalizer)."""
    mask = (1 << 64) - 1
    key ^= key >> 30
    key = key * 0xBF58476D1CE4E5B9 & mask
    key ^= key >> 27
    key = key * 0x94D049BB133111EB & mask
    return key ^ key >> 31


def test_top_packed_ids_pair_without_a_merge():
    """Ids 2**21 - 2 and 2**21 - 1 ("y" and "z"), with merges that join z to z and y to y
    across tokens (so that pieces are not cut there) but no merge (z, z) or (y, y): a
    PackedPairs probe for (z, z) that reaches an empty slot (all ones, whose pair bits read
    (2**21 - 1, 2**21 - 1)) finds no merge. Each pair that does not merge gets a merge of
    other bytes in the same bit of the table's filter, so that its probe is made."""
    top = (1 << 21) - 1
    vocab = {i: bytes([i]) for i in range(256) if i not in b"yz"}
    vocab[top - 1], vocab[top] = b"y", b"z"
    merges = [(b"y", b"z"), (b"yz", b"z"), (b"z", b"y"), (b"zy", b"y")]
    spots = set()
    for a, b in [(top, top), (top - 1, top - 1)]:
        spot = _mix(a << 32 | b) >> 52         # the filter's bit: 12 bits for a few merges
        if spot not in spots:
            spots.add(spot)
            merges.append(next((bytes([x]), bytes([y])) for x in range(128) for y in range(256)
                               if x not in b"yz" and y not in b"yz"
                               and _mix(x << 32 | y) >> 52 == spot))
    ids = {token: i for i, token in vocab.items()}
    rows = []
    for k, (a, b) in enumerate(merges):
        vocab[300 + k], ids[a + b] = a + b, 300 + k
        rows.append((ids[a], ids[b], 300 + k))
    byte_ids = np.array([ids[bytes([i])] for i in range(256)], dtype=np.int32)
    table = MergeTable(*np.ascontiguousarray(np.array(rows, dtype=np.int32).T), byte_ids)
    assert table.is_packed
    for piece in ["zz", "yy", "yz", "zy", "zzz", "yzzy", "zyyz", "zzyy", "z" * 200, "yz" * 150]:
        expected = reference.encode(piece, vocab, merges, [], pattern=r"(?s).+")
        assert table.encode_piece(piece.encode()) == expected, piece


HUGE_ID_SCRIPT = """
from bpe._merge_table import MergeTable
byte_ids = np.arange(256, dtype=np.int32)
byte_ids[122] = 2**31 - 2
none = np.zeros(0, dtype=np.int32)
cap()
try:
    MergeTable(none, none, none, byte_ids)
    print("made")
except MemoryError as e:
    print("MemoryError:", e)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
def test_no_memory_for_the_junction_tables_is_a_memory_error():
    """A byte id near 2**31 sizes the merge table's per-token tables (two int32 each) at
    16 GB: under a 1 GB cap, MemoryError naming the ids, not an abort (std::bad_alloc)."""
    assert run_capped(HUGE_ID_SCRIPT, "1000") == (
        "MemoryError: no memory for the merge table: token ids up to 2147483646 take "
        "17179869176 bytes of byte tables")


@given(st.lists(st.sampled_from(["ab", "abc", "ba", "cab", "a", "abcabcab", "c" * 30]),
                max_size=50))
def test_cache_is_transparent(pieces):
    table, _ = table_from(merges_for(b"abc", 30, 7))
    cache, out = PieceCache(), IdBuffer()
    encode_pieces(table, pieces, out, cache)
    encode_pieces(table, pieces, out, cache)  # second time: from the cache
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected * 2


@given(st.lists(st.text("abc", min_size=9, max_size=26), min_size=1, max_size=20),
       st.integers(0, 3))
def test_short_pieces_with_many_ids_are_cached_transparently(pieces, n_merges):
    """Pieces of at most 26 bytes with more than 8 ids keep them in the long-piece cache."""
    table, _ = table_from(merges_for(b"abc", n_merges, 11))
    cache, out = PieceCache(), IdBuffer()
    for _ in range(3):
        encode_pieces(table, pieces, out, cache)
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected * 3


@given(st.text("ab\x00 -", max_size=300))
@example("a\x00\x00\x00\x00b\x00\x00\x00c" + "-" * 16 + "a" + "-" * 17 + "b\x00\x00\x00")
def test_pieces_in_one_slot_are_told_apart_by_length(text):
    """Pieces of up to 16 bytes are keyed by two zero-padded words, so "\\0\\0\\0" and
    "\\0\\0\\0\\0" have the same key: a way must match the length too. With one line
    (two ways) for all pieces, every piece meets the first piece's key and the latest's.
    Pieces of 16 and 17 bytes, and pieces near the text's end (keyed through a copy), are
    in the example."""
    table, _ = table_from(merges_for(b"ab\x00 -", 40, 2))
    cache, out = PieceCache(PieceSlots(0)), IdBuffer()
    for _ in range(2):
        encode_ordinary(table, text, -1, PATTERN_IDS["gpt2"], out, cache)
    pieces = regex.findall(GPT2_PATTERN, text)
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected * 2


def widened(table_rows: np.ndarray, base: int) -> MergeTable:
    """The merge table of these (left, right, merged) rows with every merged id moved up
    by base: the same merges, with ids as wide as base makes them."""
    rows = table_rows.copy()
    rows[rows >= 256] += base
    return MergeTable(*np.ascontiguousarray(rows.T), np.arange(256, dtype=np.int32))


@given(st.lists(st.text("abc", min_size=1, max_size=26), min_size=1, max_size=60),
       st.sampled_from([0, 1 << 16, (1 << 20) - 300]), st.integers(0, 3), st.booleans())
def test_ways_hold_ids_of_any_width(pieces, base, bits, packed):
    """A piece of up to 16 bytes keeps its ids in a way of its line: in a packed table up
    to six under 2**16, else up to three; the rest go to its wide slot, as do pieces of
    17..26 bytes. So ids from 2**16 and 2**20 up never stay in a packed table's ways, and
    ids under 2**16 take 32 bits in a table that is not packed; tables of 1..8 lines make
    pieces share lines and evict each other. Every encode equals the uncached one."""
    merges = merges_for(b"abc", 40, 9)
    _, vocab = table_from(merges)
    ids = {v: k for k, v in vocab.items()}
    rows = np.array([(ids[a], ids[b], ids[a + b]) for a, b in merges], dtype=np.int32)
    table = widened(rows, base)
    cache, out = PieceCache(PieceSlots(bits, packed=packed)), IdBuffer()
    for _ in range(3):
        encode_pieces(table, pieces, out, cache)
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected * 3
    assert cache.hits + cache.misses == 3 * len(pieces)


def test_a_line_keeps_its_first_piece_and_its_last():
    """In a table of one line, the first piece met stays and the second way holds the
    latest: a, b, a, b hit after the first two; c then evicts b, not a; then b evicts c."""
    table, _ = table_from(merges_for(b"abc", 20, 4))
    cache, out = PieceCache(PieceSlots(0)), IdBuffer()
    encode_pieces(table, ["a", "b"], out, cache)
    assert (cache.hits, cache.misses) == (0, 2)
    encode_pieces(table, ["a", "b", "a", "b"], out, cache)
    assert (cache.hits, cache.misses) == (4, 2)
    encode_pieces(table, ["c", "a", "b", "c"], out, cache)
    assert (cache.hits, cache.misses) == (5, 5)
    ids = out.to_list(pinned_ints(300))
    assert ids == [ord("a"), ord("b")] * 3 + [ord("c"), ord("a"), ord("b"), ord("c")]


@pytest.mark.parametrize("place", [0, 7, 8, 15])
def test_every_byte_of_a_key_picks_its_line(place):
    """Pieces that differ in one byte only, at any place of their two key words, spread
    over the lines: 96 of them in a table of 1,024 lines (two ways each) are nearly all
    hits when met again. A line hash that left a byte out would put them all in one line
    and miss nearly all. (Runs of "a" merge, so that each piece's ids fit in a way.)"""
    table, _ = table_from([(b"a", b"a"), (b"aa", b"aa"), (b"aaaa", b"aaaa")])
    pieces = ["a" * place + chr(c) + "a" * (15 - place) for c in range(32, 128)]
    cache, out = PieceCache(PieceSlots(10)), IdBuffer()
    encode_pieces(table, pieces, out, cache)
    first = out.to_list(pinned_ints(300))
    encode_pieces(table, pieces, out, cache)
    assert cache.misses - len(pieces) <= 4
    assert out.to_list(pinned_ints(300)) == first * 2


def test_lists_hold_pinned_ints():
    """Encode's lists take their ints from a PinnedInts block without counting references:
    making and dropping many lists must leave every int alive and equal to its id (an
    unpinned int would be freed by the first list dropped). The ints are ints like any
    other, id k's lies k blocks of 32 bytes from id 0's (decode_list reads ids from their
    place). A plain list is refused."""
    ints = pinned_ints(300)
    out = IdBuffer()
    for token_id in [5, 299, 5, 0]:
        out.append(token_id)
    for _ in range(10_000):
        ids = out.to_list(ints)
        del ids
    ids = out.to_list(ints)
    assert ids == [5, 299, 5, 0] and ids[0] is ids[2] is ints[5]
    assert list(ints) == list(range(300)) and pinned_ints(300)[299] is ints[299]
    assert all(id(ints[k]) - id(ints[0]) == 32 * k for k in range(300))
    assert sys.getrefcount(ints[299]) > 1 << 30
    for k in [0, 1, 256, 257, 299]:
        value = ints[k]
        assert type(value) is int and value == k and hash(value) == hash(k)
        assert value + 1 == k + 1 and str(value) == str(k) and value.bit_length() == k.bit_length()
        assert pickle.loads(pickle.dumps(value)) == k and json.dumps(value) == str(k)
    with pytest.raises(IndexError, match="int 300 is not in a table of 300"):
        ints[300]
    with pytest.raises(TypeError, match="ints must be a PinnedInts"):
        out.to_list(list(range(300)))
    out.append(300)
    with pytest.raises(ValueError, match="an id has no int in a table of 300"):
        out.to_list(ints)


def test_a_filled_list_is_a_list_like_any_other():
    """fill_lists gives each list items it allocated itself (PyMem_Malloc, not PyList_New's
    calloc), exactly as many as the ids: such a list grows, shrinks, is copied, sized and
    freed as any other, and a collection running on another thread meanwhile finds no
    list half made (each stays empty until its items are all set)."""
    import gc

    import bpe

    tok = bpe.get_encoding("gpt2")
    texts = [f"text {k}: " + "hello world, " * (k % 50) for k in range(400)]
    expected = [tok.encode(t) for t in texts]
    ids = tok.encode(texts[-1])
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):   # there the list grows its own
        assert sys.getsizeof(ids) == sys.getsizeof([]) + 8 * len(ids)
    assert gc.is_tracked(ids)
    ids.extend(range(100_000))
    ids.append(5)
    del ids[len(expected[-1]):]
    assert ids == expected[-1] and ids[:3] + ids[3:] == expected[-1]
    stop = threading.Event()

    def collect():
        while not stop.is_set():
            gc.collect(0)

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        for _ in range(20):
            assert tok.encode_batch(texts, num_threads=2) == expected
            assert [tok.encode(t) for t in texts[::7]] == expected[::7]
    finally:
        stop.set()
        collector.join()


def _transparent_huge_pages() -> str:
    """The kernel's transparent huge page mode (always, madvise, never), or "" if none;
    "never" where this process has them turned off (prctl PR_SET_THP_DISABLE)."""
    try:
        with open("/proc/self/status") as f:
            if re.search(r"^THP_enabled:\s*0$", f.read(), re.MULTILINE):
                return "never"
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return re.search(r"\[(\w+)\]", f.read()).group(1)
    except (OSError, AttributeError):
        return ""


def _huge_kb_under(address: int, size: int) -> int:
    """The kB of transparent huge pages in the mappings that [address, address + size)
    touches, from /proc/self/smaps."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(maxsplit=1)[0]
            if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head):
                low, high = (int(x, 16) for x in head.split("-"))
                inside = low < address + size and address < high
            elif inside and line.startswith("AnonHugePages:"):
                total += int(line.split()[1])
    return total


@pytest.mark.skipif(_transparent_huge_pages() not in ("always", "madvise"),
                    reason="the kernel has no transparent huge pages to advise")
@pytest.mark.skipif(bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                    reason="a free-threaded list fills its items with None before they are advised")
def test_a_big_list_is_written_on_huge_pages():
    """A list of many ids is advised onto huge pages before it is filled: its items (36 MB,
    above what glibc ever takes from its heaps, so freshly mapped) fault in 2 MB at a time,
    not 4 KB (in a VM, microseconds a fault: a fifth of encoding a large text to a list)."""
    import ctypes

    import bpe

    ids = bpe.get_encoding("gpt2").encode(" a" * 4_500_000)
    assert len(ids) == 4_500_000 and ids[0] == ids[-1] == 257
    items = ctypes.c_void_p.from_address(id(ids) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    assert _huge_kb_under(items, 8 * len(ids)) >= 16 << 10


def test_ints_of_an_older_block_stay_alive():
    """A vocabulary larger than the block makes a new one (twice the size); lists of the
    old block's ints stay valid and still decode (read as any other int). In a fresh
    process, where the first block is as small as asked."""
    script = r"""
import gc
from bpe._decode import TokenArena
from bpe._ids import pinned_ints
old = pinned_ints(300)
ids = [old[k] for k in (5, 299, 0)]
new = pinned_ints(301)
assert new[5] is not old[5] and new[5] == old[5] == 5 and len(new) == 301
for _ in range(1000):
    copy = list(ids)
    del copy
gc.collect()
arena = TokenArena([bytes([k % 256]) * (1 + k // 256) for k in range(600)])
assert arena.decode_list(ids) == b"\x05" + b"\x2b\x2b" + b"\x00"
assert arena.decode_list([new[5], old[5], 5, new[299], old[299]]) == b"\x05" * 3 + b"\x2b\x2b" * 2
assert pinned_ints(600)[300] is new[300] and pinned_ints(299)[5] is new[5]
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_encode_pieces_rejects_non_str():
    table, _ = table_from([])
    with pytest.raises(TypeError, match="piece 1 is bytes"):
        encode_pieces(table, ["a", b"b"], IdBuffer(), PieceCache())


def test_repeated_merge_keeps_first_rank():
    table, _ = table_from([(b"a", b"b"), (b"b", b"c"), (b"a", b"b")])
    assert table.encode_piece(b"abc") == [256, 99]


@given(st.lists(st.one_of(st.binary(max_size=5), st.binary(min_size=15, max_size=40)),
                min_size=1, max_size=20), st.data())
def test_arena_decode(tokens, data):
    """Tokens of up to 16 bytes (copied as one block) and longer, some ids without a token;
    ids from NumPy, Python ints, and encode's pinned ints."""
    holes = data.draw(st.sets(st.integers(0, len(tokens) - 1))) - {0}   # ids with no token
    arena = TokenArena([None if i in holes else t for i, t in enumerate(tokens)])
    ids = [i for i in data.draw(st.lists(st.integers(0, len(tokens) - 1), max_size=3000))
           if i not in holes]
    expected = b"".join(tokens[i] for i in ids)
    assert arena.decode(np.array(ids, dtype=np.int64)) == expected
    assert arena.decode_list(ids) == expected
    assert arena.decode_list(ids, True, "replace") == expected.decode("utf-8", "replace")
    # encode's pinned ints (read from their place in the block) mixed with other ints
    pinned = pinned_ints(len(tokens) + 1)
    mixed = [pinned[i] if data.draw(st.booleans()) else i for i in ids]
    assert arena.decode_list(mixed) == expected
    for bad in [len(tokens), -1, *holes]:
        with pytest.raises(ValueError, match=f"token id {bad} at position 1 is not"):
            arena.decode(np.array([0, bad], dtype=np.int64))
        with pytest.raises(ValueError, match=f"token id {bad} at position 1 is not"):
            arena.decode_list([0, bad])
        if bad >= 0:
            with pytest.raises(ValueError, match=f"token id {bad} at position 1 is not"):
                arena.decode_list([pinned[0], pinned[bad]])


BYTE_ARENA = TokenArena([bytes([b]) for b in range(256)])     # id b: the byte b
# UTF-8 of every length and kind (ASCII, Latin-1, BMP, astral), with at most one break in
# it: a lone continuation byte, an overlong form, a surrogate, past U+10FFFF, a cut sequence.
UTF8 = st.lists(st.one_of(st.text(max_size=20).map(str.encode),
                          st.sampled_from([b"a" * 9, b"\xc3\xa9", b"\xc4\x80", b"\xef\xbf\xbf",
                                           b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf"])),
                max_size=20).map(b"".join)
BROKEN_UTF8 = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
               b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf",
               b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xe2\x82", b"\xf0\x9f\x98",
               b"\xc3", b"\xe2\x28\xa1", b"\xf0\x9f\x28\x80"]
BROKEN = st.one_of(st.sampled_from(BROKEN_UTF8), st.binary(min_size=1, max_size=4))


@given(st.tuples(UTF8, st.one_of(st.just(b""), BROKEN), UTF8).map(b"".join),
       st.sampled_from(["replace", "strict", "ignore"]))
@example(b"plain ascii, more than eight bytes", "strict")
@example("caf\u00e9 \u0100 \u4e2d \U0001f600".encode(), "strict")
def test_decode_to_str_equals_python(data, errors):
    check_decode_to_str(data, errors)


def check_decode_to_str(data: bytes, errors: str) -> None:
    ids = np.frombuffer(data, dtype=np.uint8).astype(np.uint16)
    try:
        expected = data.decode("utf-8", errors)
    except UnicodeDecodeError as e:
        with pytest.raises(UnicodeDecodeError, match=re.escape(str(e))):
            BYTE_ARENA.decode(ids, True, errors)
        return
    got = BYTE_ARENA.decode(ids, True, errors)
    # Equal is of the same kind too: CPython finds strs of different kinds unequal, and
    # isascii reads the ASCII flag.
    assert got == expected and hash(got) == hash(expected) and got.isascii() == expected.isascii()


@pytest.mark.parametrize("broken", BROKEN_UTF8)
@pytest.mark.parametrize("before, after", [(b"", b""), (b"abcdefg", b"h" * 9),
                                           (b"\xc3\xa9", b"\xe4\xb8\xad"),
                                           (b"\xf0\x9f\x98\x80" * 3, b"z")])
def test_decode_to_str_of_broken_utf8_equals_python(broken, before, after):
    for errors in ["replace", "strict", "ignore"]:
        check_decode_to_str(before + broken + after, errors)


@pytest.mark.parametrize("text", ["\U0001f600 " + "abc\u00e9 " * 200_000,  # past 1 MB of
                                  "\u4e2d" * 600_000,  # characters: huge pages
                                  "\u00e9" * 1_100_000])
def test_decode_to_a_big_str(text):
    data = text.encode()
    assert BYTE_ARENA.decode(np.frombuffer(data, dtype=np.uint8).astype(np.uint16), True) == text


def test_long_piece_cache_is_transparent():
    """Pieces past the short cache's 26 bytes go through the long-piece cache."""
    table, _ = table_from(merges_for(b"abc", 30, 11))
    pieces = ["abc" * 10, "cab" * 40, "abc" * 10, "b" * 5000, "b" * 5000, "ab" * 12]
    cache, out = PieceCache(), IdBuffer()
    encode_pieces(table, pieces, out, cache)
    encode_pieces(table, pieces, out, cache)
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected * 2
    assert cache.hits >= 5  # repeats of the 30-byte and 120-byte pieces hit


def test_long_pieces_share_their_set():
    """The long-piece table keeps a piece in any of the 4 slots of its set: in a table of
    one set, four long pieces all stay, and each met again is a hit; a fifth takes the
    slot whose turn it is (the first filled), and the others stay."""
    table, _ = table_from(merges_for(b"xy", 4, 0))
    a, b, c, d, e = (chr(97 + k) * 30 for k in range(5))    # 30 ids each: no merges apply
    cache, out = PieceCache(long_bits=2), IdBuffer()
    encode_pieces(table, [a, b, c, d, a, b, c, d], out, cache)
    assert (cache.hits, cache.misses) == (4, 4)
    assert cache.long_held == (4, 4 * (30 * 4 + 30))
    encode_pieces(table, [e, e, b, c, d], out, cache)
    assert (cache.hits, cache.misses) == (8, 5)
    encode_pieces(table, [a], out, cache)
    assert (cache.hits, cache.misses) == (8, 6)
    assert cache.long_held == (4, 4 * (30 * 4 + 30))
    met = [a, b, c, d] * 2 + [e, e, b, c, d, a]
    expected = [i for p in met for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected
    with pytest.raises(ValueError, match=r"long_bits must be in 2\.\.24, got 1"):
        PieceCache(long_bits=1)


def test_a_short_piece_with_many_ids_outlives_its_wide_slot():
    """A piece of at most 26 bytes with more than 8 ids keeps them in the long-piece table,
    and its wide slot says so. When another piece takes that slot, the table still holds
    the ids: in a cache of one wide slot, two such pieces met by turns are hits after
    their first time, though each takes the slot from the other."""
    table, _ = table_from(merges_for(b"xy", 4, 0))
    pieces = ["abcdefghijkl", "mnopqrstuvw"] * 4     # 12 and 11 ids: no merges apply
    cache, out = PieceCache(PieceSlots(0)), IdBuffer()
    encode_pieces(table, pieces, out, cache)
    assert (cache.hits, cache.misses) == (6, 2)
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected


def test_the_long_piece_table_holds_at_most_its_budget():
    """However many long pieces come, the table's allocations stay within 16 MB: 14,000
    distinct pieces of 256 bytes with one id a byte (1,280 bytes each, 17.9 MB in all)
    fill it with 13,107 of them, and the rest are merged each time, exactly (one that
    comes to a full set still takes a slot, in place of a piece that was held)."""
    table, _ = table_from(merges_for(b"xy", 4, 0))
    rng = np.random.default_rng(5)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvw", dtype=np.uint8)
    pieces = list(dict.fromkeys(rng.choice(letters, 256).tobytes().decode()
                                for _ in range(14_000)))
    cache, out = PieceCache(), IdBuffer()
    encode_pieces(table, pieces, out, cache)
    assert cache.long_held == (13_107, 13_107 * 1_280)
    encode_pieces(table, pieces, out, cache)
    assert 13_000 < cache.hits <= 13_107 and cache.long_held == (13_107, 13_107 * 1_280)
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    assert out.to_numpy().tolist() == expected * 2


def test_shared_slots_stay_exact_under_threads():
    """Threads that share a table of four lines (and one wide slot) overwrite each other's
    pieces all the time (almost every piece is a miss, and each miss writes a line or the
    slot): none may take the ids of a line or slot that another thread is half-way through
    writing."""
    table, _ = table_from(merges_for(b"abc", 80, 5))
    rng = np.random.default_rng(3)
    pieces = ["".join(rng.choice(list("abc"), size=int(rng.integers(3, 27)))) for _ in range(3000)]
    expected = [i for p in pieces for i in table.encode_piece(p.encode())]
    slots = PieceSlots(2)
    wrong, hits = [], []

    def work():
        cache = PieceCache(slots)
        for _ in range(60):
            out = IdBuffer()
            encode_pieces(table, pieces, out, cache)      # without the GIL
            if out.to_numpy().tolist() != expected:
                wrong.append(out.to_numpy().tolist())
        hits.append(cache.hits)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
    assert len(hits) == 4 and min(hits) > 0             # the slots served hits too
