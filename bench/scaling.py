"""How training cost grows with corpus size: bpe and its peers on 10, 20, 40 and 78 MB.

    python bench/scaling.py                     # table on stdout, plot in bench/plots/
    python bench/scaling.py --sizes 5,10 --tools gigatoken

Each slice is the start of the mix corpus cut at a document boundary; every (size, tool)
pair trains to --vocab-size in its own process (bench/compare.py's worker), so peak RSS is
that run's alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import machine, run_one, tools_for
from corpus import slice_of

PLOTS = Path(__file__).resolve().parent / "plots"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,20,40,78", help="MB, comma-separated")
    parser.add_argument("--vocab-size", type=int, default=10_000)
    parser.add_argument("--tools", help="peers besides bpe (default: every trainer installed)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    tools = ["bpe", *(args.tools.split(",") if args.tools else tools_for("train")[1:])]
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"Machine: {machine()}; command: python bench/scaling.py {' '.join(sys.argv[1:])}\n")
    print("| MB | " + " | ".join(f"{t} s | {t} RSS MB" for t in tools) + " |")
    print("|---:|" + "---:|---:|" * len(tools))
    seconds: dict[str, list[float | None]] = {t: [] for t in tools}
    for mb in sizes:
        path = slice_of(mb)
        row = [f"{path.stat().st_size / 1e6:.0f}"]
        for tool in tools:
            run = SimpleNamespace(input=path, mb=mb, repeats=1, vocab_size=args.vocab_size,
                                  timeout=args.timeout)
            result = run_one("train", tool, run)
            if isinstance(result, str):
                seconds[tool].append(None)
                row += ["failed", "–"]
            else:
                seconds[tool].append(result["seconds"][0])
                row += [f"{result['seconds'][0]:.2f}", f"{result['peak_rss_mb']:.0f}"]
        print("| " + " | ".join(row) + " |", flush=True)
    plot(sizes, seconds, args.vocab_size)


def plot(sizes: list[float], seconds: dict[str, list[float | None]], vocab_size: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for tool, values in seconds.items():
        points = [(mb, s) for mb, s in zip(sizes, values, strict=True) if s is not None]
        ax.plot(*zip(*points, strict=True), marker="o", label=tool,
                linewidth=2.5 if tool == "bpe" else 1.2)
    ax.set_xlabel("corpus MB (mix corpus slices)")
    ax.set_ylabel("seconds, end-to-end training")
    ax.set_title(f"Training to vocab {vocab_size:,}: time vs corpus size")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = PLOTS / "train_scaling.png"
    fig.savefig(out)
    print(f"\nplot: {out.relative_to(PLOTS.parent.parent)}")


if __name__ == "__main__":
    main()
