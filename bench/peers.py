"""Thin adapters over peer tokenizer libraries, so a benchmark can time them next to `bpe`.

Three tables of callables, each holding only the peers that are installed (every peer is
optional and imported inside the functions that use it):

    encoders(gpt2_dir)       name -> factory() -> encode(text) -> ids, GPT-2 loaded offline
                             from gpt2_dir/encoder.json and gpt2_dir/vocab.bpe; ordinary text,
                             no special tokens recognized.
    file_encoders(gpt2_dir)  name -> factory() -> encode_files(paths) -> number of tokens;
                             each file is cut into documents at "<|endoftext|>" (the separator
                             itself is not encoded).
    trainers()               name -> train(path, vocab_size, special_tokens) -> size of the
                             learned vocabulary; byte-level BPE with the GPT-2 pattern, end to
                             end (read file, pre-tokenize, count, merge).

decoders(gpt2_dir) (name -> factory() -> decode(ids) -> str) serves bench/compare.py;
gigatoken_merge_seconds(path, vocab_size) estimates gigatoken's merge phase alone.

ENCODER_NOTES and TRAINER_NOTES say, per peer, how it differs from tiktoken's ids or from
the CS336 training rule (most frequent pair, ties to the lexicographically greater
(bytes_a, bytes_b)) and how many threads it uses. Keys are the peer names ("<name>/files"
and "<name>/decode" for the other tables); peers left out of a table have a note saying
why. The observations were made on a 2-core machine with the first 2 MB (and 20 MB) of
the benchmark corpus.
No trainer here can follow the CS336 tie rule: at vocab 1000 on 2 MB all four learn the
same set of merges as `bpe`, but in a different order from merge 137 on (a tie), and at
larger vocabularies the sets drift apart as the different choices compound.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SEPARATOR = "<|endoftext|>"

ENCODER_NOTES: dict[str, str] = {
    "tiktoken": "Reference ids. Encoding.encode_ordinary, single thread.",
    "hf": "tokenizers BPE.from_file + ByteLevel(add_prefix_space=False). Calls "
          "encode_batch_fast([text]) (no offsets; ~1.7x faster than encode on 2 MB; one "
          "text -> one thread). Ids equal tiktoken's on 2 MB.",
    "gigatoken": "Tokenizer.from_json of a tokenizer.json built from the two GPT-2 files. "
                 "Returns a numpy uint32 array. Ids equal tiktoken's on 2 MB. Single thread "
                 "for one text. It keeps a pre-token cache inside the Tokenizer: the first "
                 "encode in a process pays one-time setup (2 MB: ~0.06-0.09 s), a fresh Tokenizer "
                 "~0.011 s, the same text again ~0.005 s; make a new encoder per timing if "
                 "you want cold numbers.",
    "tokie": "Tokenizer.from_json of the same tokenizer.json (written to a temp dir); "
             "encode(text, add_special_tokens=False).ids, single call (cpu/wall ~1.2). "
             "IDS DIFFER from tiktoken: +2 tokens on 2 MB (3 of 219 documents). Its GPT-2 "
             "pre-tokenizer does not split a contraction that is followed by letters: "
             "\"\\t'sfu'\" gives \"'\" + \"sfu\" where the regex gives \"'s\" + \"fu\". "
             "(Its encode_bytes is worse: it also merges whitespace runs such as \"\\n\\n\", "
             "so it is not used.)",
    "bpeasy": "bpeasy has no encoder of its own: BPEasyTokenizer wraps tiktoken.Encoding, so "
              "this times tiktoken.encode (with its special-token check) through one more "
              "Python call. Ids equal tiktoken's.",
    "rustbpe": "Not in encoders(): rustbpe.Tokenizer() can only be trained; it has no way to "
               "load a vocabulary (no constructor arguments, no setter for merges/ranks).",
    "bpeasy/decode": "Not in decoders(): it would be tiktoken's decode again.",
    "tiktoken/files": "Reads the files in Python, splits documents, "
                      "encode_ordinary_batch(docs, num_threads=1) (its default is 8 threads).",
    "hf/files": "Reads the files in Python, splits documents, encode_batch_fast(docs): "
                "parallel only, rayon pool on all cores (2 here; RAYON_NUM_THREADS or "
                "TOKENIZERS_PARALLELISM=false before first use change it).",
    "gigatoken/files": "encode_files(TextFileSource(paths, separator=...)): its default "
                       "parallel=True, its rayon pool on all cores (2 here); the row "
                       "'gigatoken 1 thread' passes parallel=False. Reads the files in Rust. "
                       "Same pre-token cache caveat as above.",
    "tokie/files": "encode_files(paths, separator=...): reads files in Rust, parallel only, "
                   "all cores (2 here, cpu/wall ~1.6); RAYON_NUM_THREADS does not change it. "
                   "Token count differs from tiktoken's (contraction bug above).",
}

TRAINER_NOTES: dict[str, str] = {
    "rustbpe": "Tokenizer.train_from_iterator(documents, pattern=GPT-2). rayon: splitting and "
               "counting on all cores (2 here), merge loop single thread. Ties go to the "
               "smallest (left id, right id), ids being bytes 0-255 then merges in order - "
               "not the CS336 rule. No special tokens: documents are cut at them in Python "
               "(file read and split are inside the timed call) and it trains "
               "vocab_size - len(special_tokens) tokens. Pair counts are i32. cpu/wall ~1.6 "
               "(20 MB, vocab 3000).",
    "gigatoken": "gigatoken.train_bpe(path, ...): mmaps and pre-tokenizes the file in Rust on "
                 "all cores (2 here); the merge loop uses rayon for large word updates "
                 "(cpu/wall ~1.4 on 20 MB, vocab 3000). Default tie_breaking='huggingface' "
                 "(used here) gives exactly the merges of HF's BpeTrainer: ties to the "
                 "smallest pair of HF ids (bytes ordered by their GPT-2 unicode stand-in, "
                 "not byte value). "
                 "'raw_token_ids' gives rustbpe's rule; 'assembled_bytes' ties to the "
                 "lexicographically SMALLER (bytes_a, bytes_b), the mirror of CS336; no option "
                 "gives the CS336 rule. It cuts documents at ONE separator: "
                 "special_tokens[0] here (its default is <|endoftext|>); further special "
                 "tokens only get reserved ids (256, 257, ...). Pre-token counts equal "
                 "bpe's on 2 MB and 20 MB. Prints progress to fds 1/2 (silenced here).",
    "hf": "tokenizers BpeTrainer(initial_alphabet=ByteLevel.alphabet(), special tokens) with "
          "ByteLevel(add_prefix_space=False), fed documents by train_from_iterator. rayon on "
          "all cores (2 here) for counting and merge updates (cpu/wall ~1.7). Ties to the "
          "smallest pair of HF ids (special tokens first, then the 256 bytes in order of their "
          "unicode stand-in, then merges) - not the CS336 rule. Not Tokenizer.train(files): that "
          "reads line by line, so whitespace runs are cut at newlines and special tokens "
          "are not cut out (merges differ from merge 58 on 2 MB).",
    "bpeasy": "bpeasy.train_bpe(documents, GPT-2 pattern, ...): rayon on all cores (2 here) "
              "for pre-tokenizing (fancy_regex) and merge updates (cpu/wall ~1.3). Same tie "
              "rule as rustbpe (smallest id pair; identical merges on 2 MB). max_token_length is "
              "set to sys.maxsize (bpeasy's own default is 128, which CS336 does not have). No "
              "special tokens: documents cut in Python, vocab_size - len(special_tokens).",
    "gigabpe": "gigabpe.train_bpe([path], vocab_size, special_tokens, pretokenizer="
               "'bytelevel'): Rust, threads on all cores (2 here). Not CS336-exact: it reads "
               "the file line by line, so no piece holds a newline and a whitespace run "
               "ending in one (no '\\n\\n' token), and it does not cut documents at the "
               "special tokens, whose text it trains on ('endoftext' becomes a token); "
               "HF's tie rule. Its alphabet is the bytes the text holds, not all 256.",
    "tokie": "Not in trainers(): tokie has no training API (load/encode only).",
}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# -- shared helpers -----------------------------------------------------------------------

def _gpt2_ranks(gpt2_dir: Path) -> dict[bytes, int]:
    """GPT-2's tiktoken-style ranks (token bytes -> id), from the local data-gym files."""
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    return data_gym_to_mergeable_bpe_ranks(str(gpt2_dir / "vocab.bpe"),
                                           str(gpt2_dir / "encoder.json"))


