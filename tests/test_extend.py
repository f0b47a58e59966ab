"""Continued training (train(..., base=)): the reference on random bases and texts, training
to N then extending to M against training to M, bases from GPT-2's and tiktoken's files,
the id layouts, saving, bad arguments."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe

from . import reference
from .conftest import repo_file
from .strategies import documents, small_texts, specials, texts, tiktoken_texts

EOT = "<|endoftext|>"


def extend(docs, vocab_size, special_tokens=None, **kwargs):
    return bpe.train_from_iterator(docs, vocab_size, special_tokens, progress=False, **kwargs)


def layout(tok):
    return tok.vocab, tok.merges, tok.special_ids


def replay(parts: list[bytes], merges) -> list[bytes]:
    """Each merge applied in turn, left to right (as training rewrites a word)."""
    for pair in merges:
        parts = list(reference.merge(tuple(parts), pair))
    return parts


def pieces(text: str, special_tokens, pattern=reference.GPT2_PATTERN):
    return [piece for segment, is_special in reference.split_special(text, special_tokens)
            if not is_special for piece in reference.pretokenize(segment, pattern)]


def base_unchanged(base, ext):
    """Every id, token and merge of base is ext's too."""
    assert all(ext.vocab[i] == token for i, token in base.vocab.items())
    assert ext.merges[:len(base.merges)] == base.merges
    assert {t: ext.special_ids[t] for t in base.special_ids} == base.special_ids


# --- the reference ------------------------------------------------------------------------

@given(documents(), documents(), st.integers(0, 30), st.integers(0, 40), st.integers(0, 4),
       st.none() | st.integers(1, 6))
@settings(max_examples=150)
def test_the_trainer_limits_over_a_base(base_doc, doc, base_merges, n_merges, min_frequency,
                                        max_token_length):
    """min_frequency and max_token_length apply to the new merges as to training's."""
    base_text, base_specials = base_doc
    text, _ = doc
    base = extend([base_text], 256 + len(base_specials) + base_merges, base_specials)
    ext = extend([text], base.n_vocab + n_merges, base=base, min_frequency=min_frequency,
                 max_token_length=max_token_length)
    new = ext.merges[len(base.merges):]
    assert new == reference.extend(text, base.vocab, base.merges, base.special_tokens,
                                   n_merges, min_frequency=min_frequency,
                                   max_token_length=max_token_length)
    assert max_token_length is None or all(len(a + b) <= max_token_length for a, b in new)
    base_unchanged(base, ext)


@given(documents(), documents(), specials, st.integers(0, 40), st.integers(0, 60))
@settings(max_examples=300)
def test_equals_reference(base_doc, doc, new_specials, base_merges, n_merges):
    """A base trained on one text, extended on another (with new special tokens): the new
    merges are the reference's, with ids after the base's largest, each a token of its own;
    encode equals the reference encoder, and each piece of the text encodes as the base
    encodes it followed by the new merges in turn (what the merge loop saw)."""
    base_text, base_specials = base_doc
    text, doc_specials = doc
    base = extend([base_text], 256 + len(base_specials) + base_merges, base_specials)
    given_specials = list(dict.fromkeys(doc_specials + new_specials))
    all_specials = [*base.special_tokens, *(t for t in given_specials if t not in base.special_ids)]
    new_ids = [t for t in all_specials[len(base.special_tokens):]
               if t.encode() not in base.vocab.values()]
    vocab_size = len(base.vocab) + len(new_ids) + n_merges
    ext = extend([text], vocab_size, given_specials, base=base)

    new = ext.merges[len(base.merges):]
    assert new == reference.extend(text, base.vocab, base.merges, all_specials, n_merges)
    base_unchanged(base, ext)
    assert [ext.vocab[base.n_vocab + k] for k in range(len(new))] == [a + b for a, b in new]
    ordinary = [token for i, token in ext.vocab.items() if i not in ext.special_ids.values()]
    assert len(set(ordinary)) == len(ordinary)
    assert ext.special_tokens == all_specials
    after = base.n_vocab + len(new)
    assert [ext.special_ids[t] for t in new_ids] == list(range(after, after + len(new_ids)))
    assert len(ext.vocab) == vocab_size or len(new) < n_merges
    for sample in (text, base_text):
        assert ext.encode(sample) == reference.encode(sample, ext.vocab, ext.merges, all_specials)
    ranks = reference.merge_ranks(base.merges)
    for piece in pieces(text, all_specials):
        expected = replay(reference.encode_piece(piece.encode(), ranks), new)
        assert ext.decode_tokens_bytes(ext.encode_single_piece(piece)) == expected


