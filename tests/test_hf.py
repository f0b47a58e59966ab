"""Hugging Face files: folders we write load in `transformers.AutoTokenizer` (and their
tokenizer.json in `tokenizers`) and encode, pad and decode there exactly as we do; custom
patterns are written only where Oniguruma matches as the regex module does; files HF
writes load into a Tokenizer that encodes as tiktoken does, and the shapes of today's open
models (Llama 3's ignore_merges and template, Qwen2's NFC, every normalizer, pre-tokenizer
step and added-token flag bpe reads) encode as `tokenizers` does; Tokenizer.save's folder
serves both, and old ones still load; round trips, bad input."""
import json
import os
import unicodedata

import pytest
import regex
from hypothesis import assume, given
from hypothesis import strategies as st

import bpe
from bpe import hf_pipeline
from bpe.hf import hf_regex, read_tokenizer_json, tokenizer_json_bytes

from .conftest import bench_corpus, repo_file, tiktoken_pair
from .strategies import tiktoken_texts

tokenizers = pytest.importorskip("tokenizers")

FIXTURES = ["tinystories_sample.txt", "address.txt", "german.txt", "corpus.en"]
# Specials with a space and non-ASCII text: not in GPT-2's byte alphabet, so the model vocab
# holds them under their plain text.
SPECIALS = ["<|endoftext|>", "<|fin de texte|>", "<｜end▁of▁sentence｜>"]
with_specials = st.lists(st.one_of(tiktoken_texts, st.sampled_from(SPECIALS)),
                         max_size=6).map("".join)
# A custom pattern in the accepted subset: Llama 3's (cl100k's, with greedy digits and
# (?i:...) contractions) with cl100k's possessives, which are rewritten for Oniguruma.
CUSTOM = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"
          r"| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s*[\r\n]+|\s+(?!\S)|\s+")


def hf_from(tok, folder):
    return tokenizers.Tokenizer.from_file(str(tok.save_hf(folder)))


def hf_ids(hf, text):
    return hf.encode(text, add_special_tokens=False).ids


@pytest.fixture(scope="module")
def trained():
    vocab, merges = bpe.train_bpe(repo_file("cs336/corpus.en"), 500, ["<|endoftext|>"])
    return bpe.Tokenizer(vocab, merges, special_tokens=SPECIALS)


@pytest.fixture(scope="module")
def custom():
    pattern = regex.compile(CUSTOM)
    vocab, merges = bpe.train_bpe(repo_file("cs336/corpus.en"), 500, ["<|endoftext|>"], pattern)
    return bpe.Tokenizer(vocab, merges, special_tokens=SPECIALS, pattern=pattern)


@pytest.fixture(scope="module", params=["gpt2", "trained"])
def pair(request, tmp_path_factory):
    """(bpe.Tokenizer, the tokenizers.Tokenizer loaded from the tokenizer.json we wrote)."""
    tok = request.getfixturevalue(request.param)
    return tok, hf_from(tok, tmp_path_factory.mktemp("hf"))


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_encode_like_hf(pair, name):
    tok, hf = pair
    plain = repo_file(f"cs336/{name}").read_text(encoding="utf-8")
    for text in (plain, f"{plain}<|endoftext|>{plain[:500]}<|endoftext|>"):
        ids = tok.encode(text)
        assert hf_ids(hf, text) == ids
        assert hf.decode(ids, skip_special_tokens=False) == text


@given(with_specials)
def test_random_text_encodes_like_hf(pair, text):
    tok, hf = pair
    assert hf_ids(hf, text) == tok.encode(text)


def test_cl100k_encodes_like_hf(tmp_path):
    tok, _ = tiktoken_pair("cl100k_base")
    hf = hf_from(tok, tmp_path)
    # cl100k cuts digits in threes: a pattern HF's regex engine reads differently unless
    # written for it (see bpe/hf.py).
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8") + " 1234567<|endoftext|>"
    assert hf_ids(hf, text) == tok.encode(text)
    assert read_tokenizer_json(tmp_path)[3] == "cl100k"


@pytest.mark.parametrize("name", ["gpt2", "trained"])
def test_round_trip(request, tmp_path, name):
    tok = request.getfixturevalue(name)
    path = tok.save_hf(tmp_path / "sub" / "tok.json")
    assert path == tmp_path / "sub" / "tok.json"
    assert read_tokenizer_json(path)[:4] == (tok.vocab, tok.merges, tok.special_ids, "gpt2")
    assert [p.name for p in path.parent.iterdir()] == ["tok.json"]  # no temporary file left


def test_folder_paths(trained, tmp_path):
    """A folder (existing, with a trailing slash, or any name not ending in .json) gets the
    three files; a name ending in .json is the one tokenizer.json."""
    hf_names = ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    assert trained.save_hf(tmp_path) == tmp_path / "tokenizer.json"
    for folder in (f"{tmp_path}/new/", tmp_path / "plain"):
        path = trained.save_hf(folder)
        assert path == tmp_path / os.path.basename(os.path.normpath(folder)) / "tokenizer.json"
        assert sorted(os.listdir(path.parent)) == hf_names
        assert path.read_bytes() == tokenizer_json_bytes(trained)
    assert read_tokenizer_json(tmp_path / "new")[2] == trained.special_ids
    single = trained.save_hf(tmp_path / "one" / "mine.json")
    assert os.listdir(single.parent) == ["mine.json"]
    with pytest.raises(ValueError, match=r"eos_token would be written to tokenizer_config\.json, "
                                         r"but path '.*x\.json' names a single file"):
        trained.save_hf(tmp_path / "x.json", eos_token="<|endoftext|>")


def test_custom_pattern_round_trip(tmp_path):
    pattern = regex.compile(r"\p{L}+|\p{N}|\s+|[^\s\p{L}\p{N}]+")
    vocab, merges = bpe.train_bpe(repo_file("cs336/tinystories_sample.txt"), 300, pattern=pattern)
    tok = bpe.Tokenizer(vocab, merges, pattern=pattern)
    hf = hf_from(tok, tmp_path)
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8")
    assert hf_ids(hf, text) == tok.encode(text)
    assert read_tokenizer_json(tmp_path)[3].pattern == pattern.pattern


def test_special_token_clashing_with_byte_token(trained):
    # HF looks an added token up in the model vocab by its text, where "é" is byte 0xE9.
    tok = bpe.Tokenizer(trained.vocab, trained.merges, special_tokens=["é"])
    with pytest.raises(ValueError, match="both written 'é'"):
        tokenizer_json_bytes(tok)


# --- transformers ---------------------------------------------------------------------

def auto_tokenizer(folder):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="module", params=["gpt2", "cl100k_base", "o200k_base", "trained", "custom"])
def auto_pair(request, tmp_path_factory):
    """(bpe.Tokenizer, transformers' AutoTokenizer of the folder save_hf wrote)."""
    name = request.param
    tok = (request.getfixturevalue(name) if name in ("trained", "custom")
           else bpe.Tokenizer.from_pretrained(name))
    folder = tmp_path_factory.mktemp("auto")
    tok.save_hf(folder)
    return tok, auto_tokenizer(folder)


def ours(tok, text):
    """Our ids with special tokens in text as tokens: the CS336 rule, which transformers
    follows (the bundled vocabularies follow tiktoken's unless told otherwise)."""
    return tok.encode(text, allowed_special="all")


@pytest.mark.parametrize("name", FIXTURES)
def test_transformers_encodes_and_decodes_like_bpe(auto_pair, name):
    tok, auto = auto_pair
    plain = repo_file(f"cs336/{name}").read_text(encoding="utf-8")
    text = f"{plain[:30_000]}<|endoftext|> 1234567 \r\n\r\n  x<|endoftext|>"
    ids = ours(tok, text)
    assert auto.encode(text, add_special_tokens=False) == ids
    assert auto(text)["input_ids"] == ids            # no bos or eos is added
    assert auto.decode(ids) == tok.decode(ids) == text


@given(text=with_specials, cut=st.integers(0, 50))
def test_random_text_in_transformers(auto_pair, text, cut):
    tok, auto = auto_pair
    ids = ours(tok, text)
    assert auto.encode(text, add_special_tokens=False) == ids
    # decoding a prefix that may end inside a character: both write U+FFFD alike
    assert auto.decode(ids[:cut]) == tok.decode(ids[:cut])


