"""encode_with_offsets: each token's character span equals Hugging Face's offsets on the
bundled vocabularies, agrees with a plain per-byte reference, tiles the text, and indexes
the text as given (special tokens, lone surrogates, the NumPy form).

The HF tokenizers are the tokenizer.json files save_hf writes: post_processor null (HF's
ByteLevel post-processor with trim_offsets=False gives the same spans; with
trim_offsets=True it drops leading spaces from them), and offsets from
`encode(text, add_special_tokens=False)`. Those are the pure character spans: a token's
span runs from the start of the character holding its first byte to the end of the one
holding its last, so the tokens of a split character share that character's span.
"""
import os

import numpy as np
import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe import offsets
from bpe.surrogates import without_surrogates

from .conftest import in_child_while_held, repo_file
from .strategies import texts, tiktoken_texts

tokenizers = pytest.importorskip("tokenizers")

NAMES = ["gpt2", "cl100k_base", "o200k_base"]
FIXTURES = ["tinystories_sample.txt", "address.txt", "german.txt", "corpus.en"]
SPECIAL = "<|endoftext|>"
# Multi-byte characters of every width: accents (2 bytes), CJK, Devanagari, Arabic (3),
# emoji with skin tones, flags and joiners (4 + 3), combining marks, odd spaces.
MULTI_BYTE = ("Grüße, naïve café — 中文字符測試 日本語のテキスト 한국어 "
              "नमस्ते दुनिया مرحبا بالعالم Ωμέγα\n"
              "😀👍🏽 🇩🇪🇯🇵 👨‍👩‍👧‍👦 e\u0301 \u00a0\u3000 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ½ ٣ 🤖🤖🤖\r\n\t end")
with_specials = st.lists(st.one_of(tiktoken_texts, st.just(SPECIAL)), max_size=6).map("".join)
# Lone and paired surrogates among ordinary text (a pair may be split by what is drawn).
with_surrogates = st.lists(st.one_of(
    texts, st.sampled_from(["\ud83d", "\ude00", "\ud800", "\udfff", "\ud83d\ude00", "é 😀"])),
    max_size=12).map("".join)


@pytest.fixture(scope="module", params=NAMES)
def pair(request, tmp_path_factory):
    """(bpe tokenizer, the HF tokenizers.Tokenizer of the tokenizer.json it writes)."""
    tok = bpe.Tokenizer.from_pretrained(request.param)
    path = tok.save_hf(tmp_path_factory.mktemp(request.param))
    return tok, tokenizers.Tokenizer.from_file(str(path))


@pytest.fixture(scope="module")
def tok():
    return bpe.Tokenizer.from_pretrained("gpt2")


def assert_like_hf(pair, text):
    tok, hf = pair
    encoding = hf.encode(text, add_special_tokens=False)
    ids, spans = tok.encode_with_offsets(text, allowed_special="all")
    assert encoding.ids == ids
    assert encoding.offsets == spans


def reference_offsets(tok, text, ids):
    """The spans, one byte at a time: the character owning each byte of the encoded text
    (a surrogate pair is one character of two code points), then per token the owner of
    its first byte to the end of the owner of its last."""
    owner, char_end, i = [], {}, 0
    while i < len(text):
        pair = "\ud800" <= text[i] <= "\udbff" and "\udc00" <= text[i + 1:i + 2] <= "\udfff"
        width = 2 if pair else 1
        owner += [i] * len(without_surrogates(text[i:i + width]).encode("utf-8"))
        char_end[i] = i + width
        i += width
    spans, at = [], 0
    for length in map(len, tok.decode_tokens_bytes(ids)):
        spans.append((owner[at], char_end[owner[at + length - 1]]))
        at += length
    assert at == len(owner)
    return spans