@st.composite
def merge_lists(draw):
    """A Tokenizer of random merges over "ab", as GPT-2's merges.txt may hold them: with
    tokens made by one path that their bytes alone do not take (for "aba", (a, ba) while
    "aba" alone merges (a, b) first), where a pair of a text's base encoding would make a
    token again (about one text in ten)."""
    vocab = {i: bytes([i]) for i in range(256)}
    tokens, merges = [b"a", b"b"], []
    for _ in range(draw(st.integers(0, 24))):
        a, b = draw(st.sampled_from(tokens)), draw(st.sampled_from(tokens))
        if a + b not in tokens:
            merges.append((a, b))
            tokens.append(a + b)
            vocab[len(vocab)] = a + b
    return bpe.Tokenizer(vocab, merges)


ab_words = st.lists(st.text(st.sampled_from("ab"), min_size=1, max_size=16), max_size=8)


@given(merge_lists(), ab_words.map(" ".join), st.integers(0, 30))
@settings(max_examples=300)
def test_any_merge_list_equals_reference(base, text, n_merges):
    ext = extend([text], len(base.vocab) + n_merges, base=base)
    new = ext.merges[len(base.merges):]
    assert new == reference.extend(text, base.vocab, base.merges, [], n_merges)
    base_unchanged(base, ext)
    assert len(set(ext.vocab.values())) == len(ext.vocab)
    assert ext.encode(text) == reference.encode(text, ext.vocab, ext.merges, [])
    ranks = reference.merge_ranks(base.merges)
    for piece in pieces(text, []):
        expected = replay(reference.encode_piece(piece.encode(), ranks), new)
        assert ext.decode_tokens_bytes(ext.encode_single_piece(piece)) == expected


@given(documents(), st.integers(0, 40), st.integers(0, 40))
def test_train_then_extend_equals_training_directly(doc, n, more):
    """Training to N, then extending to N + more on the same text: the merges of training
    to N + more; with specials_last, its very vocabulary and ids."""
    text, tokens = doc
    n_vocab = 256 + len([t for t in tokens if len(t.encode()) > 1]) + n
    base = extend([text], n_vocab, tokens)
    direct = extend([text], n_vocab + more, tokens)
    assert layout(extend([text], n_vocab + more, base=base, specials_last=True)) == layout(direct)
    ext = extend([text], n_vocab + more, base=base)
    assert ext.merges == direct.merges
    base_unchanged(base, ext)
    assert sorted(ext.vocab.values()) == sorted(direct.vocab.values())


def test_train_then_extend_on_files(tmp_path):
    """train() on a file, with the CS336 corpus, and train_bpe, which takes base too."""
    path = repo_file("cs336/corpus.en")
    base = bpe.train(path, 300, [EOT], workers=1, progress=False)
    ext = bpe.train(path, 500, base=base, specials_last=True, workers=1, progress=False)
    assert (ext.vocab, ext.merges) == bpe.train_bpe(path, 500, [EOT])
    assert bpe.train_bpe(path, 500, base=base, specials_last=True) == (ext.vocab, ext.merges)


@given(st.lists(st.one_of(texts, small_texts), max_size=4))
def test_no_merges_gives_the_base(docs):
    """vocab_size of the base's size: the same vocabulary, merges and encodings."""
    base = extend(["low lower lowest newest widest <s> ab"], 290, ["<s>"])
    ext = extend(docs, len(base.vocab), base=base)
    assert layout(ext) == layout(base)
    for text in docs:
        assert ext.encode(text) == base.encode(text)


def test_new_special_tokens_take_ids_after_everything():
    base = extend(["hello world, hello there"], 262, [EOT])
    ext = extend(["hello<|im|>world <|im|>"], 270, ["<|im|>", "\n", "he", EOT], base=base)
    assert ext.special_tokens == [EOT, "<|im|>", "\n", "he"]
    # "\n" is its byte's token and "he" a merge's, as in training; EOT keeps its id
    last = base.n_vocab + len(ext.merges) - len(base.merges)
    he = base.encode_single_token("he")
    assert ext.special_ids == {EOT: 261, "<|im|>": last, "\n": 10, "he": he}
    assert ext.encode("<|im|>he\n") == [last, he, 10]


# --- tokenizers from files: GPT-2, tiktoken ranks, tokenizer.json ---------------------------

STORIES = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
CORPUS = repo_file("cs336/corpus.en").read_text(encoding="utf-8")[:40_000]


