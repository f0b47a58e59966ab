"""Training: text -> piece counts -> WordTable -> merges -> vocabulary.

`train_bpe` is the Stanford CS336 function (same name, arguments and return value);
`train` returns a ready Tokenizer from files or a saved count table, and reports each phase;
`train_from_iterator` does the same from texts in memory, each text its own document. Files
and texts have a function each, so a text is never taken for a path, nor a path for a text.
The rules (docs/architecture.md, "What is exact"): the vocabulary starts with the 256 bytes,
special tokens cut documents and are never merged, pairs never cross a piece, the most
frequent pair wins with ties to the greater (bytes_a, bytes_b). Two optional limits, as in
Hugging Face's BpeTrainer: min_frequency stops training when the best pair is rarer, and
max_token_length (in bytes) keeps longer tokens from being made.
Id layout: bytes 0..255, merge k -> 256 + k, then the special tokens (one of a single byte,
such as "\n", is that byte's token and keeps its id).
Each also takes `base=`, a Tokenizer to extend: its ids, tokens and merges are kept and the
new merges are learned on top of them (bpe/extend.py).
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bpe._merge import merge_words
from bpe.counting import (
    check_regular_file,
    check_workers,
    count_files,
    count_texts,
    cut_rule,
    read_text_chunks,
    safe_cut_after,
)
from bpe.extend import Extension, base_pattern, check_table, plan
from bpe.patterns import PatternLike, Pretokenizer, check_pattern
from bpe.sources import check_errors, check_input, check_text_field, first_text, input_format
from bpe.specials import check_special_tokens
from bpe.wordtable import WordTable, training_settings

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from bpe.tokenizer import Tokenizer


def learn_merges(table: WordTable, n_merges: int,
                 progress: Callable[[int], object] | None = None,
                 min_frequency: int = 0, max_token_length: int | None = None,
                 *, consume: bool = False) -> tuple[dict[int, bytes], list[tuple[int, int]]]:
    """Run the merge loop; return the vocabulary of bytes and merged tokens, and the id pairs.
    consume: the loop rewrites the table's symbols in place, for a caller that drops the
    table after (its peak memory is then one copy of the symbols less)."""
    pairs = merge_words(table.symbols, table.offsets, table.counts, n_merges, progress,
                        min_frequency=min_frequency, max_token_length=max_token_length,
                        in_place=consume)
    vocab = {i: bytes([i]) for i in range(256)}
    left, right = pairs.T.tolist()       # (ints from tolist, not a NumPy scalar each)
    merges = list(zip(left, right, strict=True))
    for k, (a, b) in enumerate(merges):
        vocab[256 + k] = vocab[a] + vocab[b]
    return vocab, merges


def _new_specials(special_tokens: list[str]) -> list[str]:
    """The special tokens that take ids of their own: all but those of a single byte."""
    return [token for token in special_tokens if len(token.encode("utf-8")) > 1]


def _merge_budget(vocab_size: int, special_tokens: list[str]) -> int:
    special_tokens = _new_specials(special_tokens)
    floor = 256 + len(special_tokens)
    if not isinstance(vocab_size, (int, np.integer)) or isinstance(vocab_size, bool):
        raise TypeError(f"vocab_size={vocab_size!r} must be an int")
    if vocab_size < floor:
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than the 256 byte tokens plus "
            f"{len(special_tokens)} special token{'s' if len(special_tokens) != 1 else ''}"
        )
    if vocab_size > _MAX_VOCAB:
        raise ValueError(f"vocab_size={vocab_size} is more than the {_MAX_VOCAB:,} ids a "
                         f"vocabulary can have (ids are 32-bit)")
    return int(vocab_size) - floor


_MAX_VOCAB = 2**31 - 1
_MAX_COUNT = 2**63 - 1      # no pair count is larger (counts are int64)


def _check_limits(min_frequency: int, max_token_length: int | None) -> tuple[int, int | None]:
    """min_frequency and max_token_length, checked. A min_frequency above any count an int64
    can hold is lowered to the largest, which stops training all the same."""
    if not isinstance(min_frequency, (int, np.integer)) or isinstance(min_frequency, bool):
        raise TypeError(f"min_frequency={min_frequency!r} must be an int")
    if min_frequency < 0:
        raise ValueError(f"min_frequency={min_frequency} is negative; expected the count a "
                         f"pair needs to be merged, >= 0")
    if max_token_length is None:
        return min(int(min_frequency), _MAX_COUNT), None
    if not isinstance(max_token_length, (int, np.integer)) or isinstance(max_token_length, bool):
        raise TypeError(f"max_token_length={max_token_length!r} must be an int (bytes) or None")
    if max_token_length < 1:
        raise ValueError(f"max_token_length={max_token_length}; expected a number of bytes "
                         f">= 1, or None for no limit")
    return min(int(min_frequency), _MAX_COUNT), int(max_token_length)


def train_bpe(
    input_path: str | os.PathLike,
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    pattern: PatternLike | None = None,
    workers: int | None = None,
    min_frequency: int = 0,
    max_token_length: int | None = None,
    *,
    base: Tokenizer | None = None,
    specials_last: bool = False,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Train a byte-level BPE vocabulary on one UTF-8 text file (the CS336 interface).

    Returns (vocab, merges): vocab maps id -> token bytes (bytes 0..255, merge k at 256 + k,
    then the special tokens), merges lists the merged (bytes, bytes) pairs in order.
    An empty corpus gives the base vocabulary and no merges. Counting runs on `workers`
    threads or processes (all cores if None); the result is the same for any number. pattern: "gpt2"
    unless given. min_frequency, max_token_length, base, specials_last: as for `train`.
    """
    tok = train(input_path, vocab_size, special_tokens, pattern, workers=workers, progress=False,
                min_frequency=min_frequency, max_token_length=max_token_length, base=base,
                specials_last=specials_last)
    return tok.vocab, tok.merges


