"""The tiktoken-style API of Tokenizer: allowed/disallowed special tokens, encode_ordinary,
encode_batch, decode_single_token_bytes, eot_token, pickling, to/from tiktoken; each checked
against tiktoken itself (built offline) or against plain encode."""
import gc
import os
import pickle
import select
import signal
import weakref

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe

from .conftest import in_child_while_held, official_tiktoken, repo_file
from .strategies import documents, texts, tiktoken_texts

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>"]
with_specials = st.lists(st.one_of(tiktoken_texts, st.sampled_from(SPECIALS)),
                         max_size=6).map("".join)


@pytest.fixture(scope="module")
def cl100k():
    return bpe.Tokenizer.from_pretrained("cl100k_base"), official_tiktoken("cl100k_base")


@pytest.fixture(scope="module")
def trained():
    vocab, merges = bpe.train_bpe(repo_file("cs336/corpus.en"), 600, ["<|endoftext|>"])
    return bpe.Tokenizer(vocab, merges, special_tokens=["<|endoftext|>"])


def outcome(encode, text, **kwargs):
    try:
        return encode(text, **kwargs)
    except ValueError as e:
        return ("ValueError", str(e))


# (No arguments: from_pretrained's tokenizers follow tiktoken's default; a tokenizer made
# from a vocabulary follows CS336's, see test_special_token_rules.)
ARGUMENTS = [
    {},
    {"allowed_special": "all"}, {"allowed_special": set()}, {"allowed_special": {"<|endoftext|>"}},
    {"disallowed_special": ()}, {"disallowed_special": "all"},
    {"disallowed_special": {"<|fim_prefix|>"}},
    {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()},
    {"allowed_special": "all", "disallowed_special": {"<|endoftext|>"}},
    {"allowed_special": {"<|endoftext|>", "not a special token"}},
]


def argument_id(kwargs: dict) -> str:
    """A test id that does not depend on a set's order (which changes with the hash seed,
    and so between the workers of pytest -n)."""
    return str({k: sorted(v) if isinstance(v, set) else v for k, v in kwargs.items()})


@pytest.mark.parametrize("kwargs", ARGUMENTS, ids=argument_id)
@given(text=with_specials)
@settings(max_examples=50)
def test_special_token_arguments_like_tiktoken(cl100k, kwargs, text):
    tok, enc = cl100k
    assert outcome(tok.encode, text, **kwargs) == outcome(enc.encode, text, **kwargs)
    expected = outcome(enc.encode, text, **kwargs)
    got = outcome(tok.encode_to_numpy, text, **kwargs)
    assert (got if isinstance(got, tuple) else got.tolist()) == expected


def test_disallowed_message_word_for_word(cl100k):
    tok, enc = cl100k
    text = "a <|endofprompt|> b"
    with pytest.raises(ValueError) as ours:
        tok.encode(text, allowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError) as theirs:
        enc.encode(text, allowed_special={"<|endoftext|>"})
    assert str(ours.value) == str(theirs.value)
    assert "disallowed special token '<|endofprompt|>'" in str(ours.value)


def test_special_token_rules(cl100k, trained):
    """from_pretrained and from_tiktoken: tiktoken's default (special text raises, with its
    message); a tokenizer made from a vocabulary: CS336's (special text is the token)."""
    tok, enc = cl100k
    text = "x<|endoftext|>y<|fim_prefix|>"
    for ours in [tok, bpe.Tokenizer.from_tiktoken(enc)]:
        assert outcome(ours.encode, text) == outcome(enc.encode, text)
        assert outcome(ours.encode, text)[0] == "ValueError"
        assert outcome(ours.encode_to_numpy, text) == outcome(enc.encode, text)
        assert outcome(ours.encode_batch, [text]) == outcome(enc.encode_batch, [text])
        assert ours.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
        assert ours.encode(text, disallowed_special=()) == enc.encode(text, disallowed_special=())
        assert pickle.loads(pickle.dumps(ours))._tiktoken_rule
    cs336 = trained.encode("a<|endoftext|>b")
    assert trained.special_ids["<|endoftext|>"] in cs336
    assert trained.encode_batch(["a<|endoftext|>b"]) == [cs336]
    with pytest.raises(ValueError, match="disallowed special token"):
        trained.encode("a<|endoftext|>b", allowed_special=set())