@pytest.fixture(scope="module", params=["gpt2", "cl100k_base"])
def extended(request):
    """A bundled vocabulary (byte tokens not at ids 0..255; cl100k_base from tiktoken's
    ranks, with gaps in its ids) extended by 300 merges, and its pattern as text."""
    base = bpe.get_encoding(request.param)
    ext = extend([CORPUS, STORIES], len(base.vocab) + 300, base=base)
    return base, ext, bpe.PATTERNS[base.pattern]


@pytest.fixture(scope="module")
def gpt2_extended():
    base = bpe.get_encoding("gpt2")
    return base, extend([CORPUS, STORIES], 50257 + 300, base=base)


def test_keeps_every_id(extended):
    base, ext, _ = extended
    base_unchanged(base, ext)
    assert len(ext.merges) == len(base.merges) + 300
    assert sorted(set(ext.vocab) - set(base.vocab)) == list(range(base.n_vocab,
                                                                  base.n_vocab + 300))
    new = [ext.vocab[i] for i in range(base.n_vocab, ext.n_vocab)]
    assert not set(new) & set(base.vocab.values())
    assert len(ext.encode(CORPUS)) < len(base.encode(CORPUS, allowed_special="all"))


@given(tiktoken_texts)
@settings(max_examples=100)
def test_encodes_as_the_base_then_the_new_merges(extended, text):
    """Each piece: the base's ids (equal to tiktoken's), then the new merges in turn; a
    piece no new merge touches keeps the base's ids."""
    base, ext, pattern = extended
    new = ext.merges[len(base.merges):]
    ids = []
    for piece in pieces(text, [], pattern):
        parts = base.decode_tokens_bytes(base.encode_single_piece(piece))
        merged = replay(parts, new)
        ids.extend(ext.encode_single_token(token) for token in merged)
        if merged == parts:
            assert ext.encode_single_piece(piece) == base.encode_single_piece(piece)
    assert ext.encode_ordinary(text) == ids
    assert ext.decode(ext.encode_ordinary(text)) == text


def test_equals_the_reference(extended):
    base, ext, pattern = extended
    text = EOT.join([CORPUS, STORIES])
    assert ext.merges[len(base.merges):] == reference.extend(text, base.vocab, base.merges,
                                                            base.special_tokens, 300, pattern)
    ranks, ids = reference.merge_ranks(ext.merges), {t: i for i, t in ext.vocab.items()}
    for piece in pieces(STORIES, [EOT], pattern):
        assert ext.encode_single_piece(piece) == [ids[t] for t in reference.encode_piece(
            piece.encode(), ranks)]


def test_gpt2_special_tokens(gpt2_extended):
    """The extended tokenizer is a trained one: special tokens in text are tokens (CS336's
    rule), whichever rule the base followed."""
    base, ext = gpt2_extended
    assert ext.encode(f"a{EOT}b") == base.encode(f"a{EOT}b", allowed_special="all")
    last = extend([CORPUS, STORIES], 50257 + 41, ["<|pad|>"], base=base, specials_last=True)
    assert last.special_ids == {EOT: 50256 + 40, "<|pad|>": 50257 + 40}
    first_left, first_right = last.merges[len(base.merges)]
    assert last.vocab[50256] == first_left + first_right
    assert last.merges[len(base.merges):] == ext.merges[len(base.merges):len(base.merges) + 40]


def test_zero_merges_on_gpt2_and_cl100k():
    for name in ("gpt2", "cl100k_base"):
        base = bpe.get_encoding(name)
        ext = extend([STORIES], len(base.vocab), base=base)
        assert layout(ext) == layout(base)
        assert ext.encode(STORIES) == base.encode(STORIES, allowed_special="all")


def test_specials_last_on_cl100k():
    """cl100k_base has no token 100256 and special tokens at 100257..100260 and 100276:
    with specials_last the new merges start at 100256 and the special tokens follow them,
    in their order."""
    base = bpe.get_encoding("cl100k_base")
    ext = extend([STORIES], len(base.vocab) + 5, base=base, specials_last=True)
    assert ext.special_ids == dict(zip(base.special_tokens, range(100261, 100266), strict=True))
    assert set(ext.vocab) == set(range(100266))
    assert [ext.vocab[i] for i in range(100256)] == [base.vocab[i] for i in range(100256)]


def test_a_different_path_to_a_base_token_is_not_merged():
    """GPT-2-style merges make "abc" as (ab, c), while "abc" alone encodes as [a][bc]: the
    pair (a, bc) would make "abc" a second time, so it is never merged, and the next best
    pair is."""
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"bc", 257: b"ab", 258: b"abc"}
    base = bpe.Tokenizer(vocab, [(b"b", b"c"), (b"a", b"b"), (b"ab", b"c")])
    assert base.encode("abc abc") == [97, 256, 32, 97, 256]
    ext = extend(["abc " * 10 + "abc"], 261, base=base)
    assert ext.merges[3:] == [(b" ", b"a"), (b" a", b"bc")] == reference.extend(
        "abc " * 10 + "abc", base.vocab, base.merges, [], 2)
    assert ext.encode("abc abc") == [97, 256, 260]