def _gpt2_tokenizer_json(gpt2_dir: Path) -> str:
    """A HuggingFace tokenizer.json for GPT-2 without added tokens (so "<|endoftext|>" is
    ordinary text). encoder.json already holds the byte-level strings of tokenizer.json."""
    vocab = json.loads((gpt2_dir / "encoder.json").read_text(encoding="utf-8"))
    lines = (gpt2_dir / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    merges = [line for line in lines if line and not line.startswith("#version")]
    byte_level = {
        "type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True,
    }
    return json.dumps({
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
            "ignore_merges": False, "vocab": vocab, "merges": merges,
        },
    }, ensure_ascii=False)


def _documents(path: str | os.PathLike, special_tokens: Sequence[str]) -> list[str]:
    """The text of a UTF-8 file cut at every special token (the tokens themselves dropped)."""
    text = Path(path).read_text(encoding="utf-8")
    if not special_tokens:
        return [text]
    alternatives = sorted(special_tokens, key=len, reverse=True)
    return re.split("|".join(map(re.escape, alternatives)), text)


def _documents_of_files(paths: list[Path]) -> list[str]:
    return [doc for path in paths for doc in _documents(path, [SEPARATOR])]


def _run_capturing_output(fn: Callable[[], object]) -> tuple[object, str]:
    """Call fn() with file descriptors 1 and 2 sent to a temporary file (Rust code prints
    there, past sys.stdout); return fn's result and what was printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved_out, saved_err = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            result = fn()
        finally:
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
        sink.seek(0)
        return result, sink.read().decode("utf-8", errors="replace")


# -- encoders: GPT-2, one text ------------------------------------------------------------

def _tiktoken_encoding(gpt2_dir: Path):
    import tiktoken

    return tiktoken.Encoding(
        "gpt2-local",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=_gpt2_ranks(gpt2_dir),
        special_tokens={SEPARATOR: 50256},
    )


def tiktoken_encoder(gpt2_dir: Path) -> Callable[[str], Sequence[int]]:
    return _tiktoken_encoding(gpt2_dir).encode_ordinary


def _hf_tokenizer(gpt2_dir: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    model = models.BPE.from_file(str(gpt2_dir / "encoder.json"), str(gpt2_dir / "vocab.bpe"))
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def hf_encoder(gpt2_dir: Path) -> Callable[[str], Sequence[int]]:
    tokenizer = _hf_tokenizer(gpt2_dir)
    return lambda text: tokenizer.encode_batch_fast([text], add_special_tokens=False)[0].ids


def _gigatoken_tokenizer(gpt2_dir: Path):
    import gigatoken

    return gigatoken.Tokenizer.from_json(_gpt2_tokenizer_json(gpt2_dir))


def gigatoken_encoder(gpt2_dir: Path) -> Callable[[str], Sequence[int]]:
    return _gigatoken_tokenizer(gpt2_dir).encode  # numpy uint32 array


def gigatoken_tiktoken_encoder(rank_file_gz: Path) -> Callable[[str], Sequence[int]]:
    """gigatoken's encode for a tiktoken encoding (cl100k_base, o200k_base) from its gzipped
    rank file: gigatoken reads a plain .tiktoken file, named for the encoding (the name
    picks its pre-tokenizer), so it gets a decompressed copy."""
    import gzip

    import gigatoken

    name = Path(rank_file_gz).name.removesuffix(".gz")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(gzip.decompress(Path(rank_file_gz).read_bytes()))
        tokenizer = gigatoken.Tokenizer.from_tiktoken(path, special_tokens={})
    return tokenizer.encode


def _tokie_tokenizer(gpt2_dir: Path):
    import tokie

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_text(_gpt2_tokenizer_json(gpt2_dir), encoding="utf-8")
        return tokie.Tokenizer.from_json(str(path))


def tokie_encoder(gpt2_dir: Path) -> Callable[[str], Sequence[int]]:
    tokenizer = _tokie_tokenizer(gpt2_dir)
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


def bpeasy_encoder(gpt2_dir: Path) -> Callable[[str], Sequence[int]]:
    from bpeasy.tokenizer import BPEasyTokenizer

    tokenizer = BPEasyTokenizer(
        vocab=_gpt2_ranks(gpt2_dir), regex_pattern=GPT2_PATTERN, special_tokens=[],
        name="gpt2-local",
    )
    return tokenizer.encode


def encoders(gpt2_dir: Path) -> dict[str, Callable[[], Callable[[str], Sequence[int]]]]:
    gpt2_dir = Path(gpt2_dir)
    table = {
        "tiktoken": ("tiktoken", lambda: tiktoken_encoder(gpt2_dir)),
        "hf": ("tokenizers", lambda: hf_encoder(gpt2_dir)),
        "gigatoken": ("gigatoken", lambda: gigatoken_encoder(gpt2_dir)),
        "tokie": ("tokie", lambda: tokie_encoder(gpt2_dir)),
        "bpeasy": ("bpeasy", lambda: bpeasy_encoder(gpt2_dir)),
    }
    return {name: factory for name, (module, factory) in table.items() if installed(module)}


# -- decoders: GPT-2 ids -> text (not in the original brief; bench/compare.py asks for it) --

def decoders(gpt2_dir: Path) -> dict[str, Callable[[], Callable[[Sequence[int]], str]]]:
    """name -> factory() -> decode(ids) -> str, for the ids the same peer's encoder returns."""
    gpt2_dir = Path(gpt2_dir)

    def gigatoken_decoder():
        tokenizer = _gigatoken_tokenizer(gpt2_dir)
        return lambda ids: tokenizer.decode(ids).decode("utf-8")  # its decode returns bytes

    table = {
        "tiktoken": ("tiktoken", lambda: _tiktoken_encoding(gpt2_dir).decode),
        "hf": ("tokenizers", lambda: _hf_tokenizer(gpt2_dir).decode),
        "gigatoken": ("gigatoken", gigatoken_decoder),
        "tokie": ("tokie", lambda: _tokie_tokenizer(gpt2_dir).decode),
    }
    return {name: factory for name, (module, factory) in table.items() if installed(module)}


