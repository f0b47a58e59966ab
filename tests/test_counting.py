"""Counting at scale: safe chunk cuts, any number of workers, any chunk size, the same counts."""
import os
import random
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from itertools import pairwise

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe
from bpe import counting
from bpe._count import PieceCounter, SharedCounter
from bpe.counting import (
    CUT_RULES,
    chunk_ranges,
    count_files,
    count_pieces,
    counts_on_threads,
    cut_rule,
    stream_text_chunks,
)
from bpe.patterns import Pretokenizer
from bpe.specials import ends_special, straddles

from .conftest import (
    RECORD_ENDINGS,
    TEXT_ENDINGS,
    compress,
    corpus_documents,
    repo_file,
    under_memory_caps,
    write_records,
)
from .strategies import SHAPES, documents, shape_text, small_texts, texts

NATIVE = list(bpe.PATTERNS)   # the natively matched patterns, each with its cut rule


def counts(counter) -> dict[bytes, int]:
    table = bpe.WordTable.from_counter(counter)
    return {table.word(i): int(c) for i, c in enumerate(table.counts)}


def whole(path, pattern, specials) -> dict[bytes, int]:
    return counts(count_files([path], pattern, specials, workers=1, chunk_bytes=1 << 40))


@pytest.mark.parametrize("pattern", [*NATIVE, regex.compile(r"\w+|\s+|[^\w\s]+")])
@given(doc=documents(), chunk_bytes=st.integers(1, 64))
def test_any_chunk_size_same_counts(tmp_path_factory, pattern, doc, chunk_bytes):
    text, specials = doc
    path = tmp_path_factory.mktemp("c") / "t.txt"
    path.write_text("ab\ncd " * 20 + text + "x\nyz 1\nw", encoding="utf-8")
    got = counts(count_files([path], pattern, specials, workers=1, chunk_bytes=chunk_bytes))
    assert got == whole(path, pattern, specials)


@pytest.mark.parametrize("pattern", ["cl100k", "o200k", "llama3", "qwen2"])
def test_no_cut_after_a_special_token_and_a_newline(tmp_path, pattern):
    """">" ends the special token, not a punctuation piece that would take the newline:
    the whitespace after it is one piece, so no cut falls after its first newline."""
    path = tmp_path / "t.txt"
    path.write_text("ab\ncd " * 20 + "<|endoftext|>\n \n <|endoftext|>x\nyz", encoding="utf-8")
    got = counts(count_files([path], pattern, ["<|endoftext|>"], workers=1, chunk_bytes=1))
    assert got == whole(path, pattern, ["<|endoftext|>"])


def test_cuts_fall_on_safe_places(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"one two.\nthree<|eot|>four\nfive x" * 50)
    data = path.read_bytes()
    ranges = chunk_ranges(path, ["<|eot|>"], native=True, chunk_bytes=16)
    assert len(ranges) > 50 and ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(b == c for (_, b), (c, _) in pairwise(ranges))
    for a, _ in ranges[1:]:
        at_special = data[a:].startswith(b"<|eot|>")
        at_newline = any(m.end() == a for m in CUT_RULES[True].finditer(data, a - 2, a + 1))
        assert at_special or at_newline, data[a - 5:a + 5]


def test_rare_special_token_plans_fast(tmp_path):
    """One search per special token, not one per chunk (a file without any)."""
    import time

    path = tmp_path / "big.txt"
    path.write_bytes(b"word another\nline " * 1_000_000)
    start = time.perf_counter()
    ranges = chunk_ranges(path, ["<|endoftext|>"], native=True, chunk_bytes=1 << 16)
    assert len(ranges) > 200 and time.perf_counter() - start < 5


def test_custom_pattern_cuts_only_at_special_tokens(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"one two\nthree\n" * 100 + b"<|eot|>" + b"x\ny\n" * 100)
    ranges = chunk_ranges(path, ["<|eot|>"], native=False, chunk_bytes=16)
    assert ranges == [(0, 1400), (1400, 1807)]


