"""BPE-dropout: the kernel's rule equals the oracle's draw for draw (tests/reference.py's
merge_dropout, Hugging Face's rule read literally); p = 0 is encode, p = 1 bytes; a seed
gives the same ids on any number of threads; the statistics match the `tokenizers`
package's own dropout."""
import json
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe
from bpe.dataset import encode_file
from bpe.dropout import mix

from . import reference
from .conftest import repo_file

EOT = "<|endoftext|>"
probabilities = st.one_of(st.sampled_from([0.0, 1.0, 0.1, 0.5]), st.floats(0.0, 1.0))
seeds = st.integers(0, 2**64 - 1)


@pytest.fixture(scope="module")
def trained() -> bpe.Tokenizer:
    return bpe.train(repo_file("cs336/corpus.en"), 600, [EOT], workers=1, progress=False)


@pytest.fixture(scope="module", params=["trained", "gpt2"])
def tok(request):
    return request.getfixturevalue(request.param)


@settings(max_examples=300, deadline=None)
@given(piece=st.one_of(st.text(max_size=30).map(lambda t: t.encode("utf-8", "replace")),
                       st.sampled_from([b" unrelated", b"hello", b" " * 40, b"aaaaaaaaab"])),
       p=probabilities, seed=seeds)
def test_the_kernel_is_the_oracle_draw_for_draw(tok, piece, p, seed):
    ranks = reference.merge_ranks(tok.merges)
    ids = {token: i for i, token in sorted(tok.vocab.items(), reverse=True)}
    parts, _ = reference.merge_dropout(piece, ranks, p, seed)
    assert tok._table.encode_piece_dropout(piece, p, seed) == [ids[part] for part in parts]


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200).map(lambda t: t.replace("\x00", "") + f" the{EOT}end"),
       p=probabilities, seed=seeds)
def test_encode_is_the_oracle(trained, text, p, seed):
    expected = reference.encode_dropout(text, trained.vocab, trained.merges, [EOT], p,
                                        mix(seed))
    assert trained.encode(text, dropout=p, seed=seed) == expected
    assert trained.encode_to_numpy(text, dropout=p, seed=seed).tolist() == expected


def test_a_custom_pattern_goes_through_the_pieces(trained):
    """A pattern without a native matcher encodes pieces from Python: the same rule."""
    import regex

    pattern = regex.compile(r"\w+|\s+|[^\w\s]+")
    tok = bpe.Tokenizer(trained.vocab, trained.merges, [EOT], pattern=pattern)
    text = "the quick brown fox, unrelated to lazy dogs " * 20
    got = tok.encode(text, dropout=0.4, seed=3)
    assert got == reference.encode_dropout(text, tok.vocab, tok.merges, [EOT], 0.4, mix(3),
                                           pattern.pattern)
    assert got != tok.encode(text)


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=300), p=probabilities, seed=st.none() | seeds)
def test_every_text_decodes_back(tok, text, p, seed):
    assert tok.decode(tok.encode(text, dropout=p, seed=seed, disallowed_special=())) == text


def test_zero_is_encode_and_one_is_bytes(tok):
    text = "Hello unrelated world, 123 times.\n\n  <|endoftext|> again"
    plain = tok.encode(text, allowed_special="all")
    assert tok.encode(text, allowed_special="all", dropout=0.0, seed=1) == plain
    byte_id = {token: i for i, token in tok.vocab.items() if len(token) == 1}
    pieces = reference.pretokenize(text.replace(EOT, ""))
    expected = [byte_id[bytes([b])] for piece in pieces[:-1] for b in piece.encode("utf-8")]
    expected += [tok.special_ids[EOT]] + [byte_id[bytes([b])] for b in b" again"]
    assert tok.encode(text, allowed_special="all", dropout=1.0) == expected
    assert tok.encode_batch([text] * 3, allowed_special="all", dropout=1.0) == [expected] * 3


