"""How training's time and memory grow with workers: bpe on the mix corpus written --copies
times over (624 MB at 8), trained to --vocab-size with each number of --workers.

    python bench/workers.py                          # 1, 2, 4, 8 and 16 workers, 8 copies
    python bench/workers.py --workers 1,16 --copies 2 --tools "bpe,bpe (processes)"

Every (workers, tool) run is a process of its own (bench/compare.py's worker), so its peak
RSS, of the whole process tree, is that run's alone. "× 1 worker" divides by the same
tool's 1-worker run: with threads (bpe's default for its own patterns) memory should stay
near it however many workers count, as only the chunks in flight and the threads' bounded
tables grow with them (docs/architecture.md, "Training: counting"). More workers than
cores measure memory, not speed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import machine, run_one
from corpus import copies_of, corpus_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4,8,16", help="comma-separated")
    parser.add_argument("--copies", type=int, default=8, help="the corpus this many times over")
    parser.add_argument("--vocab-size", type=int, default=32_000)
    parser.add_argument("--tools", default="bpe", help='"bpe" (threads), "bpe (processes)"')
    parser.add_argument("--input", type=Path, help="UTF-8 text (default: the mix corpus)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    path = copies_of(args.input or corpus_path(), args.copies)
    counts = [int(w) for w in args.workers.split(",")]
    print(f"Machine: {machine()}; input: {path.name} ({path.stat().st_size / 1e6:.0f} MB); "
          f"command: python bench/workers.py {' '.join(sys.argv[1:])}\n")
    print("| tool | workers | s | peak RSS MB | × 1 worker's RSS |")
    print("|---|---:|---:|---:|---:|")
    for tool in args.tools.split(","):
        first = None
        for workers in counts:
            run = SimpleNamespace(input=path, mb=0, repeats=1, vocab_size=args.vocab_size,
                                  timeout=args.timeout, workers=workers)
            result = run_one("train", tool, run)
            if isinstance(result, str):
                print(f"| {tool} | {workers} | failed: {result} | – | – |", flush=True)
                continue
            rss = result["peak_rss_mb"]
            first = first or (rss if workers == 1 else None)
            ratio = f"{rss / first:.2f}×" if first else "–"
            print(f"| {tool} | {workers} | {result['seconds'][0]:.2f} | {rss:.0f} | {ratio} |",
                  flush=True)


if __name__ == "__main__":
    main()