_TEXTS_HINT = "To train on texts, call bpe.train_from_iterator(texts, ...)"


def train(
    inputs: str | os.PathLike | Iterable[str | os.PathLike] | WordTable,
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    pattern: PatternLike | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    errors: str = "strict",
    held_out_bytes: int = 0,
    min_frequency: int = 0,
    max_token_length: int | None = None,
    text_field: str = "text",
    *,
    base: Tokenizer | None = None,
    specials_last: bool = False,
) -> Tokenizer:
    """Train a Tokenizer on UTF-8 text files, or on a table of counts.

    inputs: a path or an iterable of paths (counted in chunks on `executor`, any
    concurrent.futures.Executor, or on `workers` local workers, all cores if None: threads
    where the pattern is built in and no file holds records, else processes); or a
    WordTable of counts. A str is always a path: texts in memory go to
    `train_from_iterator`, and a str that is not a file is an error saying so.
    Files are read by their name's ending (bpe.sources): text, .gz or .zst text, JSONL
    (.jsonl, .jsonl.gz, .jsonl.zst: the str field `text_field` of each line) and Parquet
    (the string column `text_field`). Each record is a document of its own, as each text
    of train_from_iterator: the vocabulary is the one trained on a text file of the
    records joined by a special token.
    pattern: "gpt2" unless given. For a WordTable, pattern and special_tokens default to
    those it was counted with; one given as well must agree, and a table that records no
    pattern needs one given.
    progress: print each phase to stderr, with progress bars on a terminal.
    errors: "strict" stops at the first invalid UTF-8 byte or bad record (a JSONL line that
    is not an object with the field as a str, a null Parquet value), naming the file and
    the offset, line or row; "replace" counts invalid UTF-8 as U+FFFD (and stops at other
    bad records); "skip" skips bad records, and warns with their number per file
    (BadRecordsWarning; text files are read as under "strict").
    held_out_bytes: keep the last that many bytes of the last file, a text file, out of
    training (cut at a safe place) and report the compression ratio on them.
    min_frequency: merge only pairs that occur at least this often; training stops, with
    fewer merges than vocab_size asks for, when the most frequent pair is rarer (0 or 1: no
    limit).
    max_token_length: never merge a pair whose token would be longer than this many bytes
    (None: no limit); the next pair in order is merged instead. Special tokens may be longer.
    base: a Tokenizer to extend (continued training): every id, token and merge of it is
    kept, the text is cut by its pattern (a pattern given must be the same) and its special
    tokens plus any given, each piece starts as the base encodes it, and the new merges
    take the ids after the base's largest. vocab_size counts the whole extended vocabulary.
    specials_last: with base, move the base's special tokens after the new merges (their
    old ids are left free), as training from bytes places them.
    Every argument is checked before any counting starts.

    >>> tok = bpe.train("domain.txt", 52_000, base=bpe.get_encoding("gpt2"))
    """
    if (not isinstance(held_out_bytes, (int, np.integer)) or isinstance(held_out_bytes, bool)
            or held_out_bytes < 0):
        raise ValueError(f"held_out_bytes={held_out_bytes!r}; expected a number of bytes >= 0")
    limits = _check_limits(min_frequency, max_token_length)
    report = _Report(progress)
    if isinstance(inputs, WordTable):
        if held_out_bytes > 0:
            raise ValueError(f"held_out_bytes={held_out_bytes} holds out part of a text file; "
                             f"a count table has no text to hold out")
        if base is not None:
            pattern = base_pattern(base, pattern)
            check_table(base, inputs.settings)
        pattern, specials = training_settings(inputs.settings, pattern, special_tokens)
        pattern, specials, n_merges, extension = _settings(vocab_size, pattern, specials,
                                                           base, specials_last)
        report.phase("load counts", 0.0, f"{inputs.n_words:,} unique words")
        return _learn(inputs, n_merges, pattern, specials, report, None, extension, limits)
    pattern, specials, n_merges, extension = _settings(vocab_size, pattern, special_tokens,
                                                       base, specials_last)
    check_errors(errors)
    check_text_field(text_field)
    check_workers(workers)
    paths = _training_paths(inputs, text_field)
    if held_out_bytes > 0 and not input_format(paths[-1]).plain:
        raise ValueError(f"held_out_bytes={held_out_bytes} holds out the end of a text file; "
                         f"the last input {paths[-1]!r} is {input_format(paths[-1])}: put a "
                         f"text file last")
    table, held_out = _count_files(paths, pattern, specials, workers, executor, errors,
                                   held_out_bytes, report, text_field)
    return _learn(table, n_merges, pattern, specials, report, held_out, extension, limits,
                  consume=True)