# -- file encoders: GPT-2, whole files, count tokens --------------------------------------

def tiktoken_file_encoder(gpt2_dir: Path) -> Callable[[list[Path]], int]:
    encoding = _tiktoken_encoding(gpt2_dir)

    def encode_files(paths: list[Path]) -> int:
        batch = encoding.encode_ordinary_batch(_documents_of_files(paths), num_threads=1)
        return sum(map(len, batch))

    return encode_files


def hf_file_encoder(gpt2_dir: Path) -> Callable[[list[Path]], int]:
    tokenizer = _hf_tokenizer(gpt2_dir)

    def encode_files(paths: list[Path]) -> int:
        encodings = tokenizer.encode_batch_fast(_documents_of_files(paths),
                                                add_special_tokens=False)
        return sum(len(e.ids) for e in encodings)

    return encode_files


def gigatoken_file_encoder(gpt2_dir: Path, parallel: bool = True) -> Callable[[list[Path]], int]:
    import awkward as ak
    import gigatoken

    tokenizer = _gigatoken_tokenizer(gpt2_dir)

    def encode_files(paths: list[Path]) -> int:
        source = gigatoken.TextFileSource([str(p) for p in paths], separator=SEPARATOR)
        ids = tokenizer.encode_files(source, parallel=parallel)
        return int(ak.sum(ak.num(ids, axis=1)))

    return encode_files


