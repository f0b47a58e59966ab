"""The `bpe` command (also `python -m bpe`): train tokenizers, count corpora, encode datasets.

    python -m bpe train                       # the bundled sample corpus, vocab 1000
    python -m bpe train data/*.txt --vocab-size 32000 --special-token '<|endoftext|>' \\
        --pattern gpt2 --workers 8 --out tok/
    python -m bpe count shard1/*.txt -o shard1.npz --special-token '<|endoftext|>'
    python -m bpe train --from-counts shard1.npz --from-counts shard2.npz \\
        --vocab-size 32000 --out tok/
    python -m bpe train domain/*.txt --base gpt2 --vocab-size 52000 --out tok/  # extend
    python -m bpe encode --tokenizer tok/ data/*.txt -o train.npy   # + train.offsets.npy
    python -m bpe encode --tokenizer gpt2 data/*.txt -o train.bin   # raw, + train.bin.json
    python -m bpe encode --tokenizer gpt2 data/*.txt -o train/ --scheduler tcp://host:8786
    python -m bpe train shards/*.jsonl.zst --text-field content --special-token '<|endoftext|>'
    python -m bpe decode --tokenizer tok/ train.npy -o train.txt    # or to stdout
    python -m bpe show --tokenizer gpt2 "Hello world"               # token boundaries, ids

Inputs are text files, or by their name's ending .gz or .zst text, JSONL (.jsonl,
.jsonl.gz, .jsonl.zst) or Parquet, whose records are documents (bpe.sources).
--tokenizer (and train's --base, the tokenizer to extend) is a folder written by
Tokenizer.save or a pretrained name (gpt2, r50k_base, cl100k_base, o200k_base,
o200k_harmony). encode writes token ids as a .npy or, for np.memmap (nanoGPT's layout),
a raw .bin with a JSON sidecar (see bpe.dataset). A count table records its pattern and
special tokens, and `train --from-counts` trains with those.
"""
from __future__ import annotations

import argparse
import codecs
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import bpe
from bpe.atomic import AtomicFile

# Each command imports what it needs (NumPy, the kernels, process pools) when it runs, so
# `bpe --version` and `bpe --help` start as fast as `import bpe`.

SAMPLE = "corpus.en"


def sample_corpus() -> Path:
    """The bundled sample corpus (CS336's training fixture, MIT licence)."""
    from importlib import resources

    return Path(str(resources.files("bpe.data") / SAMPLE))


def _refuse_existing(path: str | Path | None, force: bool, is_folder: bool) -> bool:
    if path is None or force:
        return False
    target = Path(path)
    if target.exists() and (not is_folder or any(target.iterdir())):
        print(f"error: {path} exists{' and is not empty' if is_folder else ''} "
              f"(use --force to overwrite)", file=sys.stderr)
        return True
    return False


def _refuse_inputs_as_outputs(inputs, outputs) -> None:
    """A ValueError if an output (that exists) is one of the inputs, by any name (a link
    included): --force would replace the input with what was made from it."""
    for output in outputs:
        if output is None or not os.path.exists(output):
            continue
        for path in inputs:
            if os.path.exists(path) and os.path.samefile(path, output):
                raise ValueError(f"output {os.fspath(output)} is the input {os.fspath(path)}; "
                                 f"choose another output name")


def _check_folder_can_be_made(folder: str, flag: str) -> None:
    """NotADirectoryError if folder, or a folder above it, is a file."""
    for path in (Path(folder), *Path(folder).parents):
        if path.exists():
            if not path.is_dir():
                what = "is a file" if path == Path(folder) else f"is under {path}, a file"
                raise NotADirectoryError(f"{flag} {folder} {what}; expected a folder to save "
                                         f"the tokenizer in")
            return


def _probability(value: str) -> float:
    """--dropout: a number in [0, 1]."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a probability in [0, 1]")
    return number


def _megabytes(value: str) -> float:
    """--held-out-mb: a finite number >= 0."""
    import math

    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of megabytes >= 0")
    return number


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """--min-frequency, --max-token-length: an int >= minimum (checked as the command line is
    read, before anything is counted)."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{value!r} is not {what} >= {minimum}")
        return number

    return parse