def test_transformers_pads_a_batch(auto_pair):
    tok, auto = auto_pair
    texts = ["Hello world, this is longer", "hi", "<|endoftext|> é 12345", ""]
    batch = auto(texts, padding=True)
    pad = tok.special_ids["<|endoftext|>"]
    assert auto.pad_token == auto.eos_token == auto.bos_token == "<|endoftext|>"
    width = max(len(ours(tok, text)) for text in texts)
    for text, ids, mask in zip(texts, batch["input_ids"], batch["attention_mask"], strict=True):
        mine = ours(tok, text)
        assert ids == mine + [pad] * (width - len(mine))
        assert mask == [1] * len(mine) + [0] * (width - len(mine))


def test_transformers_sees_the_special_tokens(auto_pair):
    tok, auto = auto_pair
    vocab = auto.get_vocab()
    assert len(vocab) == len(tok.vocab) and max(vocab.values()) + 1 == tok.n_vocab
    assert auto.eos_token_id == tok.special_ids["<|endoftext|>"]
    assert {text: auto.convert_tokens_to_ids(text) for text in tok.special_ids} == tok.special_ids
    assert auto.decode(ours(tok, "a<|endoftext|>b"), skip_special_tokens=True) == "ab"


def test_roles_and_model_max_length(trained, tmp_path):
    trained.save_hf(tmp_path, eos_token="<|fin de texte|>", bos_token=None,
                    pad_token="<｜end▁of▁sentence｜>", model_max_length=8)
    auto = auto_tokenizer(tmp_path)
    assert (auto.eos_token, auto.bos_token, auto.pad_token) == (
        "<|fin de texte|>", None, "<｜end▁of▁sentence｜>")
    assert auto.model_max_length == 8
    pad = trained.special_ids["<｜end▁of▁sentence｜>"]
    batch = auto(["a b", "a b c d e f g h i j k"], padding=True, truncation=True)
    assert batch["input_ids"][0] == trained.encode("a b") + [pad] * (8 - len(trained.encode("a b")))
    assert batch["input_ids"][1] == trained.encode("a b c d e f g h i j k")[:8]
    assert json.loads((tmp_path / "special_tokens_map.json").read_text(encoding="utf-8")) == {
        "eos_token": "<|fin de texte|>", "pad_token": "<｜end▁of▁sentence｜>"}


def test_no_special_tokens_no_padding(tmp_path):
    """Without special tokens there is nothing to pad with: transformers says so, as for any
    tokenizer without a pad token, until one is set."""
    vocab, merges = bpe.train_bpe(repo_file("cs336/tinystories_sample.txt"), 300)
    tok = bpe.Tokenizer(vocab, merges)
    tok.save_hf(tmp_path)
    auto = auto_tokenizer(tmp_path)
    assert (auto.eos_token, auto.bos_token, auto.pad_token) == (None, None, None)
    assert auto.encode("Once upon a time") == tok.encode("Once upon a time")
    with pytest.raises(ValueError, match="does not have a padding token"):
        auto(["a", "bb"], padding=True)


def test_conventional_role_names(tmp_path):
    vocab = {i: bytes([i]) for i in range(256)}
    tok = bpe.Tokenizer(vocab, [], special_tokens=["<s>", "</s>", "<pad>"])
    tok.save_hf(tmp_path)
    auto = auto_tokenizer(tmp_path)
    assert (auto.bos_token, auto.eos_token, auto.pad_token) == ("<s>", "</s>", "<pad>")
    assert auto(["ab", "a"], padding=True)["input_ids"][1] == [97, 258]


@pytest.mark.parametrize("role, value, message", [
    ("pad_token", "[PAD]", r"pad_token '\[PAD\]' is not one of the tokenizer's special tokens "
                           r"\['<\|endoftext\|>', .*transformers would add it as a new token"),
    ("eos_token", 7, "eos_token 7 is not one of"),
])
def test_bad_role(trained, tmp_path, role, value, message):
    with pytest.raises(ValueError, match=message):
        trained.save_hf(tmp_path, **{role: value})
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "1024"])
def test_bad_model_max_length(trained, tmp_path, value):
    with pytest.raises(ValueError, match=f"model_max_length must be a positive int or None "
                                         f"\\(no limit\\), got {value!r}"):
        trained.save_hf(tmp_path, model_max_length=value)


# --- Tokenizer.save: one folder for bpe, CS336 and transformers -------------------------

def test_saved_folder_loads_everywhere(trained, tmp_path):
    trained.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [
        "bpe_config.json", "merges.txt", "special_tokens_map.json", "tokenizer.json",
        "tokenizer_config.json", "vocab.json"]
    text = "Hello<|fin de texte|> world<|endoftext|>"
    for tok in (bpe.Tokenizer.load(tmp_path), bpe.Tokenizer.from_hf(tmp_path),
                bpe.Tokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt",
                                         special_tokens=SPECIALS)):
        assert tok.encode(text) == trained.encode(text)
    auto = auto_tokenizer(tmp_path)
    assert auto.encode(text) == trained.encode(text)
    assert auto.eos_token == auto.pad_token == "<|endoftext|>"


@pytest.mark.parametrize("pattern", ["gpt2", "cl100k", regex.compile(r"\p{L}+|\p{N}{1,2}+|\s+")])
def test_old_folders_still_load(tmp_path, pattern):
    """A folder written before save had a config of its own name: the config was
    tokenizer_config.json with the special tokens and the pattern, as name or regex."""
    vocab, merges = bpe.train_bpe(repo_file("cs336/tinystories_sample.txt"), 300, ["<|x|>"])
    tok = bpe.Tokenizer(vocab, merges, special_tokens=["<|x|>"], pattern=pattern)
    tok.save(tmp_path)
    for name in ("bpe_config.json", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        (tmp_path / name).unlink()
    config = {"special_tokens": ["<|x|>"], "pattern": bpe.patterns.pattern_name(pattern)}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config, indent=1),
                                                    encoding="utf-8")
    loaded = bpe.Tokenizer.load(tmp_path)
    assert (loaded.vocab, loaded.merges, loaded.special_ids) == (
        tok.vocab, tok.merges, tok.special_ids)
    assert bpe.patterns.pattern_name(loaded.pattern) == bpe.patterns.pattern_name(pattern)
    text = "Once upon a time 12345<|x|>"
    assert loaded.encode(text) == tok.encode(text)
    loaded.save(tmp_path)       # saved again: the new layout, old config replaced by HF's
    assert json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))[
        "tokenizer_class"] == "PreTrainedTokenizerFast"
    assert bpe.Tokenizer.load(tmp_path).encode(text) == tok.encode(text)


def test_load_of_a_hf_folder_and_of_none(trained, tmp_path):
    trained.save_hf(tmp_path / "hf")
    assert bpe.Tokenizer.load(tmp_path / "hf").encode("a<|endoftext|>") == trained.encode(
        "a<|endoftext|>")
    (tmp_path / "hf" / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"bpe_config\.json' is missing: is .* a folder "
                                                r"written by Tokenizer\.save\?"):
        bpe.Tokenizer.load(tmp_path / "hf")


def test_load_names_a_bad_pattern(trained, tmp_path):
    trained.save(tmp_path)
    (tmp_path / "bpe_config.json").write_text('{"special_tokens": [], "pattern": 5}')
    with pytest.raises(ValueError, match=r"bpe_config\.json': expected \"pattern\" to be a name "
                                         r"or regex text, got 5"):
        bpe.Tokenizer.load(tmp_path)


def test_save_without_hf_files_warns_and_drops_stale_ones(trained, tmp_path):
    trained.save(tmp_path)
    tok = bpe.Tokenizer(trained.vocab, trained.merges, special_tokens=SPECIALS,
                        pattern=regex.compile(r"\S+$|\S+|\s+"))
    with pytest.warns(UserWarning, match=r"writing no Hugging Face files .* '\$' at character 3: "
                                         r"Oniguruma's \^ and \$ match at every line break"):
        tok.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["bpe_config.json", "merges.txt", "vocab.json"]
    assert bpe.Tokenizer.load(tmp_path).encode("ab, cd") == tok.encode("ab, cd")


# --- the pre-tokenizer's regex ----------------------------------------------------------

def split_pieces(hf_pattern, text):
    split = tokenizers.pre_tokenizers.Split(tokenizers.Regex(hf_pattern), "isolated")
    return [piece for piece, _ in split.pre_tokenize_str(text)]


def our_pieces(pattern, text):
    return bpe.Pretokenizer(pattern).pieces(text)


@pytest.fixture(scope="module", params=["gpt2", "cl100k_base", "o200k_base"])
def bundled_hf(request, tmp_path_factory):
    tok = bpe.Tokenizer.from_pretrained(request.param)
    return tok, hf_from(tok, tmp_path_factory.mktemp("hf"))


@given(st.lists(st.one_of(tiktoken_texts, st.sampled_from(["ʕ", "ʕA", "Aʕ'S", " 1234567"])),
                max_size=4).map("".join))