@given(text=with_specials)
def test_encode_ordinary_like_tiktoken(cl100k, text):
    tok, enc = cl100k
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


@given(ids=st.lists(st.integers(0, 100_276), max_size=20))
def test_decode_token_bytes_like_tiktoken(cl100k, ids):
    tok, enc = cl100k
    ids = [i for i in ids if i < 100261 or i in tok.special_ids.values()]
    assert tok.decode_tokens_bytes(ids) == enc.decode_tokens_bytes(ids)
    assert ([tok.decode_single_token_bytes(i) for i in ids]
            == [enc.decode_single_token_bytes(i) for i in ids])


@pytest.mark.parametrize("bad", [100261, -1, 10**30])
def test_decode_single_token_unknown(cl100k, bad):
    with pytest.raises(KeyError, match="not in the vocabulary"):
        cl100k[0].decode_single_token_bytes(bad)


def test_views(cl100k):
    tok, enc = cl100k
    assert ((tok.n_vocab, tok.eot_token, tok.special_tokens_set)
            == (enc.n_vocab, enc.eot_token, enc.special_tokens_set))


def test_eot_token_missing():
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)}, [], special_tokens=["<s>"])
    with pytest.raises(KeyError, match=r"'<\|endoftext\|>' is not one of"):
        _ = tok.eot_token


@pytest.mark.parametrize("threads", [1, 2, 8])
@given(batch=st.lists(st.one_of(texts, with_specials), max_size=12),
       assigned=st.lists(with_specials, max_size=12))
@settings(max_examples=30)
def test_encode_batch_equals_encode(cl100k, threads, batch, assigned):
    tok, enc = cl100k
    assert (tok.encode_batch(batch, num_threads=threads, allowed_special="all")
            == [tok.encode(t, allowed_special="all") for t in batch])
    assert (tok.encode_batch(assigned, num_threads=threads, disallowed_special=())
            == enc.encode_batch(assigned, num_threads=threads, disallowed_special=()))


def test_encode_batch_many_texts_and_errors(cl100k):
    tok, enc = cl100k
    text = repo_file("cs336/tinystories_sample.txt").read_text(encoding="utf-8")
    batch = [text[i : i + 97] for i in range(0, len(text), 97)] * 20
    assert (tok.encode_batch(batch, num_threads=2, allowed_special="all")
            == enc.encode_batch(batch, allowed_special="all"))
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode_batch(["fine", "<|endoftext|>"], num_threads=2, allowed_special=())
    with pytest.raises(ValueError, match="num_threads must be a positive int"):
        tok.encode_batch(["x"], num_threads=0)
    with pytest.raises(TypeError, match="encode expects str, got bytes"):
        tok.encode_batch(["x", b"y"], num_threads=2)


def test_batch_arguments_of_the_wrong_kind(cl100k):
    """A str where a batch belongs was encoded character by character; a bool was taken as
    a thread count; a non-collection allowed_special failed inside Python's set()."""
    cl100k, _ = cl100k
    with pytest.raises(TypeError, match="encode_batch expects a list of str, got the str"):
        cl100k.encode_batch("hello")
    with pytest.raises(TypeError, match="encode_batch expects a list of str"):
        cl100k.encode_ordinary_batch("hello")
    for threads in (True, 0, 1.5):
        with pytest.raises(ValueError, match="num_threads must be a positive int"):
            cl100k.encode_batch(["a"], num_threads=threads)
    for value in (5, {5}, [b"<|endoftext|>"]):
        with pytest.raises(TypeError, match=r"allowed_special must be .all. or a collection"):
            cl100k.encode("x", allowed_special=value)
        with pytest.raises(TypeError, match=r"disallowed_special must be .all. or a collection"):
            cl100k.encode("x", disallowed_special=value)


