"""Is a change faster? bpe's encode time at this checkout against another commit's, measured
in processes run in turn.

    python bench/ab.py BASE                       # GPT-2, text not seen before, to NumPy
    python bench/ab.py BASE --vocab o200k_base --mode seen --to list --rounds 6

BASE is a commit, checked out once into bench/.cache/ab-COMMIT (a git worktree; the cache
folder is BPE_BENCH_CACHE's where set) and built there in place, or the folder of a checkout
already built. This checkout runs as it is built. A round runs one process of each side, the
order alternating from round to round, so that the machine's drift falls on both. Each
process loads the tokenizer and times encode as `compare.py` does: `unseen` warms up on one
--mb MB slice and times each repeat on a further slice; `seen` encodes one slice twice, then
times each repeat on a new copy of it. It reports the median of its repeats; the table gives
each side's medians in the order run, the median of them and the process's peak RSS.
Remove a base built here with `git worktree remove bench/.cache/ab-COMMIT`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CACHE, corpus_path

HERE = Path(__file__).resolve().parent.parent


def git(*args: str, cwd: Path = HERE) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def slices(path: Path, mb: float):
    """Consecutive slices of mb MB of the text at path, read one at a time."""
    with open(path, encoding="utf-8") as f:
        while text := f.read(int(mb * 1_000_000)):
            yield text


def commit_of(root: Path) -> str:
    """The checkout's commit, and whether its tracked files differ from it."""
    changed = git("status", "--porcelain", "--untracked-files=no", cwd=root)
    return git("rev-parse", "--short", "HEAD", cwd=root) + (" + changes" if changed else "")


def checkout(base: str) -> Path:
    """The folder of a built checkout of base (a folder, or a commit built once)."""
    if Path(base).is_dir():
        return Path(base).resolve()
    try:
        commit = git("rev-parse", "--verify", "--short", f"{base}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"{base!r} is neither a folder nor a commit of {HERE}") from None
    root = CACHE / f"ab-{commit}"
    if not root.exists():
        git("worktree", "add", "--detach", str(root), commit)
    if not list((root / "bpe").glob("_encode*.so")):
        print(f"building {commit} in {root}", file=sys.stderr)
        command = [sys.executable, "setup.py", "-q", "build_ext", "--inplace",
                   "-j", str(os.cpu_count() or 1)]
        built = subprocess.run(command, cwd=root, capture_output=True, text=True)
        if built.returncode != 0:
            raise SystemExit(f"building {commit} failed:\n{built.stderr[-4000:]}")
    return root


def child(root: Path, args: argparse.Namespace) -> None:
    """Time encode with the bpe of root; print the median (ms) and the peak RSS (MB)."""
    import resource

    sys.path.insert(0, str(root))
    import bpe

    if not Path(bpe.__file__).resolve().is_relative_to(root):
        raise SystemExit(f"bpe came from {bpe.__file__}, not from {root}")
    tok = bpe.get_encoding(args.vocab)
    encode = tok.encode_to_numpy if args.to == "numpy" else tok.encode

    def fn(text: str):
        return encode(text, disallowed_special=())

    texts = slices(Path(args.input), args.mb)
    first = next(texts, "")
    if not first:
        raise SystemExit(f"{args.input} is empty")
    fn(first)
    if args.mode == "seen":
        fn(first[:-1] + first[-1:])
    seconds = []
    for _ in range(args.repeats):
        # seen: a new str each time, so that nothing kept on the old one is reused
        given = next(texts, None) if args.mode == "unseen" else first[:-1] + first[-1:]
        if given is None:
            raise SystemExit(f"{args.input} holds fewer than {args.repeats + 1} slices of "
                             f"{args.mb:g} MB: fewer --repeats, or a smaller --mb")
        start = time.perf_counter()
        result = fn(given)
        seconds.append(time.perf_counter() - start)
        del result                               # freed before the next clock starts
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms": statistics.median(seconds) * 1e3, "rss_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="a commit, or the folder of a built checkout")
    parser.add_argument("--vocab", default="gpt2", help="a name for bpe.get_encoding")
    parser.add_argument("--mode", choices=("unseen", "seen"), default="unseen")
    parser.add_argument("--to", choices=("numpy", "list"), default="numpy")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="timed encodes a process")
    parser.add_argument("--mb", type=float, default=10)
    parser.add_argument("--input", default=None, help="UTF-8 text (default: the mix corpus)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.input is None:
        args.input = str(corpus_path())
    if args.child:
        child(Path(args.child), args)
        return
    sides = {"this": HERE, "base": checkout(args.base)}
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    options = [f"--{name}={getattr(args, name)}"
               for name in ("vocab", "mode", "to", "repeats", "mb", "input")]
    for r in range(args.rounds):
        for side in (("this", "base") if r % 2 == 0 else ("base", "this")):
            done = subprocess.run([sys.executable, __file__, args.base,
                                   f"--child={sides[side]}", *options],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"the {side} process failed:\n{done.stderr}")
            runs[side].append(json.loads(done.stdout.splitlines()[-1]))
    print(f"{args.vocab}, text {'not ' if args.mode == 'unseen' else ''}seen before, to "
          f"{'NumPy' if args.to == 'numpy' else 'a list'}, {args.mb:g} MB slices; "
          f"{args.rounds} rounds of one process a side\n")
    print("| side | checkout | commit | medians in the order run, ms | median ms | peak RSS MB |")
    print("|---|---|---|---|---:|---:|")
    medians = {}
    for side, root in sides.items():
        ms = [run["ms"] for run in runs[side]]
        medians[side] = statistics.median(ms)
        rss = max(run["rss_mb"] for run in runs[side])
        print(f"| {side} | {root} | {commit_of(root)} | "
              f"{' '.join(f'{m:.1f}' for m in ms)} | {medians[side]:.1f} | {rss:.0f} |")
    print(f"\nthis ÷ base: {medians['this'] / medians['base']:.3f}")


if __name__ == "__main__":
    main()