def test_bundled_patterns_cut_like_hf(bundled_hf, text):
    """The built-ins, written in their HF spellings, encode alike on random text (U+0295
    included: Lo to Oniguruma, Ll to regex, which o200k's classes happen not to tell apart)."""
    tok, hf = bundled_hf
    assert hf_ids(hf, text) == ours(tok, text)


# Characters of Python's Unicode (both engines' Unicode tables are newer), no private use
# past the BMP, no NUL.
_ASSIGNED = "".join(chr(c) for c in range(1, 0xF0000)
                    if unicodedata.category(chr(c)) not in ("Cs", "Cn"))


@pytest.mark.parametrize("cls", [
    *(rf"\p{{{name}}}" for name in sorted(bpe.hf._CATEGORIES)), r"\P{L}", r"\p{^N}",
    r"\s", r"\S", r"\d", r"\D", r"\w", r"\W", ".", r"[^\s\p{L}\p{N}]", r"[\w\-]", r"[^\W\d]",
    r"[\W\s]", r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]",
    r"[一-龥\u3040-ゟ゠-ヿ]"])
def test_classes_match_alike(cls):
    """Every character class hf_regex writes matches the same characters in Oniguruma as in
    the regex module, over every character Python's unicodedata assigns."""
    gaps = tokenizers.pre_tokenizers.Split(tokenizers.Regex(hf_regex(regex.compile(cls))),
                                           "removed").pre_tokenize_str(_ASSIGNED)
    theirs = set(_ASSIGNED) - set("".join(piece for piece, _ in gaps))
    differ = set(regex.findall(cls, _ASSIGNED)) ^ theirs
    # U+0295 (ʕ): Lo up to Unicode 15 (Oniguruma's tables), Ll since Unicode 16 (regex's)
    reclassed = {"ʕ"} if regex.search(r"\\p\{L[lo]\}", cls) else set()
    assert differ <= reclassed, sorted(differ)[:10]


def test_escaped_punctuation_is_literal_in_both():
    for char in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ":
        pattern = regex.compile("\\" + char + "+")
        text = f"a{char}{char}b\\{char}"
        assert split_pieces(hf_regex(pattern), text) == our_pieces(pattern, text), char


# The grammar hf_regex accepts, as parts to build random patterns from.
_ATOMS = [r"a", r"b", r"é", r" ", r"'", r"\.", r"\n", r"\x41", r"\xe9", r"\u00e9", r"\s", r"\S",
          r"\d", r"\D", r"\w", r"\W", r"\p{L}", r"\P{L}", r"\p{Lu}", r"\p{Ll}", r"\p{N}", r"\p{M}",
          r"\p{^P}", r".", r"[ab]", r"[^\s\p{L}\p{N}]", r"[a-cé1-3]", r"[\r\n]", r"[-']", r"[\-a]",
          r"[\w']", r"[^\W\d]", "}"]
_ASSERTIONS = [r"\A", r"\z", r"\b", r"\B", r"(?=a)", r"(?!\S)", r"(?<=a)", r"(?<!\s)",
               r"(?<=\p{L}\d|ab)", r"(?<=a{2})", r"(?<!\w)"]
_CASELESS = [r"(?i:'s|'t|'re|'ve|'m|'ll|'d)", r"'(?i:[sdmt]|ll|ve|re)", r"(?i:ab|x)"]
_REPEATS = st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{,2}", "{2,}"])
_SOLID_REPEATS = st.sampled_from(["", "+", "{2}", "{1,3}", "{2,}"])    # at least once
_MODES = st.sampled_from(["", "?", "+"])


@st.composite
def accepted_patterns(draw, depth=2):
    """A random regex within the accepted subset: alternatives that cannot match empty
    text (each has a part repeated at least once), made of atoms, assertions, case-
    insensitive parts and groups of such patterns, under all kinds of repeats."""
    branches = []
    for _ in range(draw(st.integers(1, 3))):
        items = []
        for solid in [True] + [False] * draw(st.integers(0, 3)):
            kinds = ["atom"] * 6 + ["caseless"] + ["group"] * (2 if depth else 0)
            kind = draw(st.sampled_from(kinds + ([] if solid else ["assertion"])))
            if kind == "assertion":
                items.append(draw(st.sampled_from(_ASSERTIONS)))
                continue
            if kind == "group":
                opener = draw(st.sampled_from(["(?:", "(", "(?>"] + ([] if solid else
                                                                      ["(?=", "(?!"])))
                item = opener + draw(accepted_patterns(depth - 1)) + ")"
                if opener in ("(?=", "(?!"):
                    items.append(item)
                    continue
            else:
                item = draw(st.sampled_from(_CASELESS if kind == "caseless" else _ATOMS))
            if solid:
                repeat = draw(_SOLID_REPEATS)
                item += repeat + (draw(_MODES) if repeat else "")
            elif draw(st.booleans()):
                item += draw(_REPEATS) + draw(_MODES)
            items.append(item)
        items.insert(draw(st.integers(0, len(items) - 1)), items.pop(0))
        branches.append("".join(items))
    return "|".join(branches)


_small_texts = st.text(st.sampled_from(list("ab éA'.\n\r1\u0301Ω\u00a0xS}-")), max_size=30)


@given(pattern=accepted_patterns(), text=st.one_of(_small_texts, tiktoken_texts))
def test_accepted_patterns_cut_alike(pattern, text):
    """A pattern hf_regex accepts cuts text in `tokenizers` (Oniguruma) exactly as in bpe."""
    try:
        compiled = regex.compile(pattern)
    except regex.error:
        assume(False)
    assert split_pieces(hf_regex(compiled), text) == our_pieces(compiled, text)


@pytest.mark.parametrize("pattern, name", [
    # Llama 3's and Qwen2's, as their tokenizer.json files have them: the native built-ins
    (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
     r"|\s*[\r\n]+|\s+(?!\S)|\s+", "llama3"),
    (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
     r"|\s*[\r\n]+|\s+(?!\S)|\s+", "qwen2"),
])
def test_published_patterns_written_and_read_as_they_are(trained, tmp_path, pattern, name):
    tok = bpe.Tokenizer(trained.vocab, trained.merges, pattern=regex.compile(pattern))
    assert tok.pattern == name and hf_regex(tok.pattern) == pattern
    tok.save_hf(tmp_path)
    assert read_tokenizer_json(tmp_path)[3] == name
    text = "I'LL say 12345 words,\r\n\n  ok?!  " * 3
    assert our_pieces(tok.pattern, text) == split_pieces(pattern, text)


@pytest.mark.parametrize("pattern, written", [
    (r"\p{N}{1,3}+|\D+", r"(?>\p{N}{1,3})|\D+"),
    (r"(?:ab|a){2}+b", r"(?>(?:ab|a){2})b"),
    (r"a{2}?|b", r"a{2}|b"),
    (r"\xe9|\U0001F600|\U000000e8", r"\u00E9|😀|\u00E8"),
    (r"[\xe0-\xff]+", r"[\u00E0-\u00FF]+"),
    (r"\w+|\W", r"[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D]+|[^\p{Alphabetic}\p{M}\p{Nd}"
                r"\p{Pc}\u200C\u200D]"),
    (r"\bab", r"(?:(?<=[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D])(?![\p{Alphabetic}\p{M}"
               r"\p{Nd}\p{Pc}\u200C\u200D])|(?<![\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D])"
               r"(?=[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D]))ab"),
    (r"(?i)'s|'T", r"(?i)'s|'T"),
])
def test_rewritten_for_oniguruma(pattern, written):
    compiled = regex.compile(pattern)
    assert hf_regex(compiled) == written
    text = "aab ab 12345 ééà 😀 ÿè 'S 't abababb ² ½ Ⅻ a\u200db _ab"
    assert split_pieces(written, text) == our_pieces(compiled, text)