def test_process_pool_and_thread_pool_same_counts():
    path = repo_file("cs336/corpus.en")
    expected = whole(path, "gpt2", ["<|endoftext|>"])
    assert counts_on_threads("gpt2", [path])     # the default pool: threads, counters of their own
    got = count_files([path], "gpt2", ["<|endoftext|>"], workers=2, chunk_bytes=4096)
    assert counts(got) == expected
    with ThreadPoolExecutor(2) as pool:
        got = count_files([path], "gpt2", ["<|endoftext|>"], executor=pool, chunk_bytes=1000)
    assert counts(got) == expected
    with ProcessPoolExecutor(2) as pool:
        got = count_files([path], "gpt2", ["<|endoftext|>"], executor=pool, chunk_bytes=3000)
    assert counts(got) == expected


def _many_pieces(seed: int, n: int) -> list[str]:
    """n pieces drawn from 20,000 of 1 to 40 characters (keys of the counter's both kinds:
    up to 16 bytes, and longer), NUL and non-ASCII among them."""
    rng = random.Random(seed)
    alphabet = "ab \x00é\u4e2d\U0001f600\n"
    distinct = ["".join(rng.choices(alphabet, k=rng.choice([1, 2, 3, 5, 8, 15, 16, 17, 40])))
                for _ in range(20_000)]
    return rng.choices(distinct, k=n)


@given(seed=st.integers(0, 2**32), n_counters=st.integers(1, 4), n=st.integers(0, 40_000))
@settings(max_examples=20, deadline=None)
def test_shared_counter_counts_what_it_is_handed(seed, n_counters, n):
    """Counters of the fewest slots hand their pieces over whenever they fill (several
    times here) and once more at the end: the shared counts are the pieces' counts."""
    pieces = _many_pieces(seed, n)
    shared = SharedCounter()
    counters = [shared.counter(4096) for _ in range(n_counters)]
    for k, counter in enumerate(counters):
        counter.add(pieces[k::n_counters])
        assert len(counter) <= 3072         # three quarters of its slots: it hands over
    for counter in counters:
        shared.add_counter(counter)
        assert len(counter) == 0
    expected = Counter(p.encode("utf-8") for p in pieces)
    assert counts(shared) == expected and len(shared) == len(expected)
    text, offsets, piece_counts = shared.byte_arrays()
    assert {text[a:b].tobytes(): int(c) for a, b, c in zip(offsets[:-1], offsets[1:], piece_counts,
                                                          strict=True)} == expected


@given(seed=st.integers(0, 2**32), n=st.integers(0, 20_000))
@settings(max_examples=20, deadline=None)
def test_table_is_in_the_order_of_the_first_four_bytes(seed, n):
    """A counter's WordTable holds its pieces in the order of their first four bytes
    (shorter: as if zeros followed), pieces alike there in the order first counted, each
    with its count."""
    pieces = [p.encode("utf-8") for p in _many_pieces(seed, n)]
    counter = PieceCounter()
    counter.add([p.decode("utf-8") for p in pieces])
    table = bpe.WordTable.from_counter(counter)
    first_counted = list(dict.fromkeys(pieces))
    expected = sorted(first_counted, key=lambda p: p[:4].ljust(4, b"\0"))   # stable
    assert [table.word(i) for i in range(table.n_words)] == expected
    assert counts(counter) == Counter(pieces)


def _many_words() -> str:
    """The repository's corpus and 60,000 random words: more distinct pieces than eight
    counters of 4,096 slots hold."""
    rng = random.Random(0)
    words = ("".join(rng.choices("abcdefghijklmnopqrstuvwxyzé", k=rng.randint(2, 20)))
             for _ in range(60_000))
    return repo_file("cs336/corpus.en").read_text(encoding="utf-8") + " ".join(words)