def test_decode_arguments_of_the_wrong_kind(cl100k):
    """bytes decoded as byte values, a set in hash order, True as id 1, errors=None or an
    unknown handler passed until a bad byte needed it: each is now a TypeError or a
    LookupError that names it."""
    import numpy as np

    tok, _ = cl100k
    for ids in (b"ab", bytearray(b"ab"), "ab", {1, 2}, frozenset([1]), {1: 2}, 5, None):
        kind = type(ids).__name__
        with pytest.raises(TypeError, match=f"ids must be a sequence of ints.*{kind}"):
            tok.decode(ids)
        with pytest.raises(TypeError, match="ids must be a sequence of ints"):
            tok.decode_bytes(ids)
    for ids in ([True, 2], [2, False], (True,), [np.int64(3), np.True_], np.array([True])):
        with pytest.raises(TypeError, match="ids must be"):
            tok.decode(ids)
    for token in (True, 15339.0, "1", None):
        with pytest.raises(TypeError, match=f"token id {token!r} is a .*; expected an int"):
            tok.decode_single_token_bytes(token)
        with pytest.raises(TypeError, match="expected an int"):
            tok.decode_tokens_bytes([1, token])
        with pytest.raises(TypeError, match="expected an int"):
            tok.decode_with_offsets([token])
    assert tok.decode_single_token_bytes(np.int64(15339)) == b"hello"
    for errors in (None, 5, b"strict"):
        with pytest.raises(TypeError, match=r"errors=.*expected the name of an error handler"):
            tok.decode([1], errors=errors)
    with pytest.raises(LookupError, match="errors='bogus' is not a registered error handler"):
        tok.decode([1], errors="bogus")
    with pytest.raises(LookupError, match="bogus"):
        tok.decode_batch([[1]], errors="bogus")
    assert tok.decode(range(3)) == tok.decode([0, 1, 2]) == tok.decode(i for i in range(3))
    assert tok.decode([1], errors="surrogatepass") == tok.decode([1])


@pytest.mark.parametrize("threads", [1, 2])
def test_encode_batch_surrogates_like_tiktoken(cl100k, threads):
    """Texts with lone surrogates leave the batch kernel for encode's own path, in place."""
    tok, enc = cl100k
    batch = ["a\ud800b", "plain", "\ud83d\ude00 x", "", "x\udfff" * 3, "é中😀"] * 3
    assert tok.encode_batch(batch, num_threads=threads) == [enc.encode(t) for t in batch]


def test_encode_batch_custom_pattern():
    """A pattern with no native matcher takes the regex path, text by text."""
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"ab"}
    tok = bpe.Tokenizer(vocab, [(b"a", b"b")], special_tokens=["<s>"],
                        pattern=regex.compile(r"\w+|\W"))
    batch = ["ab ab<s>", "xab", "", "ab\ud800"]
    assert tok.encode_batch(batch, num_threads=2) == [tok.encode(t) for t in batch]
    assert tok.encode_batch(batch)[0] == [256, 32, 256, 257]