def assert_tiles(tok, text, ids, spans):
    """Tokens whose spans overlap (a split character) form a group; each group's bytes are
    its span's text, and the groups' spans, back to back, are the text."""
    groups: list[tuple[int, int, bytes]] = []
    previous = 0
    for (start, end), token in zip(spans, tok.decode_tokens_bytes(ids), strict=True):
        assert previous <= start < end
        previous = start
        if groups and start < groups[-1][1]:
            first, last, data = groups.pop()
            assert end >= last
            groups.append((first, end, data + token))
        else:
            assert not groups or start == groups[-1][1]
            groups.append((start, end, token))
    for start, end, data in groups:
        assert data == without_surrogates(text[start:end]).encode("utf-8")
    assert (groups[-1][1] if groups else 0) == len(text)


# --- like Hugging Face ----------------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_like_hf(pair, name):
    text = repo_file(f"cs336/{name}").read_text(encoding="utf-8")
    assert_like_hf(pair, text)
    assert_like_hf(pair, f"{SPECIAL}{text[:700]}{SPECIAL}{MULTI_BYTE}{SPECIAL}")


def test_multi_byte_like_hf(pair):
    assert_like_hf(pair, MULTI_BYTE)
    # Sparse multi-byte characters in a long ASCII text (offsets counts them per token there)
    plain = repo_file("cs336/corpus.en").read_text(encoding="utf-8")
    assert_like_hf(pair, "".join(f"{plain[k:k + 3000]}{ch}" for k, ch in
                                 zip(range(0, len(plain), 3000), MULTI_BYTE, strict=False)))


def test_hf_post_processor_untrimmed_gives_the_same(tok, tmp_path):
    """HF's ByteLevel post-processor with trim_offsets=False keeps the pure spans (with
    trim_offsets=True it would move starts past leading spaces)."""
    hf = tokenizers.Tokenizer.from_file(str(tok.save_hf(tmp_path)))
    hf.post_processor = tokenizers.processors.ByteLevel(trim_offsets=False)
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8") + MULTI_BYTE
    assert_like_hf((tok, hf), text)


def test_split_character_shares_its_span(tok):
    # " 😀" is " \xf0\x9f\x98" + "\x80" in GPT-2: both tokens hold part of the emoji.
    assert tok.encode_with_offsets("hi 😀") == ([5303, 30325, 222], [(0, 2), (2, 4), (3, 4)])


@given(text=with_specials)
def test_random_text_like_hf(pair, text):
    assert_like_hf(pair, text)


# --- against the reference, and tiling ------------------------------------------------------

@given(text=texts)
def test_random_text_like_reference(tok, text):
    ids, spans = tok.encode_with_offsets(text)
    assert ids == tok.encode(text)
    assert spans == reference_offsets(tok, text, ids)
    assert_tiles(tok, text, ids, spans)


@pytest.mark.parametrize("name", NAMES)
def test_fixtures_tile(name):
    tok = bpe.Tokenizer.from_pretrained(name)
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8") + MULTI_BYTE
    ids, spans = tok.encode_with_offsets(text)
    assert_tiles(tok, text, ids, spans)


def test_custom_pattern_and_trained_vocabulary():
    """A pattern with no native matcher takes encode's other path; offsets do not care."""
    pattern = regex.compile(r"\p{L}+|\p{N}|\s+|[^\s\p{L}\p{N}]+")
    vocab, merges = bpe.train_bpe(repo_file("cs336/german.txt"), 400, [SPECIAL], pattern=pattern)
    tok = bpe.Tokenizer(vocab, merges, special_tokens=[SPECIAL], pattern=pattern)
    text = f"{MULTI_BYTE}{SPECIAL}Grüße{SPECIAL}"
    ids, spans = tok.encode_with_offsets(text)
    assert ids == tok.encode(text)
    assert spans == reference_offsets(tok, text, ids)


# --- special tokens -------------------------------------------------------------------------