@pytest.mark.parametrize("pattern, construct, why", [
    (r"\s+$", "$", "Oniguruma's ^ and $ match at every line break"),
    (r"^a", "^", "write \\A for the start and \\z for the end"),
    (r"a\Z", r"\Z", "also matches before a final newline"),
    (r"\pL+", r"\p", "write \\p{L}: Oniguruma has no one-letter form"),
    (r"\p{Han}", r"\p{Han}", "only the Unicode general categories"),
    (r"\p{Alphabetic}", r"\p{Alphabetic}", "only the Unicode general categories"),
    (r"[[:alpha:]]", "[", "nested set"),
    (r"[a&&b]", "&&", "intersection"),
    (r"[]a]", "]", "at the start of a set"),
    (r"[a-c-e]", "-", "write \\- for a literal -"),
    (r"[\s-a]", r"\s-a", "a range needs one character at each end"),
    (r"a{x}", "{", "write \\{ for a literal {"),
    (r"(?P<n>a)", "(?P<n>a)", "only (...), (?:...)"),
    (r"(?s).", "(?s)", "only"),
    (r"a(?i)b", "(?i)", "applies to the whole pattern in the regex module"),
    (r"(?i:ss)", "ss", "matches 'ss' to a ligature or ß"),
    (r"(?i:ff)", "ff", "matches 'ff'"),
    (r"(?i:[a-z])", "a-z", "İ"),
    (r"(?i:i)", "i", "does not match İ"),
    (r"(?i:\p{L})", r"\p{L}", "only ASCII characters"),
    (r"(?i:é)", "é", "only ASCII characters"),
    (r"(?i:ab+)", "+", "no repeats inside a case-insensitive part"),
    (r"(?<=a+)b", "(?<=a+)", "a lookbehind needs a fixed width"),
    (r"(?<=(a))b", "(", "inside a lookbehind only"),
    (r"(?<=a\b)b", r"\b", "no word boundary inside a lookbehind"),
    (r"[\b]", r"\b", "not known to be alike"),
    (r"(?=a)*b", "*", "a repeat of an assertion"),
    (r"a{100001}", "{100001}", "at most 100000"),
    (r"(a)\1", r"\1", "backreferences"),
    (r"\N{LATIN SMALL LETTER E WITH ACUTE}", r"\N", "write the character itself"),
    (r"\X", r"\X", "not known to be alike"),
    (r"\A|\Aaaa|a", r"\A", "it can match empty text"),
    (r"a|b?(?=c)", "b?(?=c)", "it can match empty text"),
    (r"a|", "|", "it can match empty text"),
])
def test_refused_constructs(pattern, construct, why):
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], pattern=regex.compile(pattern))
    with pytest.raises(ValueError, match=f"pattern {regex.escape(repr(pattern))} cannot be "
                                         f"written for Hugging Face tokenizers"
                       ) as error:
        tok.save_hf("never-written")
    assert f"{construct!r} at character" in str(error.value)
    assert why in str(error.value), str(error.value)
    assert not os.path.exists("never-written")


def test_version1_patterns_refused():
    pattern = regex.compile(r"(?V1)[\p{L}--a]")
    with pytest.raises(ValueError, match="VERSION1"):
        hf_regex(pattern)


# --- files written by `tokenizers` ------------------------------------------------------

@pytest.fixture(scope="module", params=["list merges", "string merges"])
def hf_gpt2_file(request, tmp_path_factory):
    """GPT-2 as `tokenizers` saves it: ByteLevel with its own regex, <|endoftext|> added.
    Older files write each merge as one "a b" string."""
    from tokenizers import AddedToken, decoders, models, pre_tokenizers

    hf = tokenizers.Tokenizer(models.BPE.from_file(str(repo_file("gpt2/encoder.json")),
                                                   str(repo_file("gpt2/vocab.bpe"))))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    data = json.loads(hf.to_str())
    if request.param == "string merges":
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def from_hf(hf_gpt2_file):
    _, _, special_tokens, pattern, *_ = read_tokenizer_json(hf_gpt2_file)
    assert special_tokens == {"<|endoftext|>": 50256} and pattern == "gpt2"
    return bpe.Tokenizer.from_hf(hf_gpt2_file)


@pytest.mark.parametrize("name", FIXTURES)
def test_hf_gpt2_file_encodes_like_tiktoken(from_hf, gpt2_tiktoken, name):
    text = repo_file(f"cs336/{name}").read_text(encoding="utf-8") + "<|endoftext|>"
    assert from_hf.encode(text) == gpt2_tiktoken.encode(text, allowed_special="all")


@given(with_specials)
def test_hf_gpt2_file_random_like_tiktoken(from_hf, gpt2_tiktoken, text):
    assert from_hf.encode(text) == gpt2_tiktoken.encode(text, allowed_special="all")


def test_hf_gpt2_file_reads_as_gpt2(from_hf, gpt2):
    assert from_hf.vocab == gpt2.vocab and from_hf.merges == gpt2.merges


# --- the files of today's open models, built by `tokenizers` ------------------------------
# No file can be downloaded here, so `tokenizers` itself builds each shape: Llama 3's from
# cl100k's ranks, Qwen2's and the others from vocabularies `tokenizers` trains on corpus.en.

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Text that the steps treat in awkward ways: normalizers (decomposed and compatibility
# characters, Hangul jamo, characters tokenizers' Unicode 9.0 tables do not know), digits,
# white space, words next to added tokens.
AWKWARD = ["e\u0301", "A\u030a", "\u212b", "\u1100\u1161\u11a8", "ﬁ", "Ⅻ", "\u32ff",
           "\U00011935\U00011930", "a\u0345\u0301", " Việt", "1234567", "\r\n\r\n", "  ",
           "\t", "\u00a0", "\u3000", "word", "words", "'S", "_", "\u200d"]


def hf_pair(hf, folder):
    """(bpe.Tokenizer.from_hf of the tokenizers.Tokenizer hf, saved in folder, hf)."""
    hf.save(str(folder / "tokenizer.json"))
    return bpe.Tokenizer.from_hf(folder), hf


def outcome(encode, text):
    """encode(text)'s ids, or "error" where it fails (tokenizers panics where an added token
    lies inside white space that rstrip took: see hf_pipeline._split_added)."""
    try:
        return list(encode(text))
    except (ValueError, BaseException) as e:    # pyo3's PanicException is a BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return "error"


def hf_trained(pre_tokenizer, added=(), normalizer=None, post_processor=None, lines=()):
    """A byte-level BPE of 600 tokens that `tokenizers` trains on corpus.en (and lines) with
    these steps, and these added tokens."""
    from tokenizers import decoders, models, pre_tokenizers, trainers

    hf = tokenizers.Tokenizer(models.BPE())
    if normalizer is not None:
        hf.normalizer = normalizer
    hf.pre_tokenizer = pre_tokenizer
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8")
    hf.train_from_iterator([*text.splitlines(), *lines], trainer)
    hf.add_tokens(list(added))
    if post_processor is not None:
        hf.post_processor = post_processor
    return hf


def split_then_bytes(regex_text, behavior="isolated", invert=False, add_prefix_space=False,
                     use_regex=False):
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex_text), behavior, invert=invert),
        pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, use_regex=use_regex)])


def special(text):
    from tokenizers import AddedToken

    return AddedToken(text, special=True, normalized=False)


def texts_of(parts):
    """Random texts joined from tiktoken_texts and the given parts."""
    return st.lists(st.one_of(tiktoken_texts, st.sampled_from(parts)), max_size=12).map("".join)


def fixture_texts():
    plain = "".join(repo_file(f"cs336/{f}").read_text(encoding="utf-8")[:5_000] for f in FIXTURES)
    return [plain, "".join(AWKWARD) * 2, " ".join(AWKWARD)]


# Llama 3: Split(its regex) + ByteLevel without regex, ignore_merges, a template adding
# <|begin_of_text|>. Its vocabulary is cl100k's with more tokens, some of which merging never
# makes: here every 40th of cl100k's merges is left out, so that thousands of tokens are
# whole tokens only (ignore_merges is what makes them).

@pytest.fixture(scope="module")
def llama3(tmp_path_factory):
    from tokenizers import models, processors

    from bpe.formats import merges_from_ranks, read_tiktoken_ranks, token_to_text

    ranks = read_tiktoken_ranks(repo_file("tiktoken/cl100k_base.tiktoken.gz"))
    vocab, merges = merges_from_ranks(ranks)
    texts = {token_to_text(token): i for i, token in vocab.items()}
    kept = [(token_to_text(a), token_to_text(b)) for k, (a, b) in enumerate(merges) if k % 40]

    def build(ignore_merges):
        hf = tokenizers.Tokenizer(models.BPE(texts, kept, ignore_merges=ignore_merges))
        hf.pre_tokenizer = split_then_bytes(LLAMA3_REGEX)
        hf.add_special_tokens([special(token) for token in LLAMA3_SPECIALS])
        hf.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                special_tokens=[("<|begin_of_text|>", len(texts))])])
        return hf

    tok, hf = hf_pair(build(True), tmp_path_factory.mktemp("llama3"))
    return tok, hf, build(False)