@pytest.mark.parametrize("threads", [1, 2])
def test_encode_batch_lists_are_tracked_by_the_collector(cl100k, threads):
    """The batch kernel makes its lists untracked by the garbage collector, which collects
    all the time here (a threshold of 1): each list must still be right, and be tracked
    when returned, so that a cycle through one is collected."""
    tok, _ = cl100k
    batch = ["hello world", "", "é中😀 x<|endoftext|>y", "a\ud800b", "word " * 50] * 40
    expected = [tok.encode(t, allowed_special="all") for t in batch]
    threshold = gc.get_threshold()
    gc.set_threshold(1)
    try:
        result = tok.encode_batch(batch, num_threads=threads, allowed_special="all")
    finally:
        gc.set_threshold(*threshold)
    assert result == expected
    assert all(gc.is_tracked(ids) for ids in result)

    class Holder:
        pass

    holder = Holder()
    holder.ids = result[0]
    result[0].append(holder)                    # holder -> list -> holder
    gone = weakref.ref(holder)
    del holder, result
    gc.collect()
    assert gone() is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_encode_batch_in_a_forked_child():
    """encode_batch keeps its pool of threads for the next call. A child forked after a
    call has none of the pool's threads: it must make its own, not wait on threads that
    are not there."""
    tok = bpe.Tokenizer.from_pretrained("gpt2")
    batch = ["hello world", "a b c", "é中😀"] * 10
    expected = tok.encode_batch(batch, num_threads=2)      # the parent's pool exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                            # the child: answer, then leave
        try:
            os.write(write, b"1" if tok.encode_batch(batch, num_threads=2) == expected else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answered, _, _ = select.select([read], [], [], 30)
    if not answered:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answered, "the forked child's encode_batch hung"
    assert os.read(read, 1) == b"1"
    os.close(read)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_loads_while_a_parent_thread_held_the_pretrained_lock():
    """A thread building a pretrained tokenizer holds the lock when another forks: the
    child has no such thread, so its from_pretrained must not wait for it."""
    from bpe import tokenizer

    def work():
        tok = bpe.Tokenizer.from_pretrained("gpt2")
        return b"1" if tok.encode("hello world") == [31373, 995] else b"0"

    assert in_child_while_held(tokenizer._PRETRAINED_LOCK, work, timeout=20) == b"1"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_encodes_while_a_parent_thread_held_the_slots_lock():
    """A tokenizer's lock around making its piece slots, held by a parent's thread at the
    fork, is free in the child."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {256: b"ab"}, [(b"a", b"b")])
    assert in_child_while_held(tok._slots_lock, lambda: repr(tok.encode("abc")).encode(),
                               timeout=20) == b"[256, 99]"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.skipif(not hasattr(bpe.Tokenizer.__dict__["_ints"], "lock"),
                    reason="cached_property holds a lock on Python < 3.12 only")
def test_forked_child_encodes_while_a_parent_thread_filled_a_cached_property():
    """Python 3.11's cached_property holds a class-wide lock while it computes (encode's
    pinned ints, say): a child forked meanwhile must not wait for it."""
    tok = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {256: b"ab"}, [(b"a", b"b")])
    lock = bpe.Tokenizer.__dict__["_ints"].lock
    assert in_child_while_held(lock, lambda: repr(tok.encode("abc")).encode(),
                               timeout=20) == b"[256, 99]"


def test_special_tokens_with_explicit_ids():
    vocab = {i: bytes([i]) for i in range(256)}
    tok = bpe.Tokenizer(vocab, [], special_tokens={"<a>": 1000, "<b>": 300})
    assert tok.encode("<b>x<a>") == [300, ord("x"), 1000]
    assert tok.n_vocab == 1001 and tok.decode([1000, 300]) == "<a><b>"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        tok.decode_single_token_bytes(500)
    with pytest.raises(ValueError,
                       match="special token '<a>' has id 65, which the vocabulary gives to b'A'"):
        bpe.Tokenizer(vocab, [], special_tokens={"<a>": 65})
    shared = bpe.Tokenizer(vocab, [], special_tokens={"<a>": 300, "<b>": 300})   # as tiktoken
    assert shared.encode("<b><a>") == [300, 300] and shared.decode([300]) == "<a>"
    with pytest.raises(ValueError, match="has id -1"):
        bpe.Tokenizer(vocab, [], special_tokens={"<a>": -1})


@given(doc=documents())
@settings(max_examples=50)
def test_pickle_round_trip(doc):
    text, specials = doc
    vocab, merges = bpe.train_bpe(repo_file("cs336/tinystories_sample.txt"), 300, specials)
    tok = bpe.Tokenizer(vocab, merges, special_tokens=specials)
    again = pickle.loads(pickle.dumps(tok))
    assert again.encode(text) == tok.encode(text)
    assert ((again.vocab, again.merges, again.special_ids)
            == (tok.vocab, tok.merges, tok.special_ids))


@given(text=with_specials)
def test_to_tiktoken_encodes_alike(trained, text):
    enc = trained.to_tiktoken()
    assert enc.encode(text, allowed_special="all") == trained.encode(text)
    assert enc.decode(trained.encode(text)) == text


def test_from_tiktoken_round_trip(cl100k):
    _, enc = cl100k
    back = bpe.Tokenizer.from_tiktoken(enc)
    assert ((back.pattern, back.special_ids, back.name)
            == ("cl100k", enc._special_tokens, "cl100k_base"))
    text = repo_file("cs336/german.txt").read_text(encoding="utf-8")
    assert back.encode(text) == enc.encode(text, allowed_special="all")
    assert bpe.Tokenizer.from_tiktoken(back.to_tiktoken()).merges == back.merges


def test_from_tiktoken_keeps_tokens_merges_cannot_make_whole():
    """tiktoken returns a piece that is a token whole; a token that merging its bytes never
    makes ("abc" with neither "ab" nor "bc") is kept whole by the merge table
    (ignore_merges), so the ids are tiktoken's; through a pickle and a saved folder too."""
    import tiktoken

    bytes_ranks = {bytes([i]): i for i in range(256)}
    for ranks, wholes in [({b"abc": 256}, 1), ({b"ab": 256, b"abc": 257}, 0),
                          ({b"ab": 256, b"abcd": 257, b"cd": 258}, 0),
                          ({b"ab": 256, b"abcd": 257}, 1)]:
        encoding = tiktoken.Encoding("y", pat_str=bpe.GPT2_PATTERN, special_tokens={},
                                     mergeable_ranks=bytes_ranks | ranks)
        tok = bpe.Tokenizer.from_tiktoken(encoding)
        assert tok._table.n_wholes == wholes
        for text in ["abc", "ab abcabc", "cab bca", "abcd abcdabcd cd"]:
            assert tok.encode(text) == encoding.encode(text), text
            assert pickle.loads(pickle.dumps(tok)).encode(text) == encoding.encode(text)
    assert tok.encode("abcd") == [257]                  # whole, though no merge makes it
    assert tok.to_tiktoken().encode("abcd") == [257]


