"""`python -m bpe ...`: train tokenizers and count corpora from the command line.

    python -m bpe train                       # the bundled sample corpus, vocab 1000
    python -m bpe train data/*.txt --vocab-size 32000 --special-token '<|endoftext|>' \\
        --pattern gpt2 --workers 8 --out tok/
    python -m bpe count shard1/*.txt -o shard1.npz --special-token '<|endoftext|>'
    python -m bpe train --from-counts shard1.npz --from-counts shard2.npz --vocab-size 32000 --out tok/
"""
from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path

import bpe
from bpe.counting import count_files

SAMPLE = "corpus.en"


def sample_corpus() -> Path:
    """The bundled sample corpus (CS336's training fixture, MIT licence)."""
    return Path(str(resources.files("bpe.data") / SAMPLE))


def _refuse_existing(path: str | None, force: bool, is_folder: bool) -> bool:
    if path is None or force:
        return False
    target = Path(path)
    if target.exists() and (not is_folder or any(target.iterdir())):
        print(f"error: {path} exists{' and is not empty' if is_folder else ''} "
              f"(use --force to overwrite)", file=sys.stderr)
        return True
    return False


def cmd_train(args) -> int:
    if _refuse_existing(args.out, args.force, is_folder=True):
        return 2
    if args.from_counts:
        inputs = bpe.WordTable.merge(bpe.WordTable.load(p) for p in args.from_counts)
    else:
        inputs = args.files or [sample_corpus()]
    start = time.perf_counter()
    tok = bpe.train(inputs, args.vocab_size, args.special_token, pattern=args.pattern,
                    workers=args.workers, errors=args.errors,
                    held_out_bytes=int(args.held_out_mb * 1e6))
    print(f"trained {tok!r} in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    if args.out:
        tok.save(args.out)
        print(f"saved to {Path(args.out)}/", file=sys.stderr)
    return 0


def cmd_count(args) -> int:
    if _refuse_existing(args.output, args.force, is_folder=False):
        return 2
    start = time.perf_counter()
    counter = count_files(args.files, args.pattern, args.special_token, workers=args.workers,
                          errors=args.errors)
    table = bpe.WordTable.from_counter(counter)
    table.save(args.output)
    print(f"counted {int(table.counts.sum()):,} pieces, {table.n_words:,} unique words in "
          f"{time.perf_counter() - start:.2f} s; saved to {args.output}", file=sys.stderr)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--special-token", action="append", default=[], help="repeatable")
    parser.add_argument("--pattern", default="gpt2", help="gpt2, cl100k, o200k or a regex")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--errors", choices=["strict", "replace"], default="strict",
                        help="invalid UTF-8: stop with its file and offset, or count U+FFFD")
    parser.add_argument("--force", action="store_true", help="overwrite the output")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bpe", description="byte-level BPE tokenizer")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a vocabulary on text files or count tables")
    train.add_argument("files", nargs="*", help=f"UTF-8 text files (default: the bundled {SAMPLE})")
    train.add_argument("--vocab-size", type=int, default=1000)
    train.add_argument("--from-counts", action="append", default=[], metavar="NPZ",
                       help="train on saved count tables instead of files (repeatable: added up)")
    train.add_argument("--held-out-mb", type=float, default=0.0,
                       help="keep this much of the last file out of training to measure compression")
    train.add_argument("--out", help="folder to save the tokenizer to")
    _common(train)
    train.set_defaults(run=cmd_train)
    count = commands.add_parser("count", help="count the pieces of text files into a table")
    count.add_argument("files", nargs="+", help="UTF-8 text files")
    count.add_argument("-o", "--output", required=True, help="the .npz count table to write")
    _common(count)
    count.set_defaults(run=cmd_count)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