def test_llama3_shape_is_plain_with_whole_tokens(llama3):
    """Llama 3's steps are bpe's own (no Python pipeline): its regex, its special tokens,
    and whole tokens in the merge table; HF without ignore_merges encodes otherwise."""
    tok, hf, merging = llama3
    assert tok._pipeline is None and tok.pattern == "llama3"
    assert tok._table.n_wholes > 1000
    assert tok.special_ids == {token: 100256 + k for k, token in enumerate(LLAMA3_SPECIALS)}
    text = fixture_texts()[0]
    assert hf_ids(merging, text) != hf_ids(hf, text) == tok.encode(text)


def test_llama3_encodes_like_hf(llama3):
    tok, hf, _ = llama3
    for text in [*fixture_texts(), "<|begin_of_text|>hi<|eot_id|>", ""]:
        text += "<|end_of_text|>"
        assert tok.encode(text) == hf_ids(hf, text)
        assert tok.encode(text, add_special_tokens=True) == hf.encode(text).ids
        assert tok.encode(text, add_special_tokens=True)[0] == 100256
    texts = fixture_texts()
    assert tok.encode_batch(texts, add_special_tokens=True) == [e.ids for e in
                                                                hf.encode_batch(texts)]
    assert tok.encode_to_numpy(texts[0], add_special_tokens=True).tolist() == hf.encode(
        texts[0]).ids
    with pytest.raises(TypeError, match="add_special_tokens must be True or False"):
        tok.encode("a", add_special_tokens=1)


@given(texts_of([*LLAMA3_SPECIALS, *AWKWARD]))
def test_llama3_random_text_like_hf(llama3, text):
    tok, hf, _ = llama3
    assert tok.encode(text) == hf_ids(hf, text)
    assert tok.encode(text, add_special_tokens=True) == hf.encode(text).ids


# Qwen2: NFC, then Split(its regex: cl100k's with single digits) + ByteLevel without regex.
# NFC makes its steps more than bpe's own: the Python pipeline cuts the text.

@pytest.fixture(scope="module")
def qwen2(tmp_path_factory):
    from tokenizers import normalizers, processors

    hf = hf_trained(split_then_bytes(QWEN2_REGEX), [special(t) for t in QWEN2_SPECIALS],
                    normalizers.NFC(), processors.ByteLevel(trim_offsets=False))
    return hf_pair(hf, tmp_path_factory.mktemp("qwen2"))


def test_qwen2_encodes_like_hf(qwen2):
    tok, hf = qwen2
    assert tok._pipeline is not None and tok._template is None
    for text in [*fixture_texts(), "e<|im_end|>\u0301 1234", "<|im_start|>\u0301\u0345x"]:
        assert tok.encode(text) == hf_ids(hf, text) == hf.encode(text).ids
        assert tok.encode(text, add_special_tokens=True) == hf_ids(hf, text)
        assert tok.encode_to_numpy(text).tolist() == hf_ids(hf, text)
        assert list(tok.encode_iterable(iter([text[:7], text[7:]]))) == hf_ids(hf, text)
    # NFC changes the text: a decomposed é encodes as é does
    assert tok.encode("e\u0301") == tok.encode("\u00e9") != tok._table.encode_piece(
        "e\u0301".encode())
    assert tok.encode_batch(fixture_texts()) == [hf_ids(hf, t) for t in fixture_texts()]


@given(texts_of([*QWEN2_SPECIALS, *AWKWARD]))
def test_qwen2_random_text_like_hf(qwen2, text):
    tok, hf = qwen2
    assert tok.encode(text) == hf_ids(hf, text)


def test_qwen2_text_nfc_leaves_is_cut_by_the_kernels(qwen2):
    """Text NFC leaves as it is goes to the kernels whole, special tokens and all (its
    stretches are NFC too); text NFC changes goes through the steps in Python."""
    tok, hf = qwen2
    pre = tok._pretokenizer
    for text in ["<|im_start|>e\u0301 x<|im_end|>", "\u0301<|endoftext|>\u212b", "e\u0301"]:
        assert pre.plain_for(text) is None
        assert pre.plain_for(unicodedata.normalize("NFC", text)) is not None
        assert tok.encode(text) == tok.encode(unicodedata.normalize("NFC", text)) == hf_ids(
            hf, text)
    assert pre.plain_for("<|im_start|>\u00e9 x<|im_end|>").special_tokens == QWEN2_SPECIALS


@given(st.lists(st.one_of(st.sampled_from(AWKWARD), st.characters(exclude_categories=("Cs",)),
                         st.sampled_from("\u0301\u0302\u0323\u0345\u1161\u11a8AaEeOo")),
                max_size=20).map("".join), st.data())
def test_a_normalized_text_s_substrings_are_normalized(text, data):
    """What plain_for rests on: a stretch of a text a normalizer leaves as it is is left as
    it is too (by unicodedata and by the pipeline's normalize, tokenizers' tables)."""
    start = data.draw(st.integers(0, len(text)))
    stretch = text[start:data.draw(st.integers(start, len(text)))]
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        if unicodedata.is_normalized(form, text):
            assert hf_pipeline.normalize(form, stretch) == stretch


def test_flags_keep_the_text_in_the_steps(flagged):
    """Added tokens with lstrip, rstrip or single_word take text the plain cut would not: no
    text skips the steps, normalized or not."""
    tok, _ = flagged
    assert tok._pretokenizer.plain_for("abc") is None


# DeepSeek V3 (and R1): three Splits (numbers in threes, runs of its CJK class, then its
# regex inside each stretch) + ByteLevel without regex, and a template adding its
# begin-of-sentence token. bpe reads the three Splits as its native deepseek_v3 pattern.
DEEPSEEK_SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"]
# Text where its Splits cut apart from the other patterns': CJK runs and the punctuation,
# marks and unassigned code points inside its class, white space before digits and CJK,
# punctuation before ASCII letters, control characters, marks after spaces.
DEEPSEEK_AWKWARD = ["中文的字", "ひらがなカタカナ", "ア・イ", "か\u3099", "\u3040か", "゛ー",
                    "一二三 123", "日本語。", "  1", " 中", ".com", "..x", "\x00\x01a", "\x7f",
                    " \u0301a", "$100", "«ab»", "_init_", "\r\n\r\n", " .\n", "12345678"]


def deepseek_pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([
        *(pre_tokenizers.Split(Regex(text), "isolated") for text in bpe.DEEPSEEK_V3_SPLITS),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


@pytest.fixture(scope="module")
def deepseek(tmp_path_factory):
    from tokenizers import processors

    bos = DEEPSEEK_SPECIALS[0]
    hf = hf_trained(deepseek_pre_tokenizer(), [special(t) for t in DEEPSEEK_SPECIALS],
                    lines=DEEPSEEK_AWKWARD * 50)
    hf.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
        special_tokens=[(bos, hf.token_to_id(bos))])
    return hf_pair(hf, tmp_path_factory.mktemp("deepseek"))


def test_deepseek_shape_is_the_native_pattern(deepseek):
    """DeepSeek V3's three Splits read as one step, the built-in deepseek_v3: no Python
    pipeline; written back as the same three Splits."""
    tok, _ = deepseek
    assert tok._pipeline is None and tok.pattern == "deepseek_v3"
    for written in (tok, bpe.Tokenizer(tok.vocab, tok.merges, pattern="deepseek_v3")):
        steps = json.loads(tokenizer_json_bytes(written))["pre_tokenizer"]["pretokenizers"]
        assert tuple(step["pattern"]["Regex"] for step in steps[:-1]) == bpe.DEEPSEEK_V3_SPLITS


def test_deepseek_encodes_like_hf(deepseek):
    tok, hf = deepseek
    for text in [*fixture_texts(), "".join(DEEPSEEK_AWKWARD), " ".join(DEEPSEEK_AWKWARD)]:
        text += DEEPSEEK_SPECIALS[1]
        assert tok.encode(text) == hf_ids(hf, text)
        assert tok.encode(text, add_special_tokens=True) == hf.encode(text).ids
    texts = fixture_texts()
    assert tok.encode_batch(texts) == [hf_ids(hf, t) for t in texts]


@given(texts_of([*DEEPSEEK_SPECIALS, *DEEPSEEK_AWKWARD, *AWKWARD]))
def test_deepseek_random_text_like_hf(deepseek, text):
    tok, hf = deepseek
    assert tok.encode(text) == hf_ids(hf, text)


@pytest.fixture(scope="module")
def deepseek_in_a_pipeline(tmp_path_factory):
    """DeepSeek's three Splits after NFKC, with a flagged added token: the Python pipeline,
    whose steps are still the one native cut."""
    from tokenizers import AddedToken, normalizers

    hf = hf_trained(deepseek_pre_tokenizer(),
                    [special(DEEPSEEK_SPECIALS[1]), AddedToken("[X]", lstrip=True)],
                    normalizers.NFKC(), lines=DEEPSEEK_AWKWARD * 50)
    return hf_pair(hf, tmp_path_factory.mktemp("deepseek_nfkc"))


@given(texts_of([*DEEPSEEK_AWKWARD, *AWKWARD, "[X]", " [X]", DEEPSEEK_SPECIALS[1]]))
def test_deepseek_splits_in_a_pipeline_like_hf(deepseek_in_a_pipeline, text):
    tok, hf = deepseek_in_a_pipeline
    assert tok._pipeline.native_id == bpe._pretokenize.PATTERN_IDS["deepseek_v3"]
    assert tok.encode(text) == hf_ids(hf, text)


def hf_pieces(pre_tokenizer, text):
    return [piece for piece, _ in pre_tokenizer.pre_tokenize_str(text)]


@given(texts_of(DEEPSEEK_AWKWARD))
def test_deepseek_pieces_are_oniguruma_s(text):
    """The native pieces are those of the three Splits in `tokenizers` (Oniguruma), piece
    for piece, not only where the trained merges would tell."""
    from tokenizers import Regex, pre_tokenizers

    splits = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(t), "isolated")
                                      for t in bpe.DEEPSEEK_V3_SPLITS])
    assert bpe.Pretokenizer("deepseek_v3").pieces(text) == hf_pieces(splits, text)