def test_special_tokens_get_their_span(gpt2):
    text = f"a{SPECIAL}é{SPECIAL}{SPECIAL}"
    ids, spans = gpt2.encode_with_offsets(text)      # CS336 rule: specials are tokens
    assert ids == gpt2.encode(text)
    found = [span for token, span in zip(ids, spans, strict=True) if token == 50256]
    assert found == [(1, 14), (15, 28), (28, 41)]
    assert all(text[start:end] == SPECIAL for start, end in found)


def test_special_token_arguments_as_encode(tok):
    text = f"x {SPECIAL} y"
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode_with_offsets(text)
    ids, spans = tok.encode_with_offsets(text, disallowed_special=())
    assert ids == tok.encode(text, disallowed_special=()) and 50256 not in ids
    assert_tiles(tok, text, ids, spans)
    ids, spans = tok.encode_with_offsets(text, allowed_special={SPECIAL})
    assert spans[ids.index(50256)] == (2, 15)


# --- lone surrogates ------------------------------------------------------------------------

def test_surrogates_index_the_text_as_given(tok):
    text = "a\ud83d\ude00b\ud800c"      # a pair (one emoji to encode) and a lone surrogate
    ids, spans = tok.encode_with_offsets(text)
    assert ids == tok.encode(text) == tok.encode("a😀b\ufffdc")
    assert spans == [(0, 1), (1, 3), (1, 3), (3, 4), (4, 5), (5, 6)]


@given(text=with_surrogates)
def test_random_surrogates(tok, text):
    ids, spans = tok.encode_with_offsets(text)
    assert ids == tok.encode(text)
    assert spans == reference_offsets(tok, text, ids)
    assert_tiles(tok, text, ids, spans)


# --- the NumPy form, paths, input checks ----------------------------------------------------

@pytest.mark.parametrize("name", ["gpt2", "o200k_base"])
def test_numpy_form(name):
    tok = bpe.Tokenizer.from_pretrained(name)
    text = MULTI_BYTE + "a\ud800"
    ids, spans = tok.encode_with_offsets_to_numpy(text)
    assert ids.dtype == tok.encode_to_numpy(text).dtype
    assert spans.dtype == np.int64 and spans.shape == (len(ids), 2)
    assert (ids.tolist(), [tuple(row) for row in spans.tolist()]) == tok.encode_with_offsets(text)


def test_empty_text(tok):
    assert tok.encode_with_offsets("") == ([], [])
    ids, spans = tok.encode_with_offsets_to_numpy("")
    assert ids.shape == (0,) and spans.shape == (0, 2)


def test_token_tables_from_vocab_and_from_tables(tok, gpt2):
    """The per-id tables, from the bundled tables (tok, whose tables leave the special
    tokens out) and from a vocabulary dict (gpt2, whose tables hold them)."""
    from_tables, from_vocab = offsets.token_chars(tok), offsets.token_chars(gpt2)
    assert np.array_equal(from_tables.begun, from_vocab.begun)
    assert np.array_equal(from_tables.inside, from_vocab.inside)
    for token_id in (30325, 222, 40792, 50256):     # " \xf0\x9f\x98", "\x80", "中", special
        token = gpt2.decode_single_token_bytes(token_id)
        assert from_vocab.begun[token_id] == sum(not 0x80 <= b < 0xC0 for b in token)
        assert from_vocab.inside[token_id] == (0x80 <= token[0] < 0xC0)


def test_not_a_str(tok):
    with pytest.raises(TypeError, match="expects text as a str, got bytes"):
        tok.encode_with_offsets(b"hello")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_finds_offsets_while_a_parent_thread_held_the_tables_lock():
    """The lock around the per-tokenizer tables, held by a parent's thread at the fork,
    is free in the child."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {256: b"ab"}, [(b"a", b"b")])

    def work():
        return repr(tok.encode_with_offsets("abc")).encode()

    assert in_child_while_held(offsets._TABLES_LOCK, work, timeout=20) == repr(
        ([256, 99], [(0, 2), (2, 3)])).encode()
