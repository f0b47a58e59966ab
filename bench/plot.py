"""Bar chart of one bench/compare.py run: throughput per tool, grouped by task.

    python bench/compare.py --repeats 5 --mb 10 | tee out.md
    python bench/plot.py out.md bench/plots/results.png

compare.py prints a Markdown table (task, tool, median s, MB/s, peak RSS MB, ...) under a
`Machine:` line; this script reads the first such table in the file and draws one panel
per task, one horizontal bar per tool, on a logarithmic MB/s axis (the tools span three
orders of magnitude), each bar labelled with its MB/s and its peak RSS. bpe's bars are
coloured apart from the peers'. Rows that failed are left out. The chart shows a single
run, so its figures compare only with each other; the machine, date and command go in
the title.

The chart is drawn from the table rather than by hand so that the README's picture of a
run always matches that run's figures: rerun this whenever the table is replaced.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    task: str
    tool: str
    mb_per_s: float
    rss_mb: float


def read_table(text: str) -> tuple[list[Row], str, str]:
    """The rows of the first compare.py table in `text`, its `Machine:` line's value and the
    command named on its `Input:` line (empty where either line is missing)."""
    machine = command = ""
    rows: list[Row] = []
    columns: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Machine:") and not machine:
            machine = line[len("Machine:"):].strip()
        if line.startswith("Input:") and "command:" in line and not command:
            command = line.split("command:", 1)[1].strip()
        if not line.startswith("|"):
            if rows:
                break           # the first table has ended
            columns = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if columns is None:
            if cells[:2] == ["task", "tool"]:
                columns = cells
            continue
        if set(cells[0]) <= set("-:"):
            continue            # the separator row
        field = dict(zip(columns, cells, strict=False))   # a short row lacks the note
        try:
            rows.append(Row(field["task"], field["tool"], float(field["MB/s"]),
                            float(field["peak RSS MB"])))
        except (KeyError, ValueError):
            continue            # a failed run: "–" in place of its figures
    return rows, machine, command


def is_ours(tool: str) -> bool:
    return tool == "bpe" or tool.startswith("bpe ")


def plot(rows: list[Row], subtitle: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(row.task for row in rows))
    groups = {task: [row for row in rows if row.task == task] for task in tasks}
    fig, axes = plt.subplots(
        len(tasks), 1, sharex=True, squeeze=False, dpi=120,
        figsize=(9, 0.9 + 0.3 * len(rows) + 0.45 * len(tasks)),
        gridspec_kw={"height_ratios": [len(groups[task]) for task in tasks]},
    )
    low = min(row.mb_per_s for row in rows)
    high = max(row.mb_per_s for row in rows)
    for ax, task in zip(axes[:, 0], tasks, strict=True):
        group = groups[task]
        positions = range(len(group))
        bars = ax.barh(positions, [row.mb_per_s for row in group], height=0.7,
                       color=["#1f77b4" if is_ours(row.tool) else "#b0b0b0" for row in group])
        labels = [f" {row.mb_per_s:,.1f} MB/s · {row.rss_mb:,.0f} MB RSS" for row in group]
        ax.bar_label(bars, labels, fontsize=7)
        ax.set_yticks(list(positions), [row.tool for row in group], fontsize=8)
        ax.invert_yaxis()       # the table's order, top to bottom
        ax.set_title(task, loc="left", fontsize=9, fontweight="bold")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    ax = axes[-1, 0]
    ax.set_xscale("log")
    ax.set_xlim(low / 1.5, high * 8)    # room on the right for the labels
    ax.set_xlabel("MB/s of UTF-8 text (log scale; longer is faster)")
    title = "bench/compare.py: throughput and peak RSS, one run"
    fig.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", help="compare.py's output saved to a file ('-': stdin)")
    parser.add_argument("out", type=Path, nargs="?", default=Path("bench/plots/results.png"),
                        help="the PNG to write (default: bench/plots/results.png)")
    args = parser.parse_args()
    text = sys.stdin.read() if args.table == "-" else Path(args.table).read_text(encoding="utf-8")
    rows, machine, command = read_table(text)
    if not rows:
        raise SystemExit(f"{args.table}: no compare.py table (| task | tool | ... |) found")
    subtitle = "\n".join(re.sub(r"\s+", " ", part) for part in (machine, command) if part)
    plot(rows, subtitle, args.out)
    print(f"{args.out}: {len(rows)} rows")


if __name__ == "__main__":
    main()
