"""bpe.registry: get_encoding, encoding_for_model, encoding_name_for_model and
list_encoding_names answer as tiktoken's do (its model tables, its names, its error types),
for the encodings bpe bundles; the others are clear errors; unknown names get a suggestion."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from bpe import registry
from bpe.pretrained import NAMES, NOT_BUNDLED

from .conftest import official_tiktoken, repo_file
from .test_startup import run_fresh

tiktoken = pytest.importorskip("tiktoken")
tiktoken_model = pytest.importorskip("tiktoken.model")

TIKTOKEN_MODELS = list(tiktoken_model.MODEL_TO_ENCODING)
PREFIXES = list(tiktoken_model.MODEL_PREFIX_TO_ENCODING)
# Names that reach the prefix table (dated snapshots, sizes, fine-tunes, made-up versions),
# and some that reach neither table.
PREFIXED = [
    "gpt-4o-2024-05-13", "gpt-4o-mini", "chatgpt-4o-latest", "gpt-4-0314", "gpt-4-32k",
    "gpt-4.1-mini", "gpt-4.5-preview", "gpt-5-nano", "gpt-5", "gpt-50", "o1-preview",
    "o3-mini", "o4-mini-2025-04-16", "gpt-3.5-turbo-0301", "gpt-3.5-turbo-FAKE",
    "gpt-35-turbo-16k", "gpt-oss-120b", "ft:gpt-4o:org:custom:id", "ft:gpt-4:a:b",
    "ft:gpt-3.5-turbo-0613:org::id", "ft:davinci-002:x", "ft:babbage-002:y",
    *(prefix + "x" for prefix in PREFIXES),
]
UNKNOWN = ["gpt4o", "gpt-3", "claude", "", "GPT-4", "o2", "davinci-003", "text-ada-002"]


def outcome(function, *args):
    """function's result, or the type of the error it raised."""
    try:
        return function(*args)
    except (KeyError, ValueError, TypeError) as e:
        return type(e)


def test_tables_are_tiktokens():
    assert registry.MODEL_TO_ENCODING == tiktoken_model.MODEL_TO_ENCODING
    assert (list(registry.MODEL_PREFIX_TO_ENCODING.items())      # the order decides
            == list(tiktoken_model.MODEL_PREFIX_TO_ENCODING.items()))


@pytest.mark.parametrize("model", [*TIKTOKEN_MODELS, *PREFIXED, *UNKNOWN])
def test_encoding_name_for_model_like_tiktoken(model):
    assert (outcome(bpe.encoding_name_for_model, model)
            == outcome(tiktoken.encoding_name_for_model, model))


@given(model=st.tuples(st.sampled_from([*TIKTOKEN_MODELS, *PREFIXES, ""]),
                       st.text(max_size=8)).map("".join))
def test_random_model_names_like_tiktoken(model):
    assert (outcome(bpe.encoding_name_for_model, model)
            == outcome(tiktoken.encoding_name_for_model, model))


def test_encoding_names_are_tiktokens():
    """Each name tiktoken knows is bundled here or named as not bundled."""
    assert bpe.list_encoding_names() == list(NAMES)
    assert set(NAMES) | set(NOT_BUNDLED) == set(tiktoken.list_encoding_names())
    assert not set(NAMES) & set(NOT_BUNDLED)


@pytest.mark.parametrize("name", NAMES)
def test_get_encoding_is_from_pretrained_named_as_tiktoken(name):
    enc = bpe.get_encoding(name)
    assert enc is bpe.Tokenizer.from_pretrained(name) and enc is bpe.get_encoding(name)
    assert enc.name == name


@pytest.mark.parametrize("name", NAMES)
def test_get_encoding_encodes_as_tiktoken(name):
    ours, theirs = bpe.get_encoding(name), official_tiktoken(name)
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8") + " <|endoftext|> x"
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    with pytest.raises(ValueError, match="disallowed special token"):
        ours.encode(text)                               # tiktoken's default, as theirs


@pytest.mark.parametrize("model", [m for m in [*TIKTOKEN_MODELS, *PREFIXED]
                                   if tiktoken.encoding_name_for_model(m) in NAMES])