def test_shared_counter_from_threads_at_once():
    """Threads counting (without the GIL) and handing over into one shared counter at the
    same time, over and over: the counts of one counter that counted everything."""
    data = _many_words().encode("utf-8")
    pattern_id = Pretokenizer("gpt2", []).native_id
    cuts = [0] + [data.index(b" ", k * len(data) // 8) for k in range(1, 8)] + [len(data)]
    expected = PieceCounter()       # the same stretches, each counted as a text of its own
    expected.count_utf8(data, list(pairwise(cuts)), pattern_id)
    for _ in range(5):
        shared = SharedCounter()

        def count(k, shared=shared):
            counter = shared.counter(4096)
            counter.count_utf8(data, [(cuts[k], cuts[k + 1])], pattern_id)
            kept = len(counter)
            shared.add_counter(counter)
            return kept

        with ThreadPoolExecutor(8) as pool:
            kept = list(pool.map(count, range(8)))
        assert counts(shared) == counts(expected)
    assert len(expected) > 8 * 3072 and max(kept) <= 3072   # more than 8 counters hold: filled


def test_shared_counter_refuses_a_size_it_cannot_keep():
    for bad in (0, 1000, 4095, 5000):
        with pytest.raises(ValueError, match="power of two"):
            SharedCounter().counter(bad)


def test_thread_counters_hand_over_when_full(monkeypatch, tmp_path):
    """count_files on threads whose counters are small enough to fill: the same counts."""
    path = tmp_path / "words.txt"
    path.write_text(_many_words(), encoding="utf-8")
    monkeypatch.setattr(counting, "LOCAL_SLOTS", 4096)
    monkeypatch.setattr(counting, "_MIN_SLOTS", 4096)
    got = count_files([path], "gpt2", ["<|endoftext|>"], workers=3, chunk_bytes=2000)
    assert isinstance(got, SharedCounter)
    assert counts(got) == whole(path, "gpt2", ["<|endoftext|>"])
    assert (bpe.train_bpe(path, 600, ["<|endoftext|>"], workers=3)
            == bpe.train_bpe(path, 600, ["<|endoftext|>"], workers=1))


def test_chunks_shrink_with_many_workers(monkeypatch):
    """The default chunk: IN_FLIGHT_BYTES shared out among the workers, 1 to 4 MB."""
    sizes = []
    real = counting.plan_chunks

    def plan(paths, specials, native, chunk_bytes, *args):
        sizes.append(chunk_bytes)
        return real(paths, specials, native, chunk_bytes, *args)

    monkeypatch.setattr(counting, "plan_chunks", plan)
    path = repo_file("cs336/corpus.en")
    for workers in (1, 2, 8, 64):
        count_files([path], "gpt2", [], workers=workers)
    assert sizes == [4 << 20, 4 << 20, 2 << 20, 1 << 20]


def test_threads_only_where_the_kernel_counts_without_the_gil():
    assert counts_on_threads("cl100k", ["a.txt", "b.txt.gz"])
    assert not counts_on_threads(regex.compile(r"\w+"), ["a.txt"])  # the regex module holds it
    assert not counts_on_threads("gpt2", ["a.txt", "b.jsonl"])     # so does JSON decoding


def test_train_same_merges_for_any_workers():
    path = repo_file("cs336/corpus.en")
    one = bpe.train_bpe(path, 500, ["<|endoftext|>"], workers=1)
    assert bpe.train_bpe(path, 500, ["<|endoftext|>"], workers=2) == one
    with ProcessPoolExecutor(2) as pool:
        assert bpe.train(path, 500, ["<|endoftext|>"], executor=pool).merges == one[1]


def test_bad_utf8_in_a_later_chunk_names_the_absolute_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"abc def\nghi " * 100 + b"\xff")
    with pytest.raises(ValueError, match=r"bad.txt.*byte offset 1200"):
        count_files([path], "gpt2", [], workers=1, chunk_bytes=64)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        count_files([tmp_path / "nope.txt"], "gpt2", [], workers=1)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert len(count_files([path], "gpt2", [], workers=1)) == 0


def test_custom_pattern_with_groups_and_lookbehind(tmp_path):
    """Custom patterns: whole matches (not groups), and cut only at special tokens."""
    pre = Pretokenizer(regex.compile(r"(\w+)|\s"), ["<s>"])
    assert [p for ps, _ in pre.stream(["ab cd<s>e"]) for p in ps] == ["ab", " ", "cd", "e"]
    pre = Pretokenizer(regex.compile(r"(?<=1)23|."), [])
    text = "123123" * 5
    got = [p for ps, _ in pre.stream([text[:4], text[4:]], settle_chars=1) for p in ps]
    assert got == [m.group() for m in regex.finditer(r"(?<=1)23|.", text)]


def test_dask_cluster_same_counts_and_merges():
    """A real distributed.LocalCluster with two worker processes: same counts, same merges."""
    distributed = pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
    path = repo_file("cs336/corpus.en")
    specials = ["<|endoftext|>"]
    local = bpe.train(path, 500, specials, workers=1, progress=False)
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster) as client):
        got = count_files([path], "gpt2", specials, executor=client.get_executor(),
                          chunk_bytes=4096)
        assert counts(got) == whole(path, "gpt2", specials)
        tok = bpe.train(path, 500, specials, executor=client, progress=False)
    assert (tok.vocab, tok.merges) == (local.vocab, local.merges)


