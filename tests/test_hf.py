"""Hugging Face files: folders we write load in `transformers.AutoTokenizer` (and their
tokenizer.json in `tokenizers`) and encode, pad and decode there exactly as we do; custom
patterns are written only where Oniguruma matches as the regex module does; files HF
writes load into a Tokenizer that encodes as tiktoken does; Tokenizer.save's folder serves
both, and old ones still load; round trips, bad input."""
import json
import os
import unicodedata

import pytest
import regex
from hypothesis import assume, given
from hypothesis import strategies as st

import bpe
from bpe.hf import hf_regex, read_tokenizer_json, tokenizer_json_bytes

from .conftest import repo_file, tiktoken_pair
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
    assert read_tokenizer_json(path) == (tok.vocab, tok.merges, tok.special_ids, "gpt2")
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
    _, _, special_tokens, pattern = read_tokenizer_json(hf_gpt2_file)
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
    assert read_tokenizer_json(path) == (trained.vocab, trained.merges, trained.special_ids, "gpt2")

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


@pytest.mark.parametrize("where, key, value, message", [
    ((), "normalizer", {"type": "NFC"}, "normalizer 'NFC', which would change the text"),
    (("model",), "type", "WordPiece", "expected model type 'BPE', got 'WordPiece'"),
    (("model",), "ignore_merges", True, "sets ignore_merges"),
    (("model", "vocab"), "中", 600, "'中' holds '中', which is not in GPT-2's bytes-to-unicode"),
    (("model", "vocab"), "Ġthe", 5, "id 5 is used by"),
    (("model",), "merges", [["Ġ", "t"], ["Ġ", "zq"]], r"merge 1 \['Ġ', 'zq'\] needs token 'zq'"),
    (("model",), "merges", ["Ġ t", "Ġt"], "merge 1 is 'Ġt'; expected"),
    ((), "pre_tokenizer", {"type": "Whitespace"}, "expected pre_tokenizer ByteLevel"),
    (("pre_tokenizer", "pretokenizers", 1), "add_prefix_space", True, "expected pre_tokenizer"),
    (("added_tokens", 0), "id", 7, "'<|endoftext|>' has id 7, but HF would give it 499 .its id in"),
    (("added_tokens", 0), "lstrip", True, "sets single_word, lstrip or rstrip"),
    # a regex that Oniguruma, which HF runs it on, reads otherwise than the regex module
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", r"\p{N}{1,3}+|\D",
     r"would not cut text in bpe .* as in HF .*: '\{1,3\}\+' at character 5: Oniguruma reads "
     r"X\{1,3\}\+ as \(\?:X\{1,3\}\)\+"),
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", r"\w+\Z",
     r"'\\\\w' at character 0"),
    (("pre_tokenizer", "pretokenizers", 0, "pattern"), "Regex", r"(?<=a", "not a valid regex"),
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


@pytest.fixture(scope="module", params=["llama3", "qwen2"])
def open_model_hf(request, trained, tmp_path_factory):
    """A tokenizer under Llama 3's or Qwen's pattern, and HF's from the tokenizer.json it
    writes (a Split holding the pattern's text, as Meta's and Qwen's files do)."""
    tok = bpe.Tokenizer(trained.vocab, trained.merges, special_tokens=SPECIALS,
                        pattern=request.param)
    folder = tmp_path_factory.mktemp("hf")
    hf = hf_from(tok, folder)
    split = json.loads((folder / "tokenizer.json").read_text())["pre_tokenizer"]["pretokenizers"][0]
    assert split["pattern"] == {"Regex": bpe.PATTERNS[request.param]}
    assert read_tokenizer_json(folder)[3] == request.param    # read back as the native pattern
    return tok, hf


@given(st.lists(st.one_of(with_specials, st.sampled_from([" 1234567", "x\n  ", "\n \n "])),
                max_size=4).map("".join))
def test_open_model_patterns_cut_like_hf(open_model_hf, text):
    tok, hf = open_model_hf
    assert hf_ids(hf, text) == tok.encode(text)