def test_encoding_for_model_bundled(model):
    name = tiktoken.encoding_name_for_model(model)
    enc = bpe.encoding_for_model(model)
    assert enc is bpe.get_encoding(name) and enc.name == name


@pytest.mark.parametrize("model", [m for m in [*TIKTOKEN_MODELS, *PREFIXED]
                                   if tiktoken.encoding_name_for_model(m) not in NAMES])
def test_encoding_for_model_not_bundled(model):
    name = tiktoken.encoding_name_for_model(model)
    assert name in NOT_BUNDLED
    with pytest.raises(ValueError, match=rf"model '{model}' uses the encoding '{name}', which "
                                         rf"bpe does not bundle \(the bundled ones are gpt2, "
                                         rf"cl100k_base, o200k_base, o200k_harmony, r50k_base\)"
                                         rf".*from_tiktoken"):
        bpe.encoding_for_model(model)


@pytest.mark.parametrize("name", NOT_BUNDLED)
def test_get_encoding_not_bundled(name):
    with pytest.raises(ValueError, match=rf"'{name}' is tiktoken's but is not bundled with "
                                         rf"bpe \(the bundled ones are gpt2, .*\)"):
        bpe.get_encoding(name)


@pytest.mark.parametrize(("name", "expected"), [
    ("cl100k", r"unknown pretrained tokenizer 'cl100k'\. Did you mean 'cl100k_base'\? "
               r"Choose one of gpt2, cl100k_base, o200k_base, o200k_harmony, r50k_base"),
    ("o200k-base", r"Did you mean 'o200k_base'\?"),
    ("gpt3", r"unknown pretrained tokenizer 'gpt3'\. Did you mean 'gpt2'\?"),
    ("xyz", r"unknown pretrained tokenizer 'xyz'\. Choose one of gpt2, cl100k_base"),
    ("meta-llama/Meta-Llama-3-8B", r"Choose one of gpt2, .*: bpe reads no hub\. For a Hugging "
                                   r"Face tokenizer\.json \(a model's folder\), use "
                                   r"bpe\.Tokenizer\.from_hf\(path\); for a folder written by "
                                   r"Tokenizer\.save, bpe\.Tokenizer\.load\(path\)$"),
    ("gpt-4o", r"'gpt-4o' is a model, not an encoding: bpe\.encoding_for_model\('gpt-4o'\) "
               r"gives its encoding, 'o200k_base'"),
    (5, r"must be a str, one of gpt2, .*; got 5"),
])
def test_unknown_encoding(name, expected):
    """ValueError, as tiktoken's get_encoding raises, for all of them."""
    with pytest.raises(ValueError, match=expected):
        bpe.get_encoding(name)
    with pytest.raises(ValueError):
        tiktoken.get_encoding(name)


def test_from_pretrained_suggests_too():
    with pytest.raises(ValueError, match=r"'o200k'\. Did you mean 'o200k_base'\?"):
        bpe.Tokenizer.from_pretrained("o200k")


@pytest.mark.parametrize(("model", "suggested"), [
    ("gpt4o", "'gpt-4o'"), ("gpt-3.5turbo", "'gpt-3.5-turbo'"), ("text-embeding-3-small",
                                                                 "'text-embedding-3-small'")])
def test_unknown_model_suggests(model, suggested):
    with pytest.raises(KeyError, match=rf"no encoding is known for the model '{model}'\. "
                                       rf"Did you mean {suggested}.*Known models: o1, o3, .*"
                                       rf"names starting with o1-, .*bpe\.get_encoding"):
        bpe.encoding_for_model(model)


def test_model_name_must_be_str():
    with pytest.raises(TypeError, match="model_name must be a str, got int 4"):
        bpe.encoding_name_for_model(4)


def test_model_lookup_loads_nothing_heavy():
    """encoding_name_for_model is a table lookup: no NumPy, kernel or vocabulary."""
    out = run_fresh("""
        import sys
        import bpe
        assert bpe.encoding_name_for_model("gpt-4o-mini") == "o200k_base"
        loaded = sorted(m for m in sys.modules if m.startswith(("bpe", "numpy", "regex")))
        print(loaded)
    """)
    assert out.strip() == "['bpe', 'bpe.registry']"