def test_a_seed_gives_the_same_ids_on_any_number_of_threads(gpt2):
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8")[:20_000]
    once = gpt2.encode(text, dropout=0.2, seed=7)
    assert gpt2.encode(text, dropout=0.2, seed=7) == once
    assert gpt2.encode(text, dropout=0.2, seed=8) != once
    assert gpt2.encode(text, dropout=0.2) != gpt2.encode(text, dropout=0.2)   # None: random
    texts = [text[k:k + 500] for k in range(0, 10_000, 500)]
    batches = [gpt2.encode_batch(texts, dropout=0.2, seed=7, num_threads=n) for n in (1, 2, 4)]
    assert batches[0] == batches[1] == batches[2]
    assert len({tuple(ids) for ids in batches[0]}) == len(texts)
    assert all(gpt2.decode(ids) == t for ids, t in zip(batches[0], texts, strict=True))
    # the plain encode after dropout is plain again (the caches are not left dropping)
    assert gpt2.encode(text) == gpt2.encode_batch([text])[0] == gpt2.encode_ordinary(text)


def test_encode_file_on_any_number_of_workers(gpt2, tmp_path):
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8")
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    runs = [np.load(encode_file(gpt2, [tmp_path / "a.txt"], tmp_path / f"{n}.npy", workers=n,
                                chunk_bytes=3000, dropout=0.3, seed=5).ids) for n in (1, 2)]
    assert np.array_equal(runs[0], runs[1])
    assert gpt2.decode(runs[0].tolist()) == text
    assert len(runs[0]) > len(gpt2.encode(text, disallowed_special=())) * 1.2
    shards = [np.asarray(bpe.open_shards(gpt2.encode_file(
        [tmp_path / "a.txt"], tmp_path / f"s{n}", workers=n, shard_bytes=5000, dropout=0.3,
        seed=5).manifest)) for n in (1, 2)]
    assert np.array_equal(shards[0], shards[1]) and gpt2.decode(shards[0].tolist()) == text


def test_the_statistics_are_those_of_hugging_face(trained, tmp_path):
    """tokenizers' dropout draws from an unseeded generator, so the test compares
    statistics: the mean number of tokens of a text and how often a word stays whole,
    each within 5 standard errors (a false alarm about once in a million runs)."""
    tokenizers = pytest.importorskip("tokenizers")
    trained.save_hf(tmp_path)
    config = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    config["model"]["dropout"] = 0.25
    hf = tokenizers.Tokenizer.from_str(json.dumps(config))
    text = repo_file("cs336/corpus.en").read_text(encoding="utf-8")[:3000].replace(EOT, "")
    runs = 40
    ours = [len(trained.encode(text, dropout=0.25, seed=k)) for k in range(runs)]
    theirs = [len(hf.encode(text, add_special_tokens=False).ids) for _ in range(runs)]
    error = (statistics.variance(ours) / runs + statistics.variance(theirs) / runs) ** 0.5
    assert abs(statistics.mean(ours) - statistics.mean(theirs)) < 5 * error + 0.5
    plain = len(trained.encode(text))
    assert statistics.mean(ours) > plain * 1.1
    word = " that"
    whole = trained.encode(word)
    assert len(whole) == 1
    n = 2000
    ours_whole = sum(trained.encode(word, dropout=0.25, seed=k) == whole for k in range(n)) / n
    theirs_whole = sum(hf.encode(word, add_special_tokens=False).ids == whole
                       for _ in range(n)) / n
    error = ((ours_whole * (1 - ours_whole) + theirs_whole * (1 - theirs_whole)) / n) ** 0.5
    assert abs(ours_whole - theirs_whole) < 5 * error + 0.01
    assert 0.05 < ours_whole < 0.95


def test_bad_arguments(gpt2):
    for p in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"dropout=.*expected a probability in \[0, 1\]"):
            gpt2.encode("hi", dropout=p)
    for p in ("0.5", True):
        with pytest.raises(TypeError, match="expected a probability in"):
            gpt2.encode("hi", dropout=p)
    with pytest.raises(TypeError, match="seed='x'; expected an int"):
        gpt2.encode("hi", dropout=0.1, seed="x")
    with pytest.raises(ValueError, match="seed=3 without dropout"):
        gpt2.encode_batch(["hi"], seed=3)
    with pytest.raises(ValueError, match="expected a probability"):
        gpt2.encode_file([repo_file("cs336/corpus.en")], "never.npy", dropout=2.0)
