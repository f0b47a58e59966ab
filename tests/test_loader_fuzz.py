"""Fuzzing the loaders: every file a loader reads, mutated at random from a valid one (bytes
flipped, cut, inserted; lines duplicated, dropped, swapped; JSON values replaced by other
types, nested deep, keys duplicated), either loads and round-trips a probe text or raises
ValueError / TypeError naming the file. Never anything else: no KeyError, IndexError,
AttributeError, RecursionError, zipfile.BadZipFile, OverflowError, a long run or a crash.

Entry points: Tokenizer.from_files (vocab.json + merges.txt), Tokenizer.load (a folder
written by Tokenizer.save), Tokenizer.from_hf (tokenizer.json), formats.read_tiktoken_ranks
(a rank file, plain or gzipped, then the tokenizer its ranks give), WordTable.load (.npz),
and unpickling a tokenizer whose state (Tokenizer.__reduce__'s arguments) was mutated field
by field. Unpickling arbitrary bytes runs arbitrary code by design (a pickle is a program),
so pickles are only fuzzed through the state their reduce gives, as a pickle made by bpe
and damaged later carries it.

Ids written into files range over all of int32 and past it: an id far past the number of
tokens is refused (formats.check_id_spread) rather than costing memory in proportion to it.
Each loader runs LOADER_EXAMPLES examples (--hypothesis-show-statistics shows the outcomes).
"""
from __future__ import annotations

import gzip
import io
import json
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bpe
from bpe.formats import merges_from_ranks, read_tiktoken_ranks
from bpe.tokenizer import _unpickle
from bpe.wordtable import WordTable

