"""`python -m bpe ...`: train a tokenizer from the command line.

    python -m bpe train                       # the bundled sample corpus, vocab 1000
    python -m bpe train corpus.txt --vocab-size 10000 --special-token '<|endoftext|>' --out tok/
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from importlib import resources
from pathlib import Path

import bpe

SAMPLE = "corpus.en"


def sample_corpus() -> Path:
    """The bundled sample corpus (CS336's training fixture, MIT licence)."""
    return Path(str(resources.files("bpe.data") / SAMPLE))


def cmd_train(args) -> int:
    paths = args.files or [sample_corpus()]
    if args.out and Path(args.out).exists() and any(Path(args.out).iterdir()) and not args.force:
        print(f"error: {args.out} exists and is not empty (use --force to overwrite)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    tok = bpe.train(paths, args.vocab_size, args.special_token, pattern=args.pattern)
    seconds = time.perf_counter() - start
    n_bytes = sum(Path(p).stat().st_size for p in paths)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"trained on {len(paths)} file(s), {n_bytes / 1e6:.2f} MB: {len(tok.merges)} merges, "
          f"vocab {len(tok.vocab)}, {seconds:.2f} s, peak RSS {peak_mb:.0f} MB")
    longest = sorted(tok.vocab.values(), key=len, reverse=True)[:10]
    print("longest tokens:", ", ".join(repr(t.decode("utf-8", "replace")) for t in longest))
    sample = Path(paths[0]).read_text(encoding="utf-8")[:100_000]
    print(f"compression on the first 100 kB: {bpe.compression_ratio(tok, sample):.2f} bytes/token "
          f"(bytes: 1.00)")
    if args.out:
        tok.save(args.out)
        print(f"saved to {args.out}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bpe", description="byte-level BPE tokenizer")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a vocabulary on text files")
    train.add_argument("files", nargs="*", help=f"UTF-8 text files (default: the bundled {SAMPLE})")
    train.add_argument("--vocab-size", type=int, default=1000)
    train.add_argument("--special-token", action="append", default=[], help="repeatable")
    train.add_argument("--pattern", default="gpt2", help="gpt2, cl100k, o200k or a regex")
    train.add_argument("--out", help="folder to save the tokenizer to")
    train.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    train.set_defaults(run=cmd_train)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