def test_deepseek_pieces_of_every_character_are_oniguruma_s():
    """Every assigned character, in contexts that put it at each kind of boundary."""
    from tokenizers import Regex, pre_tokenizers

    splits = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(t), "isolated")
                                      for t in bpe.DEEPSEEK_V3_SPLITS])
    pre = bpe.Pretokenizer("deepseek_v3")
    for context in ["{}", " {}a", "{}中", ".{}a", "\x01{}1"]:
        text = "".join(context.format(c) + " ,\n"[k % 3] for k, c in enumerate(_ASSIGNED))
        ours, theirs = pre.pieces(text), hf_pieces(splits, text)
        if ours != theirs:
            at = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b)
            pytest.fail(f"{context!r}: piece {at}: bpe {ours[at - 2:at + 3]!r}, "
                        f"tokenizers {theirs[at - 2:at + 3]!r}")


@pytest.fixture(scope="module", params=["NFD", "NFKC", "NFKD", "NFD+NFKC"])
def normalized(request, tmp_path_factory):
    from tokenizers import normalizers

    forms = [getattr(normalizers, form)() for form in request.param.split("+")]
    normalizer = forms[0] if len(forms) == 1 else normalizers.Sequence(forms)
    hf = hf_trained(split_then_bytes(QWEN2_REGEX), [special("<|endoftext|>")], normalizer)
    return hf_pair(hf, tmp_path_factory.mktemp("normalized"))


@given(texts_of(["<|endoftext|>", *AWKWARD]))
def test_normalizers_like_hf(normalized, text):
    tok, hf = normalized
    assert tok.encode(text) == hf_ids(hf, text)


def _assigned(unicodedata):
    return [chr(c) for c in range(1, 0x110000)
            if unicodedata.category(chr(c)) not in ("Cs", "Cn")]


def test_normalize_is_tokenizers_on_every_character():
    """hf_pipeline.normalize gives what `tokenizers` gives on every assigned character
    alone, after a combining mark, and on the decomposed form of every character that
    composes, in each form. Its list of characters tokenizers' Unicode 9.0 tables do not
    know is the one tokenizers shows, for the characters this Python's unicodedata knows
    (Unicode 14.0 to 15.1 on Python 3.11 to 3.13)."""
    import unicodedata as ud

    from tokenizers import normalizers

    from bpe.hf_pipeline import _NORMALIZED_SINCE_9, FORMS, normalize

    # (parts are joined by NUL, a character no normalization touches or makes)

    chars = _assigned(ud)
    composed = [ud.normalize("NFD", c) for c in chars
                if ud.decomposition(c) and not ud.decomposition(c).startswith("<")]
    texts = {"alone": chars, "after a mark": ["a\u0345" + c for c in chars], "composed": composed}
    for form in FORMS:
        hf = getattr(normalizers, form)()
        for name, parts in texts.items():
            ours = [normalize(form, part) for part in parts]
            theirs = hf.normalize_str("\0".join(parts)).split("\0")
            differ = [p for p, a, b in zip(parts, ours, theirs, strict=True) if a != b]
            assert not differ, (form, name, differ[:5])
    # The characters whose normalization Python and tokenizers disagree on, found anew
    unknown = set()
    nfd = normalizers.NFD()
    for form in FORMS:
        hf = getattr(normalizers, form)()
        theirs = hf.normalize_str("\0".join(chars)).split("\0")
        unknown |= {c for c, t in zip(chars, theirs, strict=True) if ud.normalize(form, c) != t}
    marks = [c for c in chars if 0 < ud.combining(c) < 240]
    theirs = nfd.normalize_str("\0".join("a\u0345" + c for c in marks)).split("\0")
    unknown |= {c for c, t in zip(marks, theirs, strict=True)
                if ud.normalize("NFD", "a\u0345" + c) != t}
    nfc = normalizers.NFC()
    theirs = nfc.normalize_str("\0".join(composed)).split("\0")
    for text, t in zip(composed, theirs, strict=True):
        if ud.normalize("NFC", text) != t:
            unknown |= set(text) | set(ud.normalize("NFC", text))
    listed = set(regex.findall(f"[{_NORMALIZED_SINCE_9}]", "".join(chars)))
    if tuple(map(int, ud.unidata_version.split("."))) <= (15, 1, 0):   # what the list covers
        assert listed == unknown, sorted(listed ^ unknown)[:10]
    else:
        assert listed <= unknown


def test_unknown_characters_bitmap_is_the_class():
    from bpe.hf_pipeline import _NORMALIZED_SINCE_9, _unknown_bitmap

    bits, unknown = _unknown_bitmap(), regex.compile(f"[{_NORMALIZED_SINCE_9}]")
    listed = {c for c in range(len(bits) * 8) if bits[c >> 3] >> (c & 7) & 1}
    assert listed == {c for c in range(0x110000) if unknown.match(chr(c))}


@given(st.lists(st.one_of(st.characters(), st.sampled_from("\u07fd\u0898\U0001fbf9\U0001fbfa"
                                                             "\u0d3a\u0d3b")), max_size=40),
       st.integers(0, 45))
def test_find_listed_is_the_class_search(chars, start):
    from bpe._utf8 import find_listed
    from bpe.hf_pipeline import _NORMALIZED_SINCE_9, _unknown_bitmap

    text = "".join(chars)
    found = regex.compile(f"[{_NORMALIZED_SINCE_9}]").search(text, min(start, len(text)))
    assert find_listed(text, _unknown_bitmap(), start) == (found.start() if found else -1)


# Added tokens with every flag: lstrip (RoBERTa's <mask>), rstrip, single_word, normalized
# (matched in the normalized text: "ﬁ" as "fi" under NFKC), not special; and one made of
# white space, which rstrip can swallow (tokenizers then fails: so do we).

FLAGGED = [("<mask>", {"lstrip": True, "special": True}), ("[R]", {"rstrip": True}),
           ("word", {"single_word": True}), ("ﬁ", {"normalized": True}),
           ("Ⅻ", {"normalized": True, "lstrip": True, "rstrip": True}),
           ("ab", {"normalized": True}), ("bc", {}), ("\n\n", {"lstrip": True}),
           ("<|endoftext|>", {"special": True})]


@pytest.fixture(scope="module", params=[None, "NFKC"])
def flagged(request, tmp_path_factory):
    from tokenizers import AddedToken, normalizers

    added = [AddedToken(text, **{"normalized": False, **flags}) for text, flags in FLAGGED]
    normalizer = normalizers.NFKC() if request.param else None
    hf = hf_trained(split_then_bytes(QWEN2_REGEX), added, normalizer)
    return hf_pair(hf, tmp_path_factory.mktemp("flagged"))


_FLAG_TEXTS = [text for text, _ in FLAGGED] + ["fi", "XII", "abc", "a", "b", "c", " ", "  ",
                                               "\n", "\u3000", "é", "1", "_", "Ω"]


def test_added_token_flags_like_hf(flagged):
    tok, hf = flagged
    assert tok._pipeline is not None
    texts = ["say  <mask> it", "x<mask>", "[R]   y", "[R]\n\n z", "word words sword word_ 1word",
             "aword wordé word", "ﬁne fi ﬁ", "  Ⅻ  XII ", "abc", "ab bc abbc", "[R] \n\n\n",
             "a  \n\n", *fixture_texts()]
    for text in texts:
        assert outcome(tok.encode, text) == outcome(hf_ids.__get__(hf), text), text
    assert outcome(tok.encode, "[R] \n\n\n") == "error"      # \n\n inside [R]'s white space