def tokie_file_encoder(gpt2_dir: Path) -> Callable[[list[Path]], int]:
    tokenizer = _tokie_tokenizer(gpt2_dir)

    def encode_files(paths: list[Path]) -> int:
        ids, _offsets = tokenizer.encode_files([str(p) for p in paths],
                                               separator=SEPARATOR.encode())
        return len(ids)

    return encode_files


def file_encoders(gpt2_dir: Path) -> dict[str, Callable[[], Callable[[list[Path]], int]]]:
    gpt2_dir = Path(gpt2_dir)
    table = {
        "tiktoken": ("tiktoken", lambda: tiktoken_file_encoder(gpt2_dir)),
        "hf": ("tokenizers", lambda: hf_file_encoder(gpt2_dir)),
        "gigatoken": ("gigatoken", lambda: gigatoken_file_encoder(gpt2_dir)),
        "gigatoken 1 thread": ("gigatoken", lambda: gigatoken_file_encoder(gpt2_dir, False)),
        "tokie": ("tokie", lambda: tokie_file_encoder(gpt2_dir)),
    }
    return {name: factory for name, (module, factory) in table.items() if installed(module)}


# -- trainers -----------------------------------------------------------------------------

def rustbpe_train(path: Path, vocab_size: int, special_tokens: list[str]) -> int:
    import rustbpe

    tokenizer = rustbpe.Tokenizer()
    documents = _documents(path, special_tokens)
    tokenizer.train_from_iterator(documents, vocab_size - len(special_tokens), pattern=GPT2_PATTERN)
    return tokenizer.vocab_size + len(special_tokens)


