"""The native pre-tokenizer against the regex module: every code point in several contexts,
random strings biased toward the tricky classes, every test data file in the repository, and
the benchmark corpus. Each other spelling of a native pattern (EQUIVALENT_PATTERNS) is held
to the native matcher as the pattern's own text is."""
import gzip
import lzma
import platform

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe._pretokenize import PATTERN_IDS, windows_work
from bpe._pretokenize import pieces as native_pieces
from bpe.patterns import EQUIVALENT_PATTERNS

from .conftest import REPO_FILES, bench_corpus
from .strategies import texts

NATIVE = sorted(PATTERN_IDS)
# Each case: a native pattern's name, and the regex text its pieces are held to: the
# pattern's own, or another spelling of it ("llama3_alt1": the first other spelling of llama3).
SPELLINGS = {f"{name}_alt{k}": (name, text) for name in NATIVE
             for k, text in enumerate((t for t, n in EQUIVALENT_PATTERNS.items() if n == name), 1)}
CASES = {**{name: (name, bpe.PATTERNS[name]) for name in NATIVE}, **SPELLINGS}
NAMES = sorted(CASES)
CONTEXTS = ["{}", "a{}b", " {}", "'{}", "{}{}", "{}'s", "A{}'LL", "1{}2", "\n{}\n", "{} x"]
SEPARATORS = ["", " ", "\n", "x", "1", "'", "\u3000", "  ", "\r\n", "!"]


def pieces(text: str, name: str, windows: bool = True) -> list[str]:
    """The native matcher's pieces of text under the case's pattern."""
    return native_pieces(text, PATTERN_IDS[CASES[name][0]], windows)


def compiled(name: str):
    return regex.compile(CASES[name][1])


def regex_pieces(text: str, name: str) -> list[str]:
    return compiled(name).findall(text)