def test_one_long_line_streams_in_bounded_memory(tmp_path):
    """30 MB without a special token or newline: one chunk, read in blocks, same counts."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "line.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(1000):
            f.write("the quick brown fox jumps over a lazy dog, " * 700)
    script = textwrap.dedent(f"""
        import resource
        from bpe.counting import count_files
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        counter = count_files([{str(path)!r}], "gpt2", ["<|endoftext|>"], workers=1)
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
        print(len(counter), grown)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    n_words, grown_mb = map(int, out.stdout.split())
    assert n_words == 12 and grown_mb < 60, f"peak RSS grew by {grown_mb} MB on a 30 MB line"


def test_ctrl_c_leaves_no_output_and_no_workers(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "big.txt"
    path.write_bytes(("some words here\nand more words<s>" * 2_000_000).encode())
    out = tmp_path / "counts.npz"
    # A custom pattern runs on the regex module (slow), so the count is surely still going.
    process = subprocess.Popen([sys.executable, "-m", "bpe", "count", str(path), "-o", str(out),
                                "--workers", "2", "--special-token", "<s>",
                                "--regex", r"\w+|\s+|[^\w\s]+"],
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "nothing was written" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    time.sleep(0.5)  # forked pool workers carry the parent's command line: none may be left
    # without .ci/sanitize's preloaded libasan, under which pgrep hangs
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    left = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True, env=env)
    assert left.stdout.strip() == "", f"worker processes still running: {left.stdout}"


OUT_OF_MEMORY_SCRIPT = """
from bpe._count import PieceCounter
text, offsets, counts = random_words(1_000_000, 4, 16, np.uint8)
counter = PieceCounter()
cap()
try:
    counter.add_table(text, offsets, counts)
except MemoryError as e:
    print("MemoryError:", e)
else:
    print("done", len(counter))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
def test_out_of_memory_while_counting_is_a_clean_memory_error():
    """A million distinct pieces under capped address space: the counter either counts them
    all or raises MemoryError; it never swallows a failed allocation and goes on (which once
    aborted the process or left the table inconsistent)."""
    free, capped = under_memory_caps(OUT_OF_MEMORY_SCRIPT, [10, 20, 30, 40, 50, 60])
    assert free == "done 999999"
    assert "MemoryError: out of memory while adding counts" in capped
    assert all(o in (free, "MemoryError: out of memory while adding counts") for o in capped)


OUT_OF_MEMORY_SHARED_SCRIPT = """
from bpe._count import SharedCounter
text, offsets, counts = random_words(1_000_000, 4, 16, np.uint8)
shared = SharedCounter()
counter = shared.counter(1 << 16)
cap()
try:
    counter.add_table(text, offsets, counts)
    shared.add_counter(counter)
except MemoryError as e:
    print("MemoryError:", e)
else:
    print("done", len(shared))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
def test_out_of_memory_while_handing_over_is_a_clean_memory_error():
    """The same with a counter that hands its pieces to a SharedCounter whenever it fills:
    a shard that cannot grow is a MemoryError, never a lost count."""
    free, capped = under_memory_caps(OUT_OF_MEMORY_SHARED_SCRIPT, [10, 20, 30, 40, 50, 60])
    assert free == "done 999999"
    assert "MemoryError: out of memory while adding counts" in capped
    assert all(o in (free, "MemoryError: out of memory while adding counts") for o in capped)



# --- safe cuts in text with no letter-newline-letter: JSONL, numeric CSV, indented code ----

SPECIAL = "<>"
ALPHABET = ["a", "B", "s", "1", " ", "\t", "\n", "\r", "}", '"', "/", "'", "é", "\u00a0",
            "\u0301", "\x0b", SPECIAL]


def _pieces_of_all(pattern: str, length: int, alphabet=ALPHABET) -> dict[str, list[str]]:
    """regex's pieces of every string over the alphabet of up to `length` characters,
    SPECIAL being a special token (the text on either side split on its own)."""
    compiled = regex.compile(bpe.PATTERNS[pattern])
    table = {"": []}
    layer = [""]
    for _ in range(length):
        layer = [s + c for s in layer for c in alphabet]
        for s in layer:
            parts = s.split(SPECIAL)
            table[s] = [p for i, part in enumerate(parts)
                        for p in ([SPECIAL] if i else []) + compiled.findall(part)]
    return table


def _check_rule_exhaustively(pattern: str, rule, length: int, alphabet=ALPHABET) -> int:
    """Every string of up to `length` characters: at each place the rule says is safe (and
    that counting takes: not inside or right after a special token and a newline), the
    pieces of the whole are the pieces of the left part, then those of the right part."""
    table = _pieces_of_all(pattern, length, alphabet)
    specials = [SPECIAL.encode()]
    checked = 0
    for text, pieces in table.items():
        data = text.encode("utf-8")
        for match in rule.finditer(data):
            if straddles(data, match.end(), specials) or ends_special(data, match.end() - 1,
                                                                      specials):
                continue
            cut = len(data[:match.end()].decode("utf-8"))
            assert pieces == table[text[:cut]] + table[text[cut:]], (pattern, text, cut)
            checked += 1
    return checked


@pytest.mark.parametrize("pattern", NATIVE)
def test_cut_rules_split_no_piece_on_any_short_string(pattern):
    """regex is the oracle: each pattern's rule, and the rule they all share, on every
    string of up to 4 characters over an alphabet of letters, digits, every kind of
    whitespace, punctuation that pieces treat apart ("/" and "'"), a combining mark."""
    assert _check_rule_exhaustively(pattern, CUT_RULES[pattern], 4) > 1000
    assert _check_rule_exhaustively(pattern, CUT_RULES[True], 4) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("pattern", NATIVE)
def test_cut_rules_split_no_piece_on_any_string_of_five(pattern):
    assert _check_rule_exhaustively(pattern, CUT_RULES[pattern], 5) > 10_000
    assert _check_rule_exhaustively(pattern, CUT_RULES[True], 5) > 10_000


# Where DeepSeek V3's Splits cut apart from the other patterns: its CJK class (a letter, a
# mark and punctuation of it), digits of another script, control characters.
DEEPSEEK_ALPHABET = ["a", "1", "\u0663", " ", "\n", "\r", "\x01", "中", "・", "\u3099", ".",
                     "\u0301", SPECIAL]


def test_cut_rules_split_no_deepseek_piece_on_its_own_characters():
    for rule in (CUT_RULES["deepseek_v3"], CUT_RULES[True]):
        assert _check_rule_exhaustively("deepseek_v3", rule, 4, DEEPSEEK_ALPHABET) > 1000


def test_every_native_pattern_has_a_cut_rule():
    from bpe._pretokenize import PATTERN_IDS

    assert set(CUT_RULES) == {True, *PATTERN_IDS} == {True, *NATIVE}
    assert [cut_rule(name) for name in NATIVE] == NATIVE
    assert cut_rule(bpe.LLAMA3_PATTERN) == "llama3" and cut_rule(regex.compile(r"\w+")) is None


def test_a_rule_too_wide_is_caught():
    """The check fails for cuts that split pieces (after any newline, as the rules must not)."""
    import re

    with pytest.raises(AssertionError):
        _check_rule_exhaustively("cl100k", re.compile(rb"\n"), 4)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pattern", NATIVE)
def test_jsonl_csv_and_code_have_cuts(tmp_path, shape, pattern):
    """Such text was one chunk however large (no newline between letters): memory grew
    with the file, and one worker counted it all."""
    path = tmp_path / "t.txt"
    path.write_text(shape_text(shape, 2000), encoding="utf-8")
    size = path.stat().st_size
    ranges = chunk_ranges(path, ["<|endoftext|>"], cut_rule(pattern), chunk_bytes=1000)
    assert len(ranges) >= size // 1100 and max(b - a for a, b in ranges) < 1200


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pattern", NATIVE)
@given(chunk_bytes=st.integers(1, 200), lines=st.integers(0, 30),
       extra=st.sampled_from(["", "\n", "\n\n", " \n", "}\n/", "a", "\r\n"]))
def test_jsonl_csv_and_code_any_chunk_size_same_counts(tmp_path_factory, shape, pattern,
                                                       chunk_bytes, lines, extra):
    path = tmp_path_factory.mktemp("s") / "t.txt"
    path.write_text(shape_text(shape, lines) + extra + shape_text(shape, 3),
                    encoding="utf-8")
    got = counts(count_files([path], pattern, [], workers=1, chunk_bytes=chunk_bytes))
    assert got == whole(path, pattern, [])


# --- inputs that are not regular files, or that change while read --------------------------

def test_fifo_and_device_are_refused(tmp_path):
    """They were read as empty (st_size 0): training on nothing, no error."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"training file .*pipe' is a FIFO \(pipe\)"):
        count_files([fifo], "gpt2", [], workers=1)
    with pytest.raises(ValueError, match=r"training file .*pipe' is a FIFO \(pipe\)"):
        bpe.train(fifo, 300, progress=False)
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match="'/dev/zero' is a character device"):
            count_files(["/dev/zero"], "gpt2", [], workers=1)


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="no /proc")
def test_proc_file_whose_size_says_zero_is_an_error():
    with pytest.raises(ValueError, match=r"'/proc/version' changed size.*has grown"):
        count_files(["/proc/version"], "gpt2", [], workers=1)


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_file_changed_between_chunk_reads_is_an_error(tmp_path, monkeypatch, change):
    path = tmp_path / "a.txt"
    path.write_text("some words\nand more\n" * 200, encoding="utf-8")
    count_range, calls = bpe.counting.count_range, []

    def changing(*args):
        if not calls:
            if change == "grow":
                with open(path, "a", encoding="utf-8") as f:
                    f.write("more text\n")
            else:
                os.truncate(path, 1000)
        calls.append(1)
        return count_range(*args)

    monkeypatch.setattr(bpe.counting, "count_range", changing)
    with pytest.raises(ValueError, match=r"a\.txt' changed size while it was read"):
        count_files([path], "gpt2", [], workers=1, chunk_bytes=64)


# --- formats: compressed text, JSONL and Parquet count as the text they hold --------------

EOT = "<|endoftext|>"
record_texts = st.lists(st.one_of(texts, small_texts, st.just(EOT), st.just("")), max_size=8)


@pytest.fixture(scope="module")
def small_batches():
    """Parquet rows read two at a time, so a row group is several batches."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bpe.sources, "BATCH_ROWS", 2)
        yield


@settings(max_examples=40)
@pytest.mark.parametrize("ending", [*TEXT_ENDINGS, *RECORD_ENDINGS])
@given(docs=record_texts, chunk_bytes=st.integers(1, 64), rows=st.integers(1, 3),
       specials=st.sampled_from([[EOT], [EOT, "<|a|>"], ["<|a|>", EOT]]),
       pattern=st.sampled_from(["gpt2", "o200k", regex.compile(r"\w+|\s+|[^\w\s]+")]))
def test_every_format_counts_as_its_text(tmp_path_factory, small_batches, ending, docs,
                                         chunk_bytes, rows, specials, pattern):
    """Records count as a text file of them joined by a special token; compressed text as
    the text; for any chunk size, row groups and batches."""
    folder = tmp_path_factory.mktemp("f")
    text = folder / "plain.txt"
    text.write_text(specials[-1].join(docs), encoding="utf-8")
    path = folder / f"in{ending}"
    if ending in RECORD_ENDINGS:
        write_records(path, docs, row_group_size=rows)
    else:
        path.write_bytes(compress(text.read_bytes(), ending))
    got = count_files([path], pattern, specials, workers=1, chunk_bytes=chunk_bytes)
    assert counts(got) == whole(text, pattern, specials)


@pytest.mark.parametrize("ending", [*TEXT_ENDINGS, *RECORD_ENDINGS])
def test_every_format_same_counts_on_two_workers_and_trains_alike(tmp_path, ending):
    docs = corpus_documents()
    text = tmp_path / "plain.txt"
    text.write_text(EOT.join(docs), encoding="utf-8")
    path = tmp_path / f"in{ending}"
    if ending in RECORD_ENDINGS:
        write_records(path, docs, row_group_size=20)
    else:
        path.write_bytes(compress(text.read_bytes(), ending))
    expected = whole(text, "gpt2", [EOT])
    for chunk_bytes in (4096, 1 << 20):
        got = count_files([path], "gpt2", [EOT], workers=2, chunk_bytes=chunk_bytes)
        assert counts(got) == expected
    plain = bpe.train(text, 400, [EOT], workers=1, progress=False)
    tok = bpe.train([path], 400, [EOT], workers=2, progress=False)
    assert (tok.vocab, tok.merges) == (plain.vocab, plain.merges)
    if ending in RECORD_ENDINGS:    # each record a document: as train_from_iterator
        assert bpe.train_from_iterator(docs, 400, [EOT], progress=False).merges == tok.merges
        assert bpe.train(path, 400, workers=1, progress=False).merges == (
            bpe.train_from_iterator(docs, 400, progress=False).merges)


@pytest.mark.parametrize("pattern", ["gpt2", "cl100k", "o200k"])
@given(text=st.lists(st.one_of(texts, small_texts, st.just(EOT), st.just("\n")),
                     max_size=10).map("".join),
       chunk_bytes=st.integers(1, 40), block=st.integers(1, 50))
def test_stream_cuts_are_safe_cuts(tmp_path_factory, pattern, text, chunk_bytes, block):
    """A decompressed stream, block by block, is cut at safe places (where chunk_ranges
    cuts a file, or as safe): its chunks' counts add up to the text's."""
    path = tmp_path_factory.mktemp("s") / "t.txt"
    path.write_text(text, encoding="utf-8")
    data = path.read_bytes()
    blocks = (data[i:i + block] for i in range(0, len(data), block))
    chunks = list(stream_text_chunks(blocks, [EOT], cut_rule(pattern), chunk_bytes))
    assert b"".join(chunks) == data and all(len(c) >= chunk_bytes for c in chunks[:-1])
    counter = PieceCounter()
    for chunk in chunks:
        count_pieces([chunk.decode("utf-8")], Pretokenizer(pattern, [EOT]), counter)
    assert counts(counter) == whole(path, pattern, [EOT])


def test_skipped_records_are_counted_and_warned_of(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "hello"}\n{"text": null}\n{"text": "world"}\n{\n')
    text = tmp_path / "d.txt"
    text.write_text(f"hello{EOT}world", encoding="utf-8")
    with pytest.raises(ValueError, match=r"d\.jsonl' line 2: field 'text' is null"):
        count_files([path], "gpt2", [EOT], workers=1)
    with pytest.warns(bpe.BadRecordsWarning, match="skipped 2 bad records") as record:
        got = count_files([path], "gpt2", [EOT], workers=1, errors="skip")
    assert record[0].message.counts == {str(path): 2}
    assert counts(got) == whole(text, "gpt2", [EOT])
    with pytest.raises(ValueError, match=r"errors='ignore'; expected 'strict', 'replace' or "
                                         r"'skip'"):
        count_files([path], "gpt2", [EOT], workers=1, errors="ignore")


def test_bad_utf8_in_compressed_text_names_the_decompressed_offset(tmp_path):
    plain, path = tmp_path / "bad.txt", tmp_path / "bad.txt.gz"
    plain.write_bytes(b"abc def\nghi " * 100 + b"\xff")
    path.write_bytes(compress(plain.read_bytes(), ".gz"))
    for errors in ("strict", "skip"):       # text has no records to skip
        with pytest.raises(ValueError, match=r"bad\.txt\.gz' is not valid UTF-8: byte offset "
                                             r"1200 of its decompressed text"):
            count_files([path], "gpt2", [], workers=1, chunk_bytes=64, errors=errors)
    replaced = count_files([path], "gpt2", [], workers=1, chunk_bytes=64, errors="replace")
    assert counts(replaced) == counts(count_files([plain], "gpt2", [], workers=1,
                                                  errors="replace"))
    assert counts(replaced)[" \ufffd".encode()] == 1


def test_the_column_and_packages_are_checked_before_counting(tmp_path, monkeypatch):
    text = tmp_path / "a.txt"
    text.write_text("some text", encoding="utf-8")
    parquet = write_records(tmp_path / "b.parquet", ["a"], field="body")
    monkeypatch.setattr(bpe.counting, "count_range", None)   # counting the text would fail
    with pytest.raises(ValueError, match=r"b\.parquet' has no column 'text'"):
        count_files([text, parquet], "gpt2", [], workers=1)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'bpe-exact\[parquet\]'"):
        bpe.train([text, parquet], 300, progress=False, text_field="body")


def test_held_out_bytes_needs_a_text_file_last(tmp_path):
    path = write_records(tmp_path / "d.jsonl", ["a b c"])
    with pytest.raises(ValueError, match=r"held_out_bytes=10 holds out the end of a text file; "
                                         r"the last input .*d\.jsonl' is JSONL"):
        bpe.train(path, 300, held_out_bytes=10, progress=False)