def train_from_iterator(
    texts: Iterable[str] | Iterable[Sequence[str]],
    vocab_size: int,
    special_tokens: Sequence[str] | None = None,
    pattern: PatternLike | None = None,
    progress: bool = True,
    min_frequency: int = 0,
    max_token_length: int | None = None,
    *,
    base: Tokenizer | None = None,
    specials_last: bool = False,
) -> Tokenizer:
    """Train a Tokenizer on texts in memory (the name Hugging Face tokenizers and rustbpe
    give this).

    texts: any iterable of str, read once, streaming (a list, a generator, a dataset
    column), or of lists of str (batches). Each text is a document of its own: no piece
    spans two texts, and special tokens inside a text cut it as usual: the vocabulary is
    train()'s on one file holding the texts with a special token between each two. Counting
    runs in this process; for text files, train(paths) counts them on all cores.
    pattern: "gpt2" unless given. min_frequency, max_token_length, base, specials_last: as
    for `train`.

    >>> tok = bpe.train_from_iterator(["hello world", "hello there"], 260)
    """
    pattern, specials, n_merges, extension = _settings(vocab_size, pattern, special_tokens,
                                                       base, specials_last)
    limits = _check_limits(min_frequency, max_token_length)
    if isinstance(texts, WordTable):
        raise TypeError("texts is a WordTable of counts; to train on it, call "
                        "bpe.train(table, ...)")
    if isinstance(texts, (str, bytes, os.PathLike)):
        raise TypeError(f"texts is one {type(texts).__name__}; train_from_iterator takes an "
                        f"iterable of texts: for one text pass [text], for a file call "
                        f"bpe.train(path, ...)")
    report = _Report(progress)
    start = time.perf_counter()
    counter, n_texts = count_texts(texts, Pretokenizer(pattern, specials))
    table = WordTable.from_counter(counter, pattern, specials)
    report.phase("count", time.perf_counter() - start,
                 f"{n_texts:,} texts, {int(table.counts.sum()):,} pieces, "
                 f"{table.n_words:,} unique words")
    return _learn(table, n_merges, pattern, specials, report, None, extension, limits,
                  consume=True)