def _gigatoken_train_bpe(path: Path, vocab_size: int, special_tokens: list[str]):
    import gigatoken

    separator = special_tokens[0].encode("utf-8") if special_tokens else None
    return gigatoken.train_bpe(str(path), vocab_size, list(special_tokens), separator=separator)


def gigatoken_train(path: Path, vocab_size: int, special_tokens: list[str]) -> int:
    (vocab, _merges), _printed = _run_capturing_output(
        lambda: _gigatoken_train_bpe(path, vocab_size, special_tokens)
    )
    return len(vocab)


def gigabpe_train(path: Path, vocab_size: int, special_tokens: list[str]) -> int:
    import gigabpe

    vocab, _merges = gigabpe.train_bpe([str(path)], vocab_size,
                                       special_tokens=list(special_tokens),
                                       pretokenizer="bytelevel")
    return len(vocab)


def hf_train(path: Path, vocab_size: int, special_tokens: list[str]) -> int:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        show_progress=False,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_documents(path, special_tokens), trainer=trainer)
    return tokenizer.get_vocab_size()


def bpeasy_train(path: Path, vocab_size: int, special_tokens: list[str]) -> int:
    import bpeasy

    documents = _documents(path, special_tokens)
    n_tokens = vocab_size - len(special_tokens)
    ranks = bpeasy.train_bpe(iter(documents), GPT2_PATTERN, sys.maxsize, n_tokens)
    return len(ranks) + len(special_tokens)


def trainers() -> dict[str, Callable[[Path, int, list[str]], int]]:
    table = {
        "rustbpe": ("rustbpe", rustbpe_train),
        "gigatoken": ("gigatoken", gigatoken_train),
        "gigabpe": ("gigabpe", gigabpe_train),
        "hf": ("tokenizers", hf_train),
        "bpeasy": ("bpeasy", bpeasy_train),
    }
    return {name: train for name, (module, train) in table.items() if installed(module)}


# -- gigatoken's merge phase --------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def gigatoken_merge_seconds(
    path: Path, vocab_size: int, special_tokens: Sequence[str] = (SEPARATOR,)
) -> float | None:
    """Seconds gigatoken.train_bpe spends after pre-tokenization, or None if unavailable.

    gigatoken reports no merge time; it prints "Pretokenization took <duration>" to stderr.
    This returns the wall time of the whole train_bpe call minus that duration: building its
    word table and initial pair counts, the merge loop, and handing vocab/merges to Python
    (the last is a few ms at most). Best compared with our merge loop started from counts.
    """
    if not installed("gigatoken"):
        return None
    start = time.perf_counter()
    _result, printed = _run_capturing_output(
        lambda: _gigatoken_train_bpe(path, vocab_size, list(special_tokens))
    )
    total = time.perf_counter() - start
    match = re.search(r"Pretokenization took ([0-9.]+)(ns|µs|us|ms|s)\b", printed)
    if match is None:
        return None
    return total - float(match.group(1)) * _DURATION_UNITS[match.group(2)]