LOADER_EXAMPLES = 200
fuzz = settings(max_examples=LOADER_EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PROBE = "hello world, the theory of 123 ünïcode 😀\n\t<|endoftext|>"
EOT = "<|endoftext|>"
CORPUS = ["hello world, the theory of the thing 123 123 ünïcode 😀 \n", "the other one"] * 3


@pytest.fixture(scope="module")
def tok() -> bpe.Tokenizer:
    return bpe.train_from_iterator(CORPUS, 300, special_tokens=[EOT], progress=False)


@pytest.fixture(scope="module")
def saved(tok, tmp_path_factory) -> dict[str, bytes]:
    """The files of the tiny tokenizer: Tokenizer.save's folder (vocab.json, merges.txt,
    bpe_config.json, tokenizer.json, ...), a rank file and a WordTable's .npz, as bytes."""
    folder = tmp_path_factory.mktemp("saved")
    tok.save(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    special = set(tok.special_ids.values())
    files["ranks.tiktoken"] = b"".join(
        __import__("base64").b64encode(token) + b" %d\n" % i
        for i, token in sorted(tok.vocab.items()) if i not in special)
    table = WordTable.from_counts({"hello": 3, " world": 2, "é": 1, "😀": 7}, pattern="gpt2",
                                  special_tokens=[EOT])
    table.save(folder / "counts.npz")
    files["counts.npz"] = (folder / "counts.npz").read_bytes()
    return files


# --- mutations ----------------------------------------------------------------------------

# Ids written into files: small ones, near the vocabulary's size, far past it, and past int32.
ids = st.one_of(st.integers(-3, 320), st.integers(0, 2**31 - 2),
                st.sampled_from([2**31 - 1, 2**31, 2**32 + 5, 2**63, 2**64, 10**30, -(2**63)]))
scalars = st.one_of(st.none(), st.booleans(), ids, st.floats(allow_nan=True),
                    st.text(max_size=6), st.sampled_from(["", " ", "Ġ", EOT, "gpt2", "cl100k"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


class Raw:
    """JSON text written as it is (deep nesting, a huge number, a bare NaN)."""

    def __init__(self, text: str):
        self.text = text


class Pairs:
    """A JSON object written from (key, value) pairs, so that a key can appear twice."""

    def __init__(self, pairs: list):
        self.pairs = pairs


raws = st.one_of(
    st.integers(900, 20_000).map(lambda n: Raw("[" * n + "]" * n)),
    st.integers(900, 20_000).map(lambda n: Raw('{"a":' * n + "1" + "}" * n)),
    st.integers(4_000, 6_000).map(lambda n: Raw("1" * n)),      # past int('...')'s digit limit
    st.sampled_from([Raw("NaN"), Raw("-Infinity"), Raw("1e400"), Raw("-0"), Raw("1E2"),
                     Raw("1.0"), Raw('"\\ud800"')]),
)


def dump(value) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return dump(Pairs(list(value.items())))
    if isinstance(value, list):
        return "[" + ", ".join(map(dump, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


@st.composite
def json_mutation(draw, data):
    """data (parsed JSON) with one to three of its nodes replaced, removed or duplicated."""
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate_node(draw, data, depth=0)
    return dump(data)


def _mutate_node(draw, node, depth: int):
    children = (list(node.pairs) if isinstance(node, Pairs) else list(node.items())
                if isinstance(node, dict) else list(enumerate(node))
                if isinstance(node, list) else [])
    if children and depth < 6 and draw(st.integers(0, 3)):
        index = draw(st.integers(0, len(children) - 1))
        key, child = children[index]
        children[index] = (key, _mutate_node(draw, child, depth + 1))
        return _rebuild(node, children)
    action = draw(st.sampled_from(["replace", "raw", "drop", "duplicate"] if children
                                  else ["replace", "raw"]))
    if action == "replace":
        return draw(json_values)
    if action == "raw":
        return draw(raws)
    index = draw(st.integers(0, len(children) - 1))
    if action == "drop":
        del children[index]
    else:
        key, value = children[index]
        children.insert(draw(st.integers(0, len(children))),
                        (key, draw(st.one_of(st.just(value), json_values))))
    return _rebuild(node, children, keep_duplicates=True)


def _rebuild(node, children, keep_duplicates: bool = False):
    if isinstance(node, list):
        return [value for _, value in children]
    return Pairs(children) if keep_duplicates or isinstance(node, Pairs) else dict(children)


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    """data with one to three of: a byte flipped, cut short, bytes inserted, a line
    duplicated, dropped or moved, a number replaced."""
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "duplicate", "drop", "move",
                                       "number"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        lines = data.split(b"\n")
        line = draw(st.integers(0, len(lines) - 1))
        if action == "flip" and data:
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif action == "cut":
            data = data[:at]
        elif action == "insert":
            inserted = draw(st.one_of(
                st.binary(min_size=1, max_size=8),
                st.sampled_from([b"\n", b" ", b"\r\n", b"\x00", b"\xff\xfe", b"true", b"-1",
                                 b"99999999999999999999", b"\xc3", b"#version: 0.2\n"])))
            data = data[:at] + inserted + data[at:]
        elif action == "duplicate":
            lines.insert(draw(st.integers(0, len(lines))), lines[line])
            data = b"\n".join(lines)
        elif action == "drop":
            del lines[line]
            data = b"\n".join(lines)
        elif action == "move":
            moved = lines.pop(line)
            lines.insert(draw(st.integers(0, len(lines))), moved)
            data = b"\n".join(lines)
        elif action == "number":
            digits = [i for i, b in enumerate(data) if 48 <= b <= 57]
            if digits:
                i = draw(st.sampled_from(digits))
                data = (data[:i] + str(draw(ids)).encode()
                        + data[i + 1:]) if draw(st.booleans()) else data[:i] + b"-" + data[i:]
    return data


def file_mutation(name: str, data: bytes):
    """A mutation of the file `name` (holding data): of its bytes, or of its JSON."""
    if name.endswith(".json"):
        parsed = json.loads(data)
        return st.one_of(byte_mutation(data),
                         json_mutation(parsed).map(lambda text: text.encode("utf-8")))
    return byte_mutation(data)


# --- what every load must do --------------------------------------------------------------

def loads_or_refuses(load, *names: str, round_trip: bool = True):
    """load() gives a tokenizer that round-trips PROBE (with round_trip; else one that
    encodes and decodes it without an error), or raises ValueError / TypeError whose
    message names one of `names` (the files). Returns the tokenizer or None."""
    try:
        loaded = load()
    except (ValueError, TypeError) as e:
        assert any(name in str(e) for name in names), f"{type(e).__name__} names no file: {e}"
        event(f"refused: {type(e).__name__}")
        return None
    ids = loaded.encode(PROBE, allowed_special="all")
    decoded = loaded.decode(ids)
    assert decoded == PROBE or not round_trip, (ids, decoded)
    event("loaded")
    return loaded


def _written(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).write_bytes(data)


# --- the loaders ----------------------------------------------------------------------------

@fuzz
@given(data=st.data())
def test_from_files(saved, data):
    name = data.draw(st.sampled_from(["vocab.json", "merges.txt"]))
    mutated = data.draw(file_mutation(name, saved[name]))
    with tempfile.TemporaryDirectory() as folder:
        paths = {n: Path(folder) / n for n in ("vocab.json", "merges.txt")}
        _written(Path(folder), {n: saved[n] for n in paths} | {name: mutated})
        loads_or_refuses(lambda: bpe.Tokenizer.from_files(
            paths["vocab.json"], paths["merges.txt"], special_tokens=[EOT]),
            str(paths["vocab.json"]), str(paths["merges.txt"]))


@fuzz
@given(data=st.data())
def test_load(saved, data):
    name = data.draw(st.sampled_from(["vocab.json", "merges.txt", "bpe_config.json"]))
    mutated = data.draw(file_mutation(name, saved[name]))
    with tempfile.TemporaryDirectory() as folder:
        _written(Path(folder), {n: saved[n] for n in ("vocab.json", "merges.txt",
                                                      "bpe_config.json")} | {name: mutated})
        loads_or_refuses(lambda: bpe.Tokenizer.load(folder), folder)


@fuzz
@given(data=st.data())
def test_from_hf(saved, data):
    mutated = data.draw(file_mutation("tokenizer.json", saved["tokenizer.json"]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_bytes(mutated)
        loads_or_refuses(lambda: bpe.Tokenizer.from_hf(path), str(path))


@fuzz
@given(data=st.data(), gzipped=st.booleans())
def test_read_tiktoken_ranks(saved, data, gzipped):
    mutated = data.draw(byte_mutation(saved["ranks.tiktoken"]))
    if gzipped:
        mutated = gzip.compress(mutated)
        if data.draw(st.booleans()):        # the compressed bytes damaged instead
            mutated = data.draw(byte_mutation(mutated))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("ranks.tiktoken.gz" if gzipped else "ranks.tiktoken")
        path.write_bytes(mutated)

        def load():
            ranks = read_tiktoken_ranks(path)
            try:
                vocab, merges = merges_from_ranks(ranks)
                return bpe.Tokenizer(vocab, merges, special_tokens=[EOT])
            except ValueError as e:     # a vocabulary no tokenizer has (a byte missing)
                raise ValueError(f"{path}: {e}") from None

        loads_or_refuses(load, str(path))


@fuzz
@given(data=st.data())
def test_wordtable_load(saved, data):
    original = saved["counts.npz"]
    kind = data.draw(st.sampled_from(["bytes", "arrays"]))
    if kind == "bytes":
        mutated = data.draw(byte_mutation(original))
    else:
        mutated = data.draw(npz_mutation(original))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "counts.npz"
        path.write_bytes(mutated)
        try:
            table = WordTable.load(path)
        except (ValueError, TypeError) as e:
            assert str(path) in str(e), e
            event(f"refused: {type(e).__name__}")
            return
        event("loaded")
        assert table.symbols.ndim == table.offsets.ndim == table.counts.ndim == 1
        assert (table.counts >= 0).all() and (table.symbols >= 0).all()
        assert (table.symbols <= 255).all()
        merged = WordTable.merge([table, table])
        assert merged.counts.sum() == 2 * table.counts.sum()
        trained = bpe.train(table, 262, pattern=None if table.pattern else "gpt2",
                            progress=False)
        assert trained.decode(trained.encode("hello world")) == "hello world"


_NPZ_ARRAYS = ["symbols", "offsets", "counts", "metadata"]


@st.composite
def npz_mutation(draw, original: bytes) -> bytes:
    """The .npz with one of its arrays replaced by another dtype, shape, or values, or
    dropped, or its metadata's JSON mutated."""
    with np.load(io.BytesIO(original)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = draw(st.sampled_from(_NPZ_ARRAYS))
    value = arrays[name]
    action = draw(st.sampled_from(["dtype", "2d", "values", "drop", "json", "empty", "scalar"]))
    if action == "dtype":
        dtype = draw(st.sampled_from(["int8", "uint8", "int16", "int32", "int64", "uint64",
                                      "float64", "bool", "U3", "complex64"]))
        try:
            arrays[name] = value.astype(dtype)
        except (ValueError, TypeError):
            arrays[name] = np.zeros(3, dtype=dtype)
    elif action == "2d":
        arrays[name] = np.stack([value, value]) if value.ndim else value.reshape(1, 1)
    elif action == "values" and value.ndim and value.size and value.dtype.kind in "iu":
        changed = value.copy()
        info = np.iinfo(value.dtype)
        at = draw(st.integers(0, len(changed) - 1))
        changed[at] = draw(st.one_of(st.integers(-3, 300), st.sampled_from(
            [info.min, info.max, 256, 2**31 - 1, -(2**31)])).filter(
                lambda v: info.min <= v <= info.max))
        arrays[name] = changed
    elif action == "drop":
        del arrays[name]
    elif action == "json" and name == "metadata":
        parsed = json.loads(str(value[()]))
        arrays[name] = np.array(draw(json_mutation(parsed)))
    elif action == "empty":
        arrays[name] = np.zeros(0, dtype=value.dtype)
    elif action == "scalar":
        arrays[name] = np.array(draw(st.sampled_from([0, 1, -1, "x"])))
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


# --- pickles ------------------------------------------------------------------------------

class _Pickled:
    """Pickles as _unpickle(*args), as a tokenizer does (see Tokenizer.__reduce__)."""

    def __init__(self, args: tuple):
        self.args = args

    def __reduce__(self):
        return _unpickle, self.args


odd_values = st.one_of(st.none(), st.booleans(), ids, st.floats(), st.text(max_size=4),
                       st.binary(max_size=8), st.lists(st.integers(0, 300), max_size=3),
                       st.builds(bytearray, st.binary(max_size=8)))


@st.composite
def state_mutation(draw, args: tuple) -> tuple:
    """Tokenizer.__reduce__'s arguments (tables state, special ids, pattern, name, rule,
    ignore_merges, Hugging Face steps) with one to three fields changed."""
    state, special_ids, pattern, name, rule, ignore_merges, hf = args
    state, special_ids = dict(state), dict(special_ids)
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(["tables", "tables", "tables", "special_ids", "pattern",
                                      "name", "rule", "ignore_merges", "hf"]))
        if field == "tables":
            key = draw(st.sampled_from([*state, "other"]))
            action = draw(st.sampled_from(["bytes", "type", "drop", "int32"]))
            if action == "bytes" and isinstance(state.get(key), bytes):
                state[key] = draw(byte_mutation(state[key]))
            elif (action == "int32" and isinstance(state.get(key), bytes)
                  and len(state[key]) >= 4 and not len(state[key]) % 4):
                values = np.frombuffer(state[key], dtype="<i4").copy()
                values[draw(st.integers(0, len(values) - 1))] = draw(st.one_of(
                    st.integers(-3, 320), st.sampled_from([2**31 - 1, -(2**31), 2**21 - 1])))
                state[key] = values.tobytes()
            elif action == "drop":
                state.pop(key, None)
            else:
                state[key] = draw(odd_values)
        elif field == "special_ids":
            key = draw(st.one_of(st.sampled_from([EOT, "", "e", "hello"]), st.none(), ids,
                                 st.binary(max_size=4), st.text(max_size=4)))
            if isinstance(special_ids, dict) and (draw(st.booleans()) or not special_ids):
                special_ids[key] = draw(odd_values)
            else:
                special_ids = draw(st.sampled_from([{}, [], None, "x", {EOT: None}]))
        elif field == "pattern":
            pattern = draw(st.one_of(odd_values, st.sampled_from(
                ["gpt2", "o200k", "nope", "(", r"\w+", "[", r"a|b"])))
        elif field == "name":
            name = draw(odd_values)
        elif field == "ignore_merges":
            ignore_merges = draw(odd_values)
        elif field == "hf":
            hf = draw(st.one_of(odd_values, st.tuples(odd_values, odd_values)))
        else:
            rule = draw(odd_values)
    return state, special_ids, pattern, name, rule, ignore_merges, hf


@fuzz
@given(data=st.data())
def test_unpickle_mutated_state(tok, data):
    _, args = tok.__reduce__()
    mutated = data.draw(state_mutation(args))
    payload = pickle.dumps(_Pickled(mutated))
    # A pickle is trusted (formats.check_pickled_fields): its tables get the checks cheap
    # enough for every load (sizes, ranges), not a merge-by-merge comparison of their bytes,
    # so a changed id that stays in range loads; it must still never crash or hang.
    loads_or_refuses(lambda: pickle.loads(payload), "", round_trip=False)


def test_mutations_change_something(saved):
    """The fuzzers' starting points load (the mutations are of valid files)."""
    with tempfile.TemporaryDirectory() as folder:
        _written(Path(folder), saved)
        assert bpe.Tokenizer.load(folder).decode(bpe.Tokenizer.load(folder).encode(PROBE)) == PROBE
        assert bpe.Tokenizer.from_hf(Path(folder) / "tokenizer.json").n_vocab == 298
        assert len(read_tiktoken_ranks(Path(folder) / "ranks.tiktoken")) == 297
        assert WordTable.load(Path(folder) / "counts.npz").n_words == 4
    assert zipfile.is_zipfile(io.BytesIO(saved["counts.npz"]))