def test_ignore_merges_through_save_and_load(tmp_path):
    vocab = {i: bytes([i]) for i in range(256)} | {256: b"ab", 257: b"abcd"}
    tok = bpe.Tokenizer(vocab, [(b"a", b"b")], ignore_merges=True)
    assert tok.encode("abcd abcd") == [257, 32, 256, 99, 100]
    tok.save(tmp_path)
    back = bpe.Tokenizer.load(tmp_path)
    assert back.encode("abcd abcd") == tok.encode("abcd abcd")
    assert bpe.Tokenizer(vocab, [(b"a", b"b")]).encode("abcd") == [256, 99, 100]
    with pytest.raises(TypeError, match="ignore_merges must be True or False"):
        bpe.Tokenizer(vocab, [], ignore_merges=1)


def test_bundled_vocabularies_need_no_whole_tokens():
    """Every token of GPT-2's, cl100k's and o200k's vocabularies is what merging its bytes
    gives: from_pretrained's tokenizers follow tiktoken's rule without whole tokens."""
    for name in ("gpt2", "cl100k_base", "o200k_base"):
        tok = bpe.Tokenizer.from_pretrained(name)
        again = bpe.Tokenizer(tok.vocab, tok.merges, dict(tok.special_ids), tok.pattern,
                              ignore_merges=True)
        assert again._table.n_wholes == 0, name


def test_from_tiktoken_r50k_pattern_is_native():
    tok = bpe.Tokenizer.from_tiktoken(official_tiktoken("r50k_base"))
    assert tok.pattern == "gpt2"


def test_str_subclasses_are_text(cl100k):
    """numpy.str_ and other str subclasses encode as their value (not their __str__)."""
    import numpy as np

    tok, enc = cl100k

    class Text(str):
        def __str__(self):
            return "not the text"

    for text in [np.str_("héllo wörld"), Text("héllo wörld")]:
        expected = enc.encode("héllo wörld")
        assert tok.encode(text) == tok.encode_ordinary(text) == expected
        assert tok.encode_to_numpy(text).tolist() == expected
        assert tok.encode_batch([text, "x"], num_threads=2) == [expected, enc.encode("x")]
        assert list(tok.encode_iterable([text])) == expected
    assert tok.encode_batch(np.array(["a b", "c"])) == enc.encode_batch(["a b", "c"])