def all_code_points() -> list[str]:
    return [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


# The other spellings differ from their pattern's text in how it is written (quantifiers,
# the contractions' case-insensitive group, how a whitespace run is cut) and not in a
# character class: they meet every code point where those constructs read it.
SPELLING_CONTEXTS = ["'{}", "'{}e", "'l{}", "\n{}\n", "{} x"]


@pytest.mark.slow
@pytest.mark.parametrize("name, context",
                         [(n, c) for n in NATIVE for c in CONTEXTS]
                         + [(n, c) for n in sorted(SPELLINGS) for c in SPELLING_CONTEXTS])
def test_every_code_point_in_context(name, context):
    """Each code point placed in the context, the contexts joined by varying separators."""
    chars = all_code_points()
    text = "".join(context.format(c, c) + SEPARATORS[i % len(SEPARATORS)]
                   for i, c in enumerate(chars))
    got, expected = pieces(text, name), regex_pieces(text, name)
    if got != expected:  # name the first difference, not a 10 MB diff
        at = next(i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e)
        pytest.fail(f"{name}: piece {at}: native {got[at - 2:at + 3]!r} "
                    f"vs regex {expected[at - 2:at + 3]!r}")


TRICKY = [
    *" \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2028\u3000'/\\!?.,-_\"",
    "s", "S", "t", "ll", "LL", "ve", "re", "Re", "d", "m", "\u017f", "a", "Z", "é", "\u0301",
    "\u0903", "\u20dd", "1", "\u0663", "\u00bd", "\u2167", "\u0e51", "Ω", "ω", "ǅ", "\u02b0",
    "\u3005", "中", "ß", "İ", "😀", "👍🏽", "\u200d", "\ufe0f", "\U0001F1FA", "\x00", "\x1f",
    "<|endoftext|>",
]
tricky_texts = st.lists(st.one_of(st.sampled_from(TRICKY),
                                  st.characters(exclude_categories=("Cs",))),
                        max_size=60).map("".join)


@pytest.mark.parametrize("windows", [True, False])
@pytest.mark.parametrize("name", NAMES)
@given(text=st.one_of(tricky_texts, texts))
def test_random_strings_equal_regex(name, windows, text):
    assert pieces(text, name, windows) == regex_pieces(text, name)


# The matchers read ASCII 54 bytes at a time (a window, with 8 bytes before it) and find
# the piece starts of all of it at once. Long ASCII texts of the bytes their rules turn on
# (spaces before words, whitespace runs that give back their last character or end in
# newlines, contractions and apostrophes that are not, capitals after small letters, digit
# runs cut in threes, punctuation that takes the newlines and slashes after it), with runs
# longer than a window's look back or ahead, and now and then a character past ASCII, which
# hands the pieces near it to the byte-by-byte matcher and back.
ASCII_PARTS = [" ", "  ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "'", "''", "'s", "'S",
               "'t", "'d", "'m", "'ll", "'lL", "'ve", "'re", "'r", "'v", "'l", "s", "t", "ll", "e",
               "word", "Word", "WORD", "wOrd", "HTMLParser", "x", "X", "1", "23", "4567",
               "1234567890", ".", ",", "!?", "-", "/", "//", ".\n/", "\x00", "\x7f", "@", "[",
               "`", "{", "_", "\n" * 9, " " * 9, "/" * 9, " \t\n \t"]
LONG_RUNS = [" " * 70, "\n" * 70, "7" * 70, "/" * 70, " \n" * 35, "a" * 70]
PAST_ASCII = ["é", "\u00a0", "\u3000", "中", "😀", "\u0301", "\u0663"]
ascii_texts = st.tuples(
    st.integers(0, 70),
    st.lists(st.one_of(st.sampled_from(ASCII_PARTS), st.sampled_from(ASCII_PARTS),
                       st.sampled_from(ASCII_PARTS), st.sampled_from(ASCII_PARTS),
                       st.sampled_from(LONG_RUNS), st.sampled_from(PAST_ASCII)), max_size=150),
).map(lambda t: "a" * t[0] + "".join(t[1]))


@pytest.mark.parametrize("name", NAMES)
@given(text=ascii_texts)
def test_ascii_windows_equal_regex(name, text):
    assert pieces(text, name) == regex_pieces(text, name)
    assert pieces(text, name, False) == regex_pieces(text, name)


@pytest.mark.parametrize("pattern_id", [-1, len(PATTERN_IDS), 99])
def test_unknown_pattern_id_is_refused(pattern_id):
    with pytest.raises(ValueError, match=f"pattern_id {pattern_id} is no native pattern's"):
        native_pieces("a b", pattern_id)


def test_ascii_windows_run_on_x86():
    """The window tests above test windows: SSE2 is part of x86-64."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"windows need SSE2; this machine is {platform.machine()}")
    assert windows_work()


@pytest.mark.parametrize("name", NAMES)
def test_every_ascii_pair_in_context_equals_regex(name):
    """Every two ASCII characters in ASCII contexts, joined into one long text (the windows
    read it in place); and every seventh pair's strings on their own (through a copy)."""
    pairs = [chr(a) + chr(b) for a in range(128) for b in range(128)]
    contexts = ["{}", "x{}", "{}y", " {}", "{} ", "'{}", "{}'s", "\n{}\n", "1{}", "aB{}",
                "{}Cd", "12{}", "/{}\n"]
    separators = [" ", "\n", "x", "1", "'", "  ", "\r\n", "!", "\t", "", "X", "/"]
    pattern = compiled(name)
    wrong = [t for t in (c.format(p) for p in pairs[::7] for c in contexts)
             if pieces(t, name) != pattern.findall(t)]
    assert not wrong, f"{len(wrong)} strings split apart from regex, such as {wrong[:5]}"
    text = "".join(c.format(p) + separators[k % len(separators)]
                   for k, (p, c) in enumerate((p, c) for p in pairs for c in contexts))
    got, expected = pieces(text, name), pattern.findall(text)
    if got != expected:
        at = next(i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e)
        pytest.fail(f"piece {at}: native {got[at - 3:at + 3]!r} "
                    f"vs regex {expected[at - 3:at + 3]!r}")


@pytest.mark.parametrize("name", NAMES)
def test_every_short_ascii_string_equals_regex(name):
    """Every string of up to 5 characters over the bytes the window rules turn on."""
    alphabet = " \n'sLe1./é"
    texts, pattern = [""], compiled(name)
    for _ in range(5):
        texts = [t + c for t in texts for c in alphabet]
        wrong = [t for t in texts if pieces(t, name) != pattern.findall(t)]
        assert not wrong, f"{len(wrong)} strings split apart from regex, such as {wrong[:5]}"


@pytest.mark.parametrize("name", NAMES)
@given(runs=st.lists(st.tuples(st.sampled_from([*" \t\n\r7/.aZ'", "'s", "'S", ".\n", "\n/"]),
                               st.integers(1, 80)),
                     max_size=12))
def test_runs_across_windows_equal_regex(name, runs):
    """Runs of one or two bytes, long and short, so that a run starts before a window or
    ends past it at every offset: digits cut in threes, newlines an O run takes, whitespace
    runs, chains of contractions."""
    text = "".join(c * k for c, k in runs)
    assert pieces(text, name) == regex_pieces(text, name)


# Pieces whose cut depends on more than the 8 bytes before a window: a chain of
# contractions (o200k's letters take one 's after them, the next 's starts a piece and takes
# the one after it), and a punctuation run that ate newlines and slashes before an
# apostrophe. Each at every offset against the windows, behind ASCII and behind a character
# past ASCII (after which the next window starts mid-text).
MID_PIECE = ["'s" * 40, "'S't" * 20, ".\n" + "/" * 70 + "'s", ".\n//////'s", ".\n\n\n\n\n\n\n'll",
             "x'" + "'s" * 40, "1" * 20 + "'s" * 10, "?\r\n" * 12 + "'ve"]


@pytest.mark.parametrize("name", NAMES)
def test_pieces_that_span_a_window_start_equal_regex(name):
    pattern = compiled(name)
    texts = [lead * pad + tail for tail in MID_PIECE for lead in ("a", "é", " ")
             for pad in range(64)]
    wrong = [t for t in texts if pieces(t, name) != pattern.findall(t)]
    assert not wrong, f"{len(wrong)} strings split apart from regex, such as {wrong[:3]}"


def repo_texts():
    """Every test data file in the repository as text (compressed ones decompressed)."""
    out = []
    for name, path in sorted(REPO_FILES.items()):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        out.append(pytest.param(name, data, id=name))
    return out


# Letter runs are skipped eight ASCII bytes at a time: put every kind of stop at every
# offset of such a run, next to bytes whose | 0x20 lands near a..z.
STOPS = ["@", "[", "`", "{", "\x7f", "0", " ", "'", "\n", "é", "ǅ", "中", "😀", "\u0301", "_", "Z"]


@pytest.mark.parametrize("name", NAMES)
@given(lead=st.integers(0, 20), pair=st.sampled_from(["xY", "ab", "QR"]),
       stop=st.sampled_from(STOPS), tail=st.text("aZ@[`{é 1", max_size=12))
def test_letter_runs_at_every_offset_equal_regex(name, lead, pair, stop, tail):
    text = pair * (lead // 2) + "q" * (lead % 2) + stop + "abcdefghij"[: lead % 11] + tail
    assert pieces(text, name) == regex_pieces(text, name)


def split_identically(name, text):
    """The native pieces of text equal regex's under every named pattern."""
    for pattern in NATIVE:
        assert pieces(text, pattern) == regex_pieces(text, pattern), \
            f"{name} under {pattern}"


@pytest.mark.slow
@pytest.mark.parametrize("name, data", repo_texts())
def test_repository_files_split_identically(name, data):
    split_identically(name, data.decode("utf-8"))


@pytest.mark.slow
def test_benchmark_corpus_splits_identically():
    text = lzma.decompress(bench_corpus().read_bytes()).decode("utf-8")
    split_identically("bench/mix.txt.xz", text)


def test_named_patterns_use_the_native_matcher():
    assert bpe.Pretokenizer("gpt2").native_id == PATTERN_IDS["gpt2"]
    assert bpe.Pretokenizer(bpe.CL100K_PATTERN).native_id == PATTERN_IDS["cl100k"]
    assert bpe.Pretokenizer(regex.compile(r"\w+")).native_id is None
    assert bpe.Pretokenizer(regex.compile(bpe.GPT2_PATTERN)).native_id == PATTERN_IDS["gpt2"]
    for name, (native, text) in CASES.items():
        assert bpe.Pretokenizer(text).native_id == PATTERN_IDS[native], name
        assert bpe.Pretokenizer(regex.compile(text)).native_id == PATTERN_IDS[native], name


def test_llama3_cuts_as_cl100k_but_at_the_end():
    """Why Llama 3's pattern has a matcher of its own rather than cl100k's: cl100k takes a
    whitespace run that ends the text whole (`\\s++$`), Llama 3 cuts it after its last
    newline; every other string of up to five characters is cut alike."""
    alphabet = " \n\r\t'sSLl1é\u00a0\u0301!\u017f"
    llama3, cl100k = compiled("llama3"), compiled("cl100k")
    texts, differ = [""], []
    for _ in range(5):
        texts = [t + c for t in texts for c in alphabet]
        differ += [t for t in texts if llama3.findall(t) != cl100k.findall(t)]
    assert llama3.findall("a\n ") == ["a", "\n", " "] and cl100k.findall("a\n ") == ["a", "\n "]
    assert len(differ) > 1000
    assert all(regex.search(r"[\r\n][^\S\r\n]+\Z", t) for t in differ)


def test_checked_in_tables_match_installed_regex():
    """The header the kernels compile is what the generator makes from today's regex."""
    from pathlib import Path

    from bpe import _gen_unicode

    header_path = Path(bpe.__file__).parent / "include" / "bpe_unicode_tables.h"
    header = header_path.read_text(encoding="ascii")
    assert header.splitlines()[1:] == _gen_unicode.render().splitlines()[1:], (
        "regenerate with: python -m bpe._gen_unicode")