def _check_inputs(files: list[str] | list[Path], text_field: str) -> None:
    """Each input an existing regular file that can be read, before any work starts."""
    from bpe.sources import check_input, check_regular_file

    for path in map(os.fspath, files):
        if path == "-" and not os.path.exists(path):
            raise ValueError("input '-': standard input is not read (inputs are read at "
                             "offsets, in parallel); save the text to a file and name it")
        if not os.path.exists(path):
            raise FileNotFoundError(f"input file {path!r} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"input {path!r} is a folder; expected a text file")
        check_regular_file(path, "input")
        check_input(path, text_field)


def cmd_train(args: argparse.Namespace) -> int:
    # Every argument is checked before the corpus is counted or a count table read.
    if args.from_counts and args.files:
        raise ValueError("give text files or --from-counts, not both")
    if args.from_counts and args.held_out_mb:
        raise ValueError("--held-out-mb holds out part of a text file; --from-counts reads "
                         "count tables, which hold no text")
    if args.out is not None:
        _check_folder_can_be_made(args.out, "--out")
    if _refuse_existing(args.out, args.force, is_folder=True):
        return 2
    if args.specials_last and args.base is None:
        raise ValueError("--specials-last moves the special tokens of the tokenizer --base "
                         "names; give --base")
    base = None if args.base is None else load_tokenizer(args.base, "--base")
    inputs: bpe.WordTable | list[str] | list[Path]
    if args.from_counts:
        inputs = _count_tables(args.from_counts, args.pattern, args.special_token or None,
                               args.vocab_size, base, args.specials_last)
    else:
        inputs = args.files or [sample_corpus()]
        _check_inputs(inputs, args.text_field)
    start = time.perf_counter()
    tok = bpe.train(inputs, args.vocab_size, args.special_token or None, pattern=args.pattern,
                    workers=args.workers, errors=args.errors,
                    held_out_bytes=int(args.held_out_mb * 1e6), text_field=args.text_field,
                    min_frequency=args.min_frequency, max_token_length=args.max_token_length,
                    base=base, specials_last=args.specials_last)
    print(f"trained {tok!r} in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    if args.out:
        tok.save(args.out)
        print(f"saved to {Path(args.out)}/", file=sys.stderr)
    return 0


def _count_tables(paths: list[str], pattern, special_tokens: list[str] | None,
                  vocab_size: int, base: bpe.Tokenizer | None = None,
                  specials_last: bool = False) -> bpe.WordTable:
    """--from-counts: the tables added up, with the pattern and special tokens they record.
    Every table's are checked (against --pattern and --special-token, against the other
    tables', and against --base's) before any counts are read; then the tables are read
    one at a time."""
    from dataclasses import replace

    from bpe.extend import base_pattern, check_table, plan
    from bpe.train import _merge_budget
    from bpe.wordtable import settings_difference, training_settings

    flags = ("--pattern", "--special-token")
    if base is not None:
        pattern = base_pattern(base, pattern)
    settings = []
    for path in paths:
        recorded = bpe.WordTable.load_settings(path)
        if base is not None:
            check_table(base, recorded)
        # What the table records, checked against the flags; for a table that records
        # nothing, the flags' (--pattern required).
        settings.append(training_settings(recorded, pattern, special_tokens, path, flags))
        difference = settings_difference(settings[0], settings[-1])
        if difference is not None:
            raise ValueError(f"{paths[0]} and {path} were counted differently ({difference}); "
                             f"only tables counted alike add up")
    if base is None:
        _merge_budget(vocab_size, settings[0][1])
    else:
        plan(base, vocab_size, pattern, settings[0][1], specials_last)
    return bpe.WordTable.merge(
        replace(bpe.WordTable.load(path), pattern=table_pattern, special_tokens=tuple(specials))
        for path, (table_pattern, specials) in zip(paths, settings, strict=True))


def cmd_count(args: argparse.Namespace) -> int:
    if Path(args.output).is_dir():
        raise IsADirectoryError(f"-o {args.output} is a folder; expected the .npz to write")
    if _refuse_existing(args.output, args.force, is_folder=False):
        return 2
    _check_inputs(args.files, args.text_field)
    _refuse_inputs_as_outputs(args.files, [args.output])
    from bpe.counting import count_files
    from bpe.patterns import pattern_name

    start = time.perf_counter()
    counter = count_files(args.files, args.pattern, args.special_token, workers=args.workers,
                          errors=args.errors, text_field=args.text_field)
    table = bpe.WordTable.from_counter(counter, args.pattern, args.special_token)
    table.save(args.output)
    print(f"counted {int(table.counts.sum()):,} pieces, {table.n_words:,} unique words in "
          f"{time.perf_counter() - start:.2f} s (pattern {pattern_name(table.pattern)!r}, "
          f"special tokens {args.special_token!r}); saved to {args.output}", file=sys.stderr)
    return 0


def load_tokenizer(spec: str, flag: str = "--tokenizer") -> bpe.Tokenizer:
    """A folder written by Tokenizer.save, or a pretrained name (errors name `flag`)."""
    if Path(spec).is_dir():
        return bpe.Tokenizer.load(spec)
    try:
        return bpe.Tokenizer.from_pretrained(spec)
    except ValueError as e:
        raise ValueError(f"{flag} {spec!r} is not a folder written by Tokenizer.save, "
                         f"nor a pretrained name: {e}") from None


def cmd_encode(args: argparse.Namespace) -> int:
    from bpe.dataset import EncodedFile, encode_file, is_folder_output, output_paths

    # The output's suffix, the outputs and the inputs are checked before the tokenizer loads.
    if is_folder_output(args.output):
        return _encode_shards(args)
    if args.scheduler is not None:
        raise ValueError(f"--scheduler encodes shards on the cluster's workers: give a folder "
                         f"as -o (such as ids/), not the single file {args.output}")
    outputs = [p for p in output_paths(args.output) if p is not None]
    if any(_refuse_existing(p, args.force, False) for p in outputs):
        return 2
    _check_inputs(args.files, args.text_field)
    _refuse_inputs_as_outputs(args.files, outputs)
    tok = load_tokenizer(args.tokenizer)
    start = time.perf_counter()
    result = encode_file(tok, args.files, args.output, workers=args.workers, errors=args.errors,
                         tokenizer_name=args.tokenizer, text_field=args.text_field,
                         dropout=args.dropout, seed=args.seed)
    assert isinstance(result, EncodedFile)
    seconds = time.perf_counter() - start
    if result.sidecar is None:
        saved = f"{result.ids} ({result.dtype}) and {result.offsets}"
    else:
        saved = (f"{result.ids} (raw {result.dtype}, little-endian: np.memmap("
                 f"{os.fspath(result.ids)!r}, dtype=np.{result.dtype}, mode='r')), "
                 f"{result.offsets} and {result.sidecar}")
    _report_encoded(args.files, result, seconds, saved)
    return 0


def _report_encoded(files: list[str], result, seconds: float, saved: str) -> None:
    n_mb = sum(os.path.getsize(f) for f in files) / 1e6
    documents = "document" if result.n_documents == 1 else "documents"
    print(f"encoded {result.n_tokens:,} tokens, {result.n_documents:,} {documents} "
          f"from {n_mb:,.1f} MB in {seconds:.2f} s ({n_mb / max(seconds, 1e-9):,.1f} MB/s); "
          f"saved to {saved}", file=sys.stderr)


def _encode_shards(args: argparse.Namespace) -> int:
    """encode -o FOLDER: shards, on the threads here or on a Dask cluster (--scheduler)."""
    from bpe.dataset import encode_file
    from bpe.shards import EncodedShards

    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"-o {args.output} is a file; expected a folder for shards")
    if folder.is_dir() and any(folder.iterdir()):
        if not args.force:
            print(f"error: {args.output} exists and is not empty (use --force to replace the "
                  f"dataset in it)", file=sys.stderr)
            return 2
        _remove_dataset(folder)
    _check_inputs(args.files, args.text_field)
    tok = load_tokenizer(args.tokenizer)
    client = _dask_client(args.scheduler) if args.scheduler is not None else None
    shard_bytes = None if args.shard_mb is None else max(1, int(args.shard_mb * 1e6))
    start = time.perf_counter()
    try:
        result = encode_file(tok, args.files, folder, workers=args.workers, errors=args.errors,
                             tokenizer_name=args.tokenizer, executor=client,
                             shard_bytes=shard_bytes, shard_format=args.shard_format,
                             text_field=args.text_field, dropout=args.dropout, seed=args.seed)
    finally:
        if client is not None:
            client.close()
    assert isinstance(result, EncodedShards)
    _report_encoded(args.files, result, time.perf_counter() - start,
                    f"{len(result.shards)} shard{'s' * (len(result.shards) != 1)} in {folder}/ "
                    f"({result.dtype}; read them with "
                    f"bpe.open_shards({os.fspath(folder)!r}))")
    return 0


def _remove_dataset(folder: Path) -> None:
    """--force on a folder: remove the sharded dataset in it (its manifest, offsets and
    shards); anything else there is an error, not removed."""
    import json

    from bpe.shards import MANIFEST

    manifest = folder / MANIFEST
    ours = set()
    if manifest.is_file():
        try:
            fields = json.loads(manifest.read_text(encoding="utf-8"))
            ours = {manifest, folder / fields["offsets"],
                    *(folder / entry["path"] for entry in fields["shards"])}
        except (ValueError, KeyError, TypeError):
            pass
    others = sorted(p.name for p in folder.iterdir() if p not in ours)
    if others:
        raise FileExistsError(f"-o {folder} holds files that are not a dataset bpe encode "
                              f"wrote ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}"
                              f"); --force replaces only such a dataset: choose another folder")
    for path in ours:
        path.unlink(missing_ok=True)


def _dask_client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("--scheduler needs Dask's distributed package: "
                          "pip install 'bpe-exact[dask]'") from None
    return Client(address)


DECODE_BLOCK = 1 << 20  # ids per block


def cmd_decode(args: argparse.Namespace) -> int:
    if args.output == "-":
        args.output = None          # stdout, as without -o
    if _refuse_existing(args.output, args.force, False):
        return 2
    _refuse_inputs_as_outputs([args.ids, f"{args.ids}.json"], [args.output])
    from bpe.dataset import load_ids

    ids = load_ids(args.ids)
    tok = load_tokenizer(args.tokenizer)
    _refuse_other_vocabulary(args.ids, tok, args.tokenizer)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write_all(write: Callable[[bytes], object]) -> None:
        # A block may end inside a character: the decoder keeps its bytes for the next one.
        for start in range(0, len(ids), DECODE_BLOCK):
            write(decoder.decode(tok.decode_bytes(ids[start:start + DECODE_BLOCK])).encode("utf-8"))
        write(decoder.decode(b"", final=True).encode("utf-8"))

    if args.output is None:
        sys.stdout.flush()
        try:
            write_all(sys.stdout.buffer.write)
            sys.stdout.buffer.flush()
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    with AtomicFile(args.output) as out:
        write_all(out.write)
        out.commit()
    print(f"decoded {len(ids):,} tokens to {args.output}", file=sys.stderr)
    return 0


def _refuse_other_vocabulary(ids_path: str, tok: bpe.Tokenizer, given: str) -> None:
    """A ValueError where a .bin's sidecar (load_ids has checked it) says its ids come from
    a vocabulary of another size than the tokenizer given: they would decode, but into
    another text. (A .npy records no tokenizer.)"""
    if not ids_path.endswith(".bin"):
        return
    import json

    sidecar = f"{ids_path}.json"
    with open(sidecar, encoding="utf-8") as f:
        fields = json.load(f)
    n_vocab = fields.get("n_vocab")
    if isinstance(n_vocab, int) and n_vocab != tok.n_vocab:
        raise ValueError(f"{ids_path!r} holds ids of tokenizer {fields.get('tokenizer')!r}, "
                         f"whose vocabulary has {n_vocab:,} tokens ({sidecar!r} says so); "
                         f"--tokenizer {given} has {tok.n_vocab:,}: decoding with it would "
                         f"give another text. Pass the tokenizer the ids were encoded with")


_BACKGROUNDS = (153, 186, 217, 151, 223)  # 256-colour pastels: blue, green, pink, teal, peach
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def cmd_show(args: argparse.Namespace) -> int:
    tok = load_tokenizer(args.tokenizer)
    text = args.text if args.text is not None else sys.stdin.read()
    ids = tok.encode(text)
    colour = not args.plain and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    tokens = [token_text(tok.vocab[i]) for i in ids]
    if colour:
        colours = [_BACKGROUNDS[k % len(_BACKGROUNDS)] for k in range(len(ids))]
        # One colour per token: ids, tokens and colours all have len(ids) entries.
        print("".join(_paint(t, c) for t, c in zip(tokens, colours, strict=True)))
        print("[" + ", ".join(_paint(str(i), c) for i, c in zip(ids, colours, strict=True)) + "]")
    else:
        print("|".join(tokens))
        print(ids)
    print(f"{len(ids)} tokens, {len(text)} characters")
    return 0


def _paint(text: str, colour: int) -> str:
    """text on a background colour, each line painted on its own (a newline as a painted ↵)."""
    lines = text.replace("\n", "↵\n").split("\n")
    return "\n".join(f"\x1b[30;48;5;{colour}m{line}\x1b[0m" if line else "" for line in lines)


def token_text(token: bytes) -> str:
    """A token's text as shown: bytes that are not whole UTF-8 characters as \\xNN, and
    control characters other than newline and tab escaped alike."""
    text = token.decode("utf-8", errors="backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _pattern(name: str) -> str:
    """--pattern's value: a built-in pattern's name (checked as the command line is read)."""
    from bpe.patterns import check_pattern

    try:
        return check_pattern(name)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e}; on the command line, give --regex") from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--special-token", action="append", default=[], help="repeatable")
    parser.add_argument("--pattern", type=_pattern, default=None, metavar="NAME",
                        help="the pre-tokenizer's pattern: gpt2, cl100k, o200k, llama3, qwen2 or "
                             "deepseek_v3 "
                             "(or another name for it, such as cl100k_base); default "
                             "gpt2 (train --from-counts: the tables'; train --base: the base's)")
    parser.add_argument("--regex", help="a custom pre-tokenizer pattern instead (the `regex` "
                                        "module's syntax); text it leaves unmatched is kept")
    parser.add_argument("--workers", type=int, default=None,
                        help="threads, or processes for a --regex pattern or records "
                             "(default: all cores)")
    _input_options(parser, "count")
    parser.add_argument("--force", action="store_true", help="overwrite the output")