def _settings(vocab_size: int, pattern: PatternLike | None,
              special_tokens: Sequence[str] | None, base: Tokenizer | None,
              specials_last: bool) -> tuple[PatternLike, list[str], int, Extension | None]:
    """(pattern, special tokens, number of merges, the extension of base or None), all
    checked: "gpt2" when no pattern is given, the base's with a base."""
    if base is None:
        if specials_last is not False:
            raise ValueError(f"specials_last={specials_last!r} moves a base tokenizer's "
                             f"special tokens; it needs base= (training from bytes already "
                             f"puts them last)")
        specials = check_special_tokens(special_tokens)
        return (check_pattern("gpt2" if pattern is None else pattern), specials,
                _merge_budget(vocab_size, specials), None)
    extension = plan(base, vocab_size, pattern, special_tokens, specials_last)
    return extension.pattern, extension.special_tokens, extension.n_merges, extension


def _learn(table: WordTable, n_merges: int, pattern: PatternLike, specials: list[str],
           report: _Report, held_out: tuple[str, str] | None,
           extension: Extension | None = None,
           limits: tuple[int, int | None] = (0, None), consume: bool = False) -> Tokenizer:
    """The merges of `table`, and the Tokenizer they make (extension: on top of a base;
    limits: min_frequency and max_token_length; consume: the table is the caller's own, to
    be rewritten by the merge loop: learn_merges)."""
    from bpe.tokenizer import Tokenizer

    min_frequency, max_token_length = limits
    if extension is not None:
        tok = _learn_over(table, extension, report, limits)
        report.summary(tok, held_out, extension.base)
        return tok
    start = time.perf_counter()
    with report.bar(n_merges, "merges") as bar:
        vocab, id_merges = learn_merges(table, n_merges, bar.update_to if bar else None,
                                        min_frequency, max_token_length, consume=consume)
    merges = [(vocab[a], vocab[b]) for a, b in id_merges]
    report.phase("merge", time.perf_counter() - start,
                 _merges_done(len(merges), n_merges, limits))
    for token in _new_specials(specials):
        vocab[len(vocab)] = token.encode("utf-8")
    tok = Tokenizer(vocab, merges, special_tokens=specials, pattern=pattern)
    report.summary(tok, held_out)
    return tok


def _merges_done(done: int, asked: int, limits: tuple[int, int | None],
                 what: str = "merges") -> str:
    """The merge phase's report: how many, and why fewer than asked."""
    min_frequency, max_token_length = limits
    line = f"{done:,} {what}"
    if done < asked:
        line += (f" of {asked:,}: no pair left"
                 + (f" of count >= {min_frequency}" if min_frequency > 1 else "")
                 + (f" within {max_token_length} bytes" if max_token_length is not None else ""))
    return line


def _learn_over(table: WordTable, extension: Extension, report: _Report,
                limits: tuple[int, int | None]) -> Tokenizer:
    """The new merges of `table`'s words as the base encodes them, and the extended
    Tokenizer."""
    start = time.perf_counter()
    symbols, offsets, counts = extension.words(table)
    report.phase("encode with the base", time.perf_counter() - start,
                 f"{table.n_words:,} unique words, {len(counts):,} of more than one token")
    start = time.perf_counter()
    with report.bar(extension.n_merges, "merges") as bar:
        pairs = merge_words(symbols, offsets, counts, extension.n_merges,
                            bar.update_to if bar else None, tokens=extension.tokens(),
                            min_frequency=limits[0], max_token_length=limits[1],
                            in_place=True)
    report.phase("merge", time.perf_counter() - start,
                 _merges_done(len(pairs), extension.n_merges, limits, "new merges"))
    return extension.tokenizer(pairs)