@given(st.lists(st.sampled_from(_FLAG_TEXTS), max_size=16).map("".join))
def test_added_token_flags_random_text_like_hf(flagged, text):
    tok, hf = flagged
    assert outcome(tok.encode, text) == outcome(hf_ids.__get__(hf), text)


# Pre-tokenizers: Split with each behavior, inverted or not, then more steps; ByteLevel
# with and without a prefix space and its regex.

SPLIT_REGEX = r"\s+|\p{N}|'s"


@pytest.fixture(scope="module", params=[(b, i) for b in ("removed", "isolated",
                                                          "merged_with_previous",
                                                          "merged_with_next", "contiguous")
                                        for i in (False, True)],
                ids=lambda p: f"{p[0]}-{'inverted' if p[1] else 'plain'}")
def split_steps(request, tmp_path_factory):
    from tokenizers import Regex, pre_tokenizers

    behavior, invert = request.param
    steps = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_REGEX), behavior, invert=invert),
        pre_tokenizers.Split("e", "merged_with_next"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return hf_pair(hf_trained(steps, [special("<|endoftext|>")]),
                   tmp_path_factory.mktemp("split"))


@given(texts_of(["<|endoftext|>", *AWKWARD, "e", "ee", " e ", "'s"]))
def test_split_behaviors_like_hf(split_steps, text):
    tok, hf = split_steps
    assert tok.encode(text) == hf_ids(hf, text)


@pytest.fixture(scope="module", params=[(p, r, s) for p in (False, True) for r in (False, True)
                                        for s in (False, True)],
                ids=lambda p: "prefix-" * p[0] + "regex-" * p[1] + "split" * p[2])
def byte_level(request, tmp_path_factory):
    from tokenizers import pre_tokenizers

    prefix, use_regex, split = request.param
    steps = (split_then_bytes(QWEN2_REGEX, add_prefix_space=prefix, use_regex=use_regex)
             if split else pre_tokenizers.ByteLevel(add_prefix_space=prefix, use_regex=use_regex))
    tok, hf = hf_pair(hf_trained(steps, [special("<|endoftext|>")]),
                      tmp_path_factory.mktemp("bytelevel"))
    # bpe's own shapes run without the pipeline
    assert (tok._pipeline is None) == (not prefix and use_regex != split)
    return tok, hf


@given(texts_of(["<|endoftext|>", *AWKWARD]))
def test_byte_level_steps_like_hf(byte_level, text):
    tok, hf = byte_level
    assert tok.encode(text) == hf_ids(hf, text)


def test_fixture_texts_through_every_shape(split_steps, byte_level):
    for tok, hf in (split_steps, byte_level):
        for text in fixture_texts():
            assert tok.encode(text) == hf_ids(hf, text)


# Post-processors: RoBERTa's (its <mask> is lstrip too), a template with bos and eos.

@pytest.mark.parametrize("kind", ["roberta", "template"])
def test_post_processors_like_hf(tmp_path, kind):
    from tokenizers import AddedToken, pre_tokenizers, processors

    added = [special("<s>"), special("</s>"),
             AddedToken("<mask>", special=True, lstrip=True, normalized=False)]
    hf = hf_trained(pre_tokenizers.ByteLevel(add_prefix_space=False), added)
    s, e = hf.token_to_id("<s>"), hf.token_to_id("</s>")
    hf.post_processor = (processors.RobertaProcessing(("</s>", e), ("<s>", s)) if kind == "roberta"
                         else processors.TemplateProcessing(single="<s> $A </s> </s>",
                                                            special_tokens=[("<s>", s),
                                                                            ("</s>", e)]))
    tok, hf = hf_pair(hf, tmp_path)
    for text in [*fixture_texts(), "a <mask> b", ""]:
        assert tok.encode(text, add_special_tokens=True) == hf.encode(text).ids
        assert tok.encode(text) == hf_ids(hf, text)
    expected = [s, e] if kind == "roberta" else [s, e, e]
    assert tok.encode("", add_special_tokens=True) == expected


def test_pipeline_round_trips(qwen2, flagged, tmp_path):
    """A tokenizer with a pipeline writes its steps back: tokenizers and transformers load
    what save_hf writes and encode alike; save and load, and pickle, keep them."""
    import pickle

    from transformers import AutoTokenizer

    for k, (tok, hf) in enumerate((qwen2, flagged)):
        text = " ".join(fixture_texts()[1:]) + " ﬁ word [R]  x <mask>"
        tok.save_hf(tmp_path / f"hf{k}")
        again = tokenizers.Tokenizer.from_file(str(tmp_path / f"hf{k}" / "tokenizer.json"))
        assert hf_ids(again, text) == tok.encode(text) == hf_ids(hf, text)
        auto = AutoTokenizer.from_pretrained(tmp_path / f"hf{k}")
        assert auto.encode(text) == tok.encode(text, add_special_tokens=True)
        tok.save(tmp_path / f"bpe{k}")
        loaded = bpe.Tokenizer.load(tmp_path / f"bpe{k}")
        unpickled = pickle.loads(pickle.dumps(tok))
        for back in (loaded, unpickled, bpe.Tokenizer.from_hf(tmp_path / f"hf{k}")):
            assert back._pipeline is not None and back.encode(text) == tok.encode(text)


def test_llama3_round_trips_with_its_template(llama3, tmp_path):
    """transformers' encode adds <|begin_of_text|> (its add_special_tokens=True default), as
    encode(add_special_tokens=True) does, from the folder save_hf writes."""
    import pickle

    from transformers import AutoTokenizer

    tok, hf, _ = llama3
    text = fixture_texts()[1]
    tok.save_hf(tmp_path)
    auto = AutoTokenizer.from_pretrained(tmp_path)
    assert auto.encode(text) == tok.encode(text, add_special_tokens=True) == hf.encode(text).ids
    for back in (bpe.Tokenizer.from_hf(tmp_path), pickle.loads(pickle.dumps(tok))):
        assert back._table.n_wholes == tok._table.n_wholes
        assert back.encode(text, add_special_tokens=True) == hf.encode(text).ids


def test_pipeline_refuses_what_it_cannot_follow(qwen2, tmp_path):
    tok, _ = qwen2
    (tmp_path / "a.txt").write_text("hello", encoding="utf-8")
    for call in (lambda: tok.encode_file([tmp_path / "a.txt"], tmp_path / "ids.npy"),
                 lambda: tok.encode_with_offsets("hi"),
                 lambda: tok.encode_with_offsets_to_numpy("hi"),
                 lambda: tok.encode_with_unstable("hi"), tok.to_tiktoken):
        with pytest.raises(ValueError, match="normalizes or pre-tokenizes text in steps bpe "
                                             "takes in Python"):
            call()
    assert not (tmp_path / "ids.npy").exists()
    # tiktoken's arguments pick the added tokens, as for any tokenizer
    text = "<|im_start|>hi<|im_end|>"
    assert tok.encode(text, allowed_special={"<|im_end|>"}, disallowed_special=()) == [
        *tok.encode_ordinary("<|im_start|>hi"), tok.special_ids["<|im_end|>"]]
    with pytest.raises(ValueError, match=r"disallowed special token '<\|im_start\|>'"):
        tok.encode(text, allowed_special={"<|im_end|>"})


@pytest.mark.slow
def test_corpus_slice_like_hf(llama3, qwen2, deepseek):
    """2 MB of the benchmark corpus (only that much is decompressed) through Llama 3's,
    Qwen2's and DeepSeek V3's shapes."""
    import lzma

    with lzma.open(bench_corpus(), "rt", encoding="utf-8") as f:
        text = f.read(2_000_000)
    for tok, hf, *_ in (llama3, qwen2, deepseek):
        assert tok.encode(text) == hf_ids(hf, text)


# --- bad input --------------------------------------------------------------------------

@pytest.fixture
def small_json(trained):
    return json.loads(tokenizer_json_bytes(trained))


def write(tmp_path, data):
    path = tmp_path / "tokenizer.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_added_tokens_outside_the_model_vocab(tmp_path, small_json, trained):
    # HF numbers added tokens missing from the model vocab after it, in order.
    for text in SPECIALS:
        del small_json["model"]["vocab"][text]
    path = write(tmp_path, small_json)
    hf = tokenizers.Tokenizer.from_file(str(path))
    assert {text: hf.token_to_id(text) for text in SPECIALS} == trained.special_ids
    assert read_tokenizer_json(path)[:4] == (trained.vocab, trained.merges, trained.special_ids,
                                             "gpt2")

    small_json["added_tokens"].reverse()  # now HF would number them the other way round
    with pytest.raises(ValueError, match=r"id 501, but HF would give it 499 \(the next free id"):
        read_tokenizer_json(write(tmp_path, small_json))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json' does not exist"):
        read_tokenizer_json(tmp_path)


def test_invalid_json(tmp_path):
    with pytest.raises(ValueError, match=r"tokenizer\.json' is not valid JSON"):
        read_tokenizer_json(write(tmp_path, '{"model": '))


def edit(data, where, key, value):
    """data with data[where...][key] = value; where is a path of keys."""
    target = data
    for step in where:
        target = target[step]
    target[key] = value
    return data


BYTE_LEVEL = {"add_prefix_space": False, "trim_offsets": True}   # what tokenizers requires


@pytest.mark.parametrize("where, key, value, message", [
    ((), "normalizer", {"type": "Lowercase"}, "normalizer is 'Lowercase', which bpe does not "
                                              "apply as Hugging Face does; it applies NFC, NFD"),
    ((), "normalizer", {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Strip"}]},
     r"normalizer.normalizers\[1\] is 'Strip'"),
    ((), "truncation", {"max_length": 512}, "truncation is set, which would change encode's ids"),
    ((), "padding", {"strategy": "BatchLongest"}, "padding is set"),
    (("model",), "type", "WordPiece", "expected model type 'BPE', got 'WordPiece'"),
    (("model",), "ignore_merges", "yes", "ignore_merges is 'yes', expected true or false"),
    (("model", "vocab"), "中", 600, "'中' holds '中', which is not in GPT-2's bytes-to-unicode"),
    (("model", "vocab"), "Ġthe", 5, "id 5 is used by"),
    (("model",), "merges", [["Ġ", "t"], ["Ġ", "zq"]], r"merge 1 \['Ġ', 'zq'\] needs token 'zq'"),
    (("model",), "merges", ["Ġ t", "Ġt"], "merge 1 is 'Ġt'; expected"),
    ((), "pre_tokenizer", {"type": "Whitespace"}, "pre_tokenizer is 'Whitespace'; bpe pre-"),
    (("pre_tokenizer",), "pretokenizers", [{"type": "ByteLevel", **BYTE_LEVEL},
                                           {"type": "Digits"}],
     r"pre_tokenizer.pretokenizers\[1\] is 'Digits'"),
    (("pre_tokenizer",), "pretokenizers", [{"type": "ByteLevel", **BYTE_LEVEL,
                                            "use_regex": False},
                                           {"type": "Split", "pattern": {"String": " "},
                                            "behavior": "Removed", "invert": False}],
     "expected ByteLevel once, as the last step"),
    (("pre_tokenizer",), "pretokenizers", [{"type": "Split", "pattern": {"String": " "},
                                            "behavior": "Removed", "invert": False}],
     "expected ByteLevel once"),
    (("pre_tokenizer", "pretokenizers", 0), "behavior", "Dropped", "Split's behavior is 'Dropped'"),
    (("pre_tokenizer", "pretokenizers", 0), "pattern", {"String": ""}, "Split's pattern is"),
    (("pre_tokenizer", "pretokenizers", 1), "add_prefix_space", "no", "must be true or false"),
    (("added_tokens", 0), "id", 7, "'<|endoftext|>' has id 7, but HF would give it 499 .its id in"),
    (("added_tokens", 0), "lstrip", "yes", r"added_tokens\[0\] \('<\|endoftext\|>'\): lstrip is "
                                           r"'yes', expected true or false"),
    (("added_tokens",), 1, {"id": 500, "content": "<|endoftext|>"}, "is listed twice"),
    ((), "post_processor", {"type": "BertProcessing", "sep": ["a", 1], "cls": ["b", 2]},
     "post_processor is 'BertProcessing'; bpe applies TemplateProcessing"),
    ((), "post_processor", {"type": "TemplateProcessing", "single": [
        {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [], "special_tokens": {}}, "holds sequence A 2 times, expected once"),
    ((), "post_processor", {"type": "TemplateProcessing", "single": [
        {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [], "special_tokens": {}}, "special token '<s>' has no \"ids\""),
    ((), "post_processor", {"type": "TemplateProcessing", "single": [
        {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [9999], "tokens": ["<s>"]}}},
     "post_processor adds id 9999, which is no token's"),
    ((), "post_processor", {"type": "Sequence", "processors": [
        {"type": "RobertaProcessing", "sep": ["a", 1], "cls": ["b", 2]},
        {"type": "RobertaProcessing", "sep": ["a", 1], "cls": ["b", 2]}]},
     "more than one processor adds special tokens"),
    # a regex that Oniguruma, which HF runs it on, reads otherwise than the regex module
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", r"\p{N}{1,3}+|\D",
     r"would not cut text in bpe .* as in HF .*: '\{1,3\}\+' at character 5: Oniguruma reads "
     r"X\{1,3\}\+ as \(\?:X\{1,3\}\)\+"),
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", r"\w+\Z",
     r"'\\\\w' at character 0"),
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", r"(?<=a", "not a valid regex"),
    # cl100k as the regex module spells it: not cl100k to Oniguruma
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", bpe.PATTERNS["cl100k"],
     r"'\{1,3\}\+' at character \d+: Oniguruma reads"),
])
def test_bad_file(tmp_path, small_json, where, key, value, message):
    path = write(tmp_path, edit(small_json, where, key, value))
    with pytest.raises(ValueError, match=message) as error:
        read_tokenizer_json(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_pretrained_round_trip_through_hf(name, tmp_path):
    """Each bundled vocabulary, written for HF, encodes there as here and reads back whole."""
    tok = bpe.Tokenizer.from_pretrained(name)
    hf = hf_from(tok, tmp_path)
    text = "".join(repo_file(f"cs336/{f}").read_text(encoding="utf-8")[:20_000] for f in FIXTURES)
    text += " 1234567 <|endoftext|>\r\n\r\n  x"
    assert hf_ids(hf, text) == tok.encode(text, allowed_special="all")
    back = bpe.Tokenizer.from_hf(tmp_path)
    assert (back.vocab, back.merges, back.special_ids, back.pattern) == (
        tok.vocab, tok.merges, tok.special_ids, tok.pattern)


@pytest.fixture(scope="module", params=["llama3", "qwen2", "deepseek_v3"])
def open_model_hf(request, trained, tmp_path_factory):
    """A tokenizer under Llama 3's, Qwen's or DeepSeek V3's pattern, and HF's from the
    tokenizer.json it writes (a Split holding the pattern's text, as Meta's and Qwen's files
    do; DeepSeek's three Splits)."""
    tok = bpe.Tokenizer(trained.vocab, trained.merges, special_tokens=SPECIALS,
                        pattern=request.param)
    folder = tmp_path_factory.mktemp("hf")
    hf = hf_from(tok, folder)
    steps = json.loads((folder / "tokenizer.json").read_text())["pre_tokenizer"]["pretokenizers"]
    assert [step["pattern"]["Regex"] for step in steps[:-1]] == (
        list(bpe.DEEPSEEK_V3_SPLITS) if request.param == "deepseek_v3"
        else [bpe.PATTERNS[request.param]])
    assert read_tokenizer_json(folder)[3] == request.param    # read back as the native pattern
    return tok, hf


@given(st.lists(st.one_of(with_specials, st.sampled_from([" 1234567", "x\n  ", "\n \n ",
                                                          *DEEPSEEK_AWKWARD])),
                max_size=4).map("".join))
def test_open_model_patterns_cut_like_hf(open_model_hf, text):
    tok, hf = open_model_hf
    assert hf_ids(hf, text) == tok.encode(text)


@pytest.mark.parametrize("key", ["add_prefix_space", "trim_offsets"])
def test_byte_level_without_its_required_fields_is_refused_as_by_tokenizers(tmp_path,
                                                                             small_json, key):
    """tokenizers has no default for these two: a file without one is an error there, so it
    is here (read as a default, add_prefix_space would add spaces the text never had)."""
    steps = small_json["pre_tokenizer"]
    node = steps["pretokenizers"][-1] if steps["type"] == "Sequence" else steps
    del node[key]
    path = write(tmp_path, small_json)
    with pytest.raises(Exception, match=f"missing field `{key}`"):
        tokenizers.Tokenizer.from_file(str(path))
    with pytest.raises(ValueError, match=f"ByteLevel has no '{key}'"):
        read_tokenizer_json(path)