def _input_options(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument("--errors", choices=["strict", "replace", "skip"], default="strict",
                        help=f"invalid UTF-8 or a bad record (JSONL, Parquet): stop, naming "
                             f"the file and offset, line or row; replace: {verb} invalid "
                             f"UTF-8 as U+FFFD; skip: skip bad records and say how many")
    parser.add_argument("--text-field", default="text", metavar="NAME",
                        help="the JSONL field or Parquet column holding each document's text "
                             "(default: text)")


def _one_blas_thread() -> None:
    """Keep NumPy's OpenBLAS to one thread, where nothing has set it and NumPy is not loaded
    yet. The command does no linear algebra, and OpenBLAS's extra thread spins for about
    0.1 s of CPU after NumPy loads: on 2 cores, a tenth of a second taken from counting."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    _one_blas_thread()
    parser = argparse.ArgumentParser(prog="bpe", description="byte-level BPE tokenizer")
    parser.add_argument("--version", action="version", version=f"%(prog)s {bpe.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a vocabulary on text files or count tables")
    train.add_argument("files", nargs="*", help=f"text, .gz, .zst, JSONL or Parquet files "
                                                f"(default: the bundled {SAMPLE})")
    train.add_argument("--vocab-size", type=int, default=1000,
                       help="tokens in the vocabulary: 256 bytes, the merges and the special "
                            "tokens (default: 1000)")
    train.add_argument("--from-counts", action="append", default=[], metavar="NPZ",
                       help="train on saved count tables instead of files (repeatable: added "
                            "up), with the pattern and special tokens they were counted with")
    train.add_argument("--held-out-mb", type=_megabytes, default=0.0,
                       help="keep this much of the last file out of training "
                            "to measure compression")
    train.add_argument("--min-frequency", type=_int_at_least(0, "a count"), default=0,
                       metavar="N", help="merge only pairs that occur at least N times; "
                                         "training stops when the most frequent pair is rarer")
    train.add_argument("--max-token-length", type=_int_at_least(1, "a number of bytes"),
                       default=None, metavar="BYTES",
                       help="never make a token longer than this many bytes (special tokens "
                            "excepted); default: no limit")
    train.add_argument("--out", help="folder to save the tokenizer to")
    train.add_argument("--base", metavar="TOKENIZER",
                       help="extend this tokenizer (a folder written by Tokenizer.save, or "
                            "gpt2, r50k_base, cl100k_base, o200k_base, o200k_harmony): its "
                            "ids, tokens and merges are kept, and --vocab-size counts them "
                            "too")
    train.add_argument("--specials-last", action="store_true",
                       help="with --base: move its special tokens after the new merges")
    _common(train)
    # No default here: gpt2 for text files, the tables' own for --from-counts, the base's
    # with --base (where a pattern given must agree with theirs).
    train.set_defaults(run=cmd_train, pattern=None)
    count = commands.add_parser("count", help="count the pieces of text files into a table")
    count.add_argument("files", nargs="+", help="text, .gz, .zst, JSONL or Parquet files")
    count.add_argument("-o", "--output", required=True, help="the .npz count table to write")
    _common(count)
    count.set_defaults(run=cmd_count)
    encode = commands.add_parser("encode", help="encode text files into token ids (.npy or .bin)")
    encode.add_argument("files", nargs="+", help="text, .gz, .zst, JSONL or Parquet files, "
                                                 "encoded one after the other")
    encode.add_argument("-o", "--output", required=True,
                        help="the ids file to write: .npy (NumPy) or .bin (raw uint16 or uint32, "
                             "for np.memmap; dtype in <name>.bin.json); document offsets go "
                             "to <stem>.offsets.npy. A folder (no suffix): shards, their "
                             "offsets and manifest.json, for bpe.open_shards")
    encode.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    _input_options(encode, "encode")
    encode.add_argument("--force", action="store_true", help="overwrite the output")
    encode.add_argument("--scheduler", metavar="ADDRESS",
                        help="a Dask scheduler (such as tcp://host:8786) whose workers encode "
                             "the shards; they must see the files and the output folder")
    encode.add_argument("--shard-mb", type=_megabytes, default=None,
                        help="text per shard, for a folder output (default: enough shards for "
                             "every worker, at most 268); a JSONL, Parquet or compressed file "
                             "is one shard")
    encode.add_argument("--shard-format", choices=["npy", "bin"], default="npy",
                        help="the shards' layout, for a folder output")
    encode.add_argument("--dropout", type=_probability, default=None, metavar="P",
                        help="BPE-dropout: skip each merge with probability P (Hugging Face's "
                             "rule)")
    encode.add_argument("--seed", type=int, default=None,
                        help="with --dropout: the same ids on every run (default: random)")
    decode = commands.add_parser("decode", help="turn a file of token ids back into text")
    decode.add_argument("ids", help="a .npy of token ids, or a .bin with its .bin.json, as "
                                    "encode writes them (read memory-mapped)")
    decode.add_argument("-o", "--output", help="the text file to write (default, or '-': stdout)")
    decode.add_argument("--force", action="store_true", help="overwrite the output")
    show = commands.add_parser("show", help="show how a text is cut into tokens, and the ids")
    show.add_argument("text", nargs="?", help="the text (default: read stdin)")
    show.add_argument("--plain", action="store_true",
                      help="| between tokens instead of colours "
                           "(also when not a terminal or NO_COLOR is set)")
    for command, run in [(encode, cmd_encode), (decode, cmd_decode), (show, cmd_show)]:
        command.add_argument("--tokenizer", required=True,
                             help="a folder written by Tokenizer.save, or gpt2, r50k_base, "
                                  "cl100k_base, o200k_base, o200k_harmony")
        command.set_defaults(run=run)
    args = parser.parse_args(argv)
    if getattr(args, "regex", None) is not None:
        from bpe.patterns import pattern_from_text

        if args.pattern is not None:
            parser.error("give --pattern or --regex, not both")
        try:
            args.pattern = pattern_from_text(args.regex)
        except ValueError as e:
            parser.error(f"--regex: {e}")
    elif args.command == "count" and args.pattern is None:
        args.pattern = "gpt2"
    try:
        with warnings.catch_warnings():     # restores showwarning when the command ends
            warnings.showwarning = _show_warning
            return args.run(args)
    except (ValueError, TypeError, OSError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the command's other messages: `warning: ...` on stderr."""
    print(f"warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