def _training_paths(inputs, text_field: str = "text") -> list[str]:
    """The training files, each checked before anything is counted. An item that is not an
    existing file is an error; a str that names none is most likely a text, so the error
    points to train_from_iterator. Items are checked as they come: a generator of texts
    stops at its first."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    try:
        items = iter(inputs)
    except TypeError:
        raise TypeError(f"train() takes a file path, an iterable of them or a WordTable, "
                        f"got {type(inputs).__name__}. {_TEXTS_HINT}") from None
    paths: list[str] = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"train() takes file paths; got a {type(item).__name__} among "
                            f"them. {_TEXTS_HINT}")
        path = os.fspath(item)
        if not os.path.exists(path):
            # a name with a folder in it is shown whole; any other str may be a text
            shown = repr(path) if os.sep in path or not isinstance(item, str) else _shown(path)
            raise FileNotFoundError(f"train() takes file paths; {shown} is not a file. "
                                    f"{_TEXTS_HINT}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"training file {path!r} is a folder; expected a text file")
        check_regular_file(path, "training file")
        check_input(path, text_field)
        paths.append(path)
    if not paths:
        raise ValueError(f"train() was given no training files. {_TEXTS_HINT}")
    return paths


def _shown(text: str) -> str:
    """repr(text), cut short: an error quotes the start of a text, not all of it."""
    return repr(text if len(text) <= 60 else text[:50]) + ("..." if len(text) > 60 else "")


def _count_files(paths, pattern, specials, workers, executor, errors, held_out_bytes, report,
                 text_field):
    """(WordTable, (text, where) to measure compression on, or None)."""
    start = time.perf_counter()
    ends, held_out = {}, None
    if held_out_bytes > 0 and paths:
        native = cut_rule(pattern) or False
        last = paths[-1]
        start_at = max(0, os.path.getsize(last) - held_out_bytes)
        cut = safe_cut_after(last, start_at, specials, native)
        if cut is not None:
            ends[last] = cut
            held_out = ("".join(read_text_chunks(last, cut, errors="replace")),
                        f"held-out last {os.path.getsize(last) - cut:,} bytes")
    n_bytes = sum(ends.get(p, os.path.getsize(p)) for p in paths)
    with report.bar(n_bytes, "bytes") as bar:
        counter = count_files(paths, pattern, specials, workers=workers, executor=executor,
                              errors=errors, ends=ends, on_bytes=bar.update if bar else None,
                              text_field=text_field)
    if held_out is None and paths and report.enabled:  # only the report reads it
        why = "; no safe place to cut a held-out slice" if held_out_bytes > 0 else ""
        first = first_text(paths[0], input_format(paths[0]), text_field, errors, 1_000_000)
        held_out = (first, f"first 1 MB of the training text, not held out{why}")
    table = WordTable.from_counter(counter, pattern, specials)
    report.phase("count", time.perf_counter() - start,
                 f"{n_bytes / 1e6:,.1f} MB read, {int(table.counts.sum()):,} pieces, "
                 f"{table.n_words:,} unique words")
    return table, held_out


class _Report:
    """Per-phase lines on stderr and tqdm bars on a terminal, when asked for."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def phase(self, name: str, seconds: float, what: str) -> None:
        if self.enabled:
            peak = _peak_rss_mb()
            rss = f" (peak RSS {peak:.0f} MB)" if peak is not None else ""
            print(f"{name}: {what} in {seconds:.2f} s{rss}", file=sys.stderr)

    def bar(self, total: int, unit: str):
        if not (self.enabled and sys.stderr.isatty()):
            return _NoBar()
        from tqdm import tqdm

        bar = tqdm(total=total, unit=unit, unit_scale=True, leave=False, file=sys.stderr)
        bar.update_to = lambda n: bar.update(n - bar.n)
        return bar

    def summary(self, tok, held_out, base=None) -> None:
        """The longest tokens learned (with a base: of the new ones) and the compression."""
        if not self.enabled:
            return
        from bpe.simple import compression_ratio

        known = set(base.vocab.values()) if base is not None else set()
        longest = sorted((t for t in tok.vocab.values() if t not in known), key=len,
                         reverse=True)[:10]
        new = "new " if base is not None else ""
        print(f"longest {new}tokens: "
              + ", ".join(repr(t.decode("utf-8", "replace")) for t in longest), file=sys.stderr)
        if held_out and held_out[0]:
            ratio = compression_ratio(tok, held_out[0])
            print(f"compression: {ratio:.2f} bytes/token on the {held_out[1]}", file=sys.stderr)


def _peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB, or None where `resource` is missing
    (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes / KiB


class _NoBar:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