# --- saving ---------------------------------------------------------------------------------

@pytest.mark.parametrize("specials_last", [False, True])
def test_save_and_load(tmp_path, specials_last):
    base = extend([CORPUS], 400, [EOT, "\n"])
    ext = extend([STORIES], 450, ["<|im|>"], base=base, specials_last=specials_last)
    ext.save(tmp_path / "tok")
    ext.save_hf(tmp_path / "hf")
    for loaded in (bpe.Tokenizer.load(tmp_path / "tok"), bpe.Tokenizer.from_hf(tmp_path / "hf")):
        assert layout(loaded) == layout(ext)
        assert loaded.encode(STORIES + "<|im|>\n") == ext.encode(STORIES + "<|im|>\n")


def test_gpt2_extended_saves_and_extends_again(tmp_path, gpt2_extended):
    """Saved and loaded (and through tokenizer.json), the same tokenizer; a loaded one
    extended again on the same text is the one extended once by as many merges. GPT-2
    through tokenizer.json extends as GPT-2 does."""
    base, ext = gpt2_extended
    ext.save(tmp_path / "tok")
    loaded = bpe.Tokenizer.load(tmp_path / "tok")
    assert layout(loaded) == layout(ext)
    assert bpe.Tokenizer.from_hf(tmp_path / "tok").encode(CORPUS) == ext.encode(CORPUS)
    again = extend([CORPUS, STORIES], 50257 + 340, base=loaded)
    assert layout(again) == layout(extend([CORPUS, STORIES], 50257 + 340, base=base))
    base.save_hf(tmp_path / "gpt2")
    from_hf = extend([CORPUS, STORIES], 50257 + 300, base=bpe.Tokenizer.from_hf(tmp_path / "gpt2"))
    assert layout(from_hf) == layout(ext)


# --- bad arguments --------------------------------------------------------------------------

# --- a base read from a tokenizer.json ------------------------------------------------------

@pytest.fixture(scope="module")
def llama_style(tmp_path_factory):
    """A tokenizer.json shaped as Llama 3's, read with from_hf: ignore_merges over tokens that
    merging never makes (every fifth merge left out), special tokens after the vocabulary, a
    post-processor that puts <|begin_of_text|> first."""
    from tokenizers import Tokenizer, decoders, models, processors

    from bpe.formats import token_to_text

    from .test_hf import LLAMA3_REGEX, special, split_then_bytes

    trained = extend([CORPUS], 700)
    texts = {token_to_text(token): i for i, token in trained.vocab.items()}
    kept = [(token_to_text(a), token_to_text(b)) for k, (a, b) in enumerate(trained.merges)
            if k % 5]
    hf = Tokenizer(models.BPE(texts, kept, ignore_merges=True))
    hf.pre_tokenizer = split_then_bytes(LLAMA3_REGEX)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([special("<|begin_of_text|>"), special("<|end_of_text|>")])
    hf.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", len(texts))])
    folder = tmp_path_factory.mktemp("llama_style")
    hf.save(str(folder / "tokenizer.json"))
    return bpe.Tokenizer.from_hf(folder)


LLAMA_TEXTS = [STORIES[:3_000], CORPUS[-3_000:] + "<|end_of_text|>", "<|new|> words", ""]


def test_a_tokenizer_json_base_extended_by_nothing_encodes_as_it(llama_style):
    base = llama_style
    assert base.ignore_merges and base._table.n_wholes > 0 and base.pattern == "llama3"
    same = extend([STORIES], len(base.vocab), base=base)
    assert same.ignore_merges and layout(same) == layout(base)
    for text in LLAMA_TEXTS:
        for bos in (False, True):
            assert same.encode(text, add_special_tokens=bos) == base.encode(
                text, add_special_tokens=bos)


