"""tiktoken's module-level functions: `get_encoding`, `encoding_for_model`,
`encoding_name_for_model` and `list_encoding_names`, over the bundled vocabularies.

Code written for tiktoken (`enc = tiktoken.encoding_for_model("gpt-4o")`) runs on bpe with
only its import changed, offline: the encodings are the vocabularies bundled in bpe.data
(bpe.pretrained), and the model -> encoding tables below hold the same facts as tiktoken
0.14's (tiktoken/model.py), so a model name gives the encoding tiktoken gives it. tiktoken
knows three encodings bpe does not bundle (pretrained.NOT_BUNDLED); asking for one, or for
a model that uses one, is an error that says so and which encodings are bundled.

Importing this module is cheap: bpe.pretrained and the tokenizer load on the first call
that needs an encoding.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpe.tokenizer import Tokenizer

# Model name -> the name of its encoding (tiktoken's MODEL_TO_ENCODING).
MODEL_TO_ENCODING: dict[str, str] = {
    # reasoning
    **dict.fromkeys(["o1", "o3", "o4-mini"], "o200k_base"),
    # chat
    **dict.fromkeys(["gpt-5", "gpt-4.1", "gpt-4o"], "o200k_base"),
    **dict.fromkeys(["gpt-4", "gpt-3.5-turbo", "gpt-3.5", "gpt-35-turbo"], "cl100k_base"),
    # base
    **dict.fromkeys(["davinci-002", "babbage-002"], "cl100k_base"),
    # embeddings
    **dict.fromkeys(["text-embedding-ada-002", "text-embedding-3-small",
                     "text-embedding-3-large"], "cl100k_base"),
    # deprecated: text
    **dict.fromkeys(["text-davinci-003", "text-davinci-002"], "p50k_base"),
    **dict.fromkeys(["text-davinci-001", "text-curie-001", "text-babbage-001", "text-ada-001",
                     "davinci", "curie", "babbage", "ada"], "r50k_base"),
    # deprecated: code
    **dict.fromkeys(["code-davinci-002", "code-davinci-001", "code-cushman-002",
                     "code-cushman-001", "davinci-codex", "cushman-codex"], "p50k_base"),
    # deprecated: edit
    **dict.fromkeys(["text-davinci-edit-001", "code-davinci-edit-001"], "p50k_edit"),
    # deprecated: old embeddings
    **dict.fromkeys(["text-similarity-davinci-001", "text-similarity-curie-001",
                     "text-similarity-babbage-001", "text-similarity-ada-001",
                     "text-search-davinci-doc-001", "text-search-curie-doc-001",
                     "text-search-babbage-doc-001", "text-search-ada-doc-001"], "r50k_base"),
    **dict.fromkeys(["code-search-babbage-code-001", "code-search-ada-code-001"], "r50k_base"),
    # open source
    **dict.fromkeys(["gpt2", "gpt-2"], "gpt2"),
}

# Model name prefix -> encoding, for names not in MODEL_TO_ENCODING (tiktoken's
# MODEL_PREFIX_TO_ENCODING): the first prefix that matches, in this order, wins.
MODEL_PREFIX_TO_ENCODING: dict[str, str] = {
    # reasoning
    **dict.fromkeys(["o1-", "o3-", "o4-mini-"], "o200k_base"),
    # chat
    **dict.fromkeys(["gpt-5", "gpt-4.5-", "gpt-4.1-", "chatgpt-4o-", "gpt-4o-"], "o200k_base"),
    **dict.fromkeys(["gpt-4-", "gpt-3.5-turbo-", "gpt-35-turbo-"], "cl100k_base"),
    "gpt-oss-": "o200k_harmony",
    # fine-tuned
    "ft:gpt-4o": "o200k_base",
    **dict.fromkeys(["ft:gpt-4", "ft:gpt-3.5-turbo", "ft:davinci-002", "ft:babbage-002"],
                    "cl100k_base"),
}


def get_encoding(encoding_name: str) -> Tokenizer:
    """The bundled encoding `encoding_name`: "gpt2", "r50k_base" (the same vocabulary),
    "cl100k_base", "o200k_base" or "o200k_harmony" (`Tokenizer.from_pretrained`: built
    once per process and shared, offline). ValueError, as tiktoken's, for any other name:
    it lists the bundled ones and suggests the closest."""
    from bpe import pretrained
    from bpe.tokenizer import Tokenizer

    if encoding_name not in pretrained.NAMES and _is_model_name(encoding_name):
        raise ValueError(f"{encoding_name!r} is a model, not an encoding: "
                         f"bpe.encoding_for_model({encoding_name!r}) gives its encoding, "
                         f"{encoding_name_for_model(encoding_name)!r}")
    return Tokenizer.from_pretrained(encoding_name)


def list_encoding_names() -> list[str]:
    """The names get_encoding takes: the bundled encodings."""
    from bpe import pretrained

    return list(pretrained.NAMES)


def encoding_name_for_model(model_name: str) -> str:
    """The name of the encoding tiktoken gives the model `model_name`: by its exact name,
    else by the first known prefix of it ("gpt-4o-2024-05-13" -> "o200k_base"). The name
    may be of an encoding bpe does not bundle ("text-davinci-003" -> "p50k_base").
    KeyError, as tiktoken's, for a model neither table knows."""
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a str, got {type(model_name).__name__} "
                        f"{model_name!r}")
    name = MODEL_TO_ENCODING.get(model_name)
    if name is None:
        name = next((encoding for prefix, encoding in MODEL_PREFIX_TO_ENCODING.items()
                     if model_name.startswith(prefix)), None)
    if name is None:
        raise KeyError(_unknown_model(model_name))
    return name


def encoding_for_model(model_name: str) -> Tokenizer:
    """The encoding of the model `model_name` (see encoding_name_for_model), as
    get_encoding gives it. KeyError for an unknown model; ValueError for a model whose
    encoding bpe does not bundle."""
    from bpe import pretrained

    name = encoding_name_for_model(model_name)
    if name not in pretrained.NAMES:
        raise ValueError(f"model {model_name!r} uses the encoding {name!r}, which bpe does not "
                         f"bundle (the bundled ones are {', '.join(pretrained.NAMES)}); load it "
                         f"with tiktoken.encoding_for_model({model_name!r}) and pass it to "
                         f"bpe.Tokenizer.from_tiktoken")
    return get_encoding(name)


def _is_model_name(name: object) -> bool:
    return isinstance(name, str) and (
        name in MODEL_TO_ENCODING or any(name.startswith(p) for p in MODEL_PREFIX_TO_ENCODING))


def _unknown_model(model_name: str) -> str:
    import difflib

    from bpe import pretrained

    close = difflib.get_close_matches(model_name, MODEL_TO_ENCODING, n=3)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return (f"no encoding is known for the model {model_name!r}.{hint} Known models: "
            f"{', '.join(MODEL_TO_ENCODING)}; and names starting with "
            f"{', '.join(MODEL_PREFIX_TO_ENCODING)}. For an encoding by its own name, use "
            f"bpe.get_encoding (one of {', '.join(pretrained.NAMES)})")