@pytest.mark.parametrize("specials_last", [False, True])
def test_a_tokenizer_json_base_extended_saves_for_hf(llama_style, tmp_path, specials_last):
    """The extended tokenizer keeps the base's steps, with its ids: saved for HF, HF encodes
    as it does, post-processor and new special token included; read back or saved and
    loaded, so does bpe."""
    import tokenizers

    base = llama_style
    ext = extend([STORIES], len(base.vocab) + 41, ["<|new|>"], base=base,
                 specials_last=specials_last)
    bos = ext.special_ids["<|begin_of_text|>"]
    assert (bos != base.special_ids["<|begin_of_text|>"]) == specials_last
    assert len(ext.merges) == len(base.merges) + 40 and ext.ignore_merges
    hf = tokenizers.Tokenizer.from_file(str(ext.save_hf(tmp_path)))
    again = bpe.Tokenizer.from_hf(tmp_path)
    ext.save(tmp_path / "saved")
    loaded = bpe.Tokenizer.load(tmp_path / "saved")
    for text in LLAMA_TEXTS:
        ids = ext.encode(text, add_special_tokens=True)
        assert ids[0] == bos and ext.special_ids["<|new|>"] in ext.encode("<|new|>")
        assert hf.encode(text).ids == ids == again.encode(text, add_special_tokens=True)
        assert loaded.encode(text, add_special_tokens=True) == ids
        assert ext.encode(text) == ids[1:] == hf.encode(text, add_special_tokens=False).ids


def test_a_tokenizer_json_that_normalizes_is_refused(tmp_path):
    from tokenizers import normalizers, pre_tokenizers

    from .test_hf import hf_trained

    hf = hf_trained(pre_tokenizers.ByteLevel(add_prefix_space=False),
                    normalizer=normalizers.NFC())
    hf.save(str(tmp_path / "tokenizer.json"))
    base = bpe.Tokenizer.from_hf(tmp_path)
    with pytest.raises(ValueError, match="normalizes or pre-tokenizes text in steps beyond "
                                         "its pattern"):
        extend(["x"], len(base.vocab) + 10, base=base)


def test_vocab_size_below_the_base():
    base = bpe.get_encoding("gpt2")
    with pytest.raises(ValueError, match=r"vocab_size=50000 is smaller than the base "
                                         r"tokenizer's 50257 tokens; the extended"):
        extend(["x"], 50000, base=base)
    with pytest.raises(ValueError, match=r"vocab_size=50258 is smaller than the base "
                                         r"tokenizer's 50257 tokens plus 2 new special tokens"):
        extend(["x"], 50258, ["<a>", "<b>"], base=base)


@pytest.mark.parametrize("base", ["gpt2", None.__class__, {"vocab": {}}])
def test_base_must_be_a_tokenizer(base):
    with pytest.raises(TypeError, match=r"base must be a bpe.Tokenizer \(Tokenizer.load\(folder\), "
                                        r"bpe.get_encoding\(name\)"):
        extend(["x"], 300, base=base)


def test_pattern_must_be_the_bases():
    base = bpe.get_encoding("gpt2")
    extend(["x"], 50257, pattern="r50k_base", base=base)     # the same pattern, by another name
    with pytest.raises(ValueError, match="pattern 'cl100k' is not the base tokenizer's 'gpt2'"):
        extend(["x"], 50300, pattern="cl100k", base=base)


def test_specials_last_needs_a_base():
    with pytest.raises(ValueError, match="specials_last=True moves a base tokenizer's special"):
        extend(["x"], 300, specials_last=True)
    with pytest.raises(TypeError, match="specials_last=1; expected True or False"):
        extend(["x"], 300, base=bpe.get_encoding("gpt2"), specials_last=1)


def test_arguments_checked_before_counting():
    def never():
        raise AssertionError("texts read before the arguments were checked")
        yield ""

    with pytest.raises(ValueError, match="vocab_size=10"):
        extend(never(), 10, base=bpe.get_encoding("gpt2"))


def test_count_tables(tmp_path):
    """A count table: counted with the base's pattern and special tokens, it extends as its
    text does; counted otherwise, it is refused."""
    base = extend([CORPUS], 300, [EOT])
    table = bpe.WordTable.from_counter(*_count(STORIES, "gpt2", [EOT, "<|im|>"]))
    from_table = bpe.train(table, 400, base=base, progress=False)
    assert layout(from_table) == layout(extend(STORIES.split(EOT), 400, ["<|im|>"], base=base))
    with pytest.raises(ValueError, match="counted with pattern 'cl100k', not the base"):
        bpe.train(bpe.WordTable.from_counter(*_count(STORIES, "cl100k", [EOT])), 400,
                  base=base, progress=False)
    with pytest.raises(ValueError, match=r"counted without the base tokenizer's special tokens "
                                         r"\['<\|endoftext\|>'\]"):
        bpe.train(bpe.WordTable.from_counter(*_count(STORIES, "gpt2", [])), 400, base=base,
                  progress=False)


def _count(text, pattern, tokens):
    from bpe.counting import count_texts
    from bpe.patterns import Pretokenizer

    counter, _ = count_texts([text], Pretokenizer(pattern, tokens))
    return counter, pattern, tokens
