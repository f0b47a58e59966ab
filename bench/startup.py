"""Start-up cost: what a program pays before its first token, bpe against tiktoken.

    python bench/startup.py                          # about 45 s on 2 cores
    python bench/startup.py --names gpt2 --import-repeats 20 --repeats 5

Why: a tokenizer is often loaded by short-lived programs (a CLI, a test, a data-loader
worker, a serverless handler), where start-up is the whole cost. Three measurements, each
in fresh processes so no run finds another's modules, files or memory warm:

  import     `python -c "import X"` wall time, median of --import-repeats processes (with
             `python -c pass` for the interpreter alone), and the import as the process
             times it itself, with its peak RSS
  load       a pretrained vocabulary ready to encode: bpe's Tokenizer.from_pretrained(name)
             against tiktoken.Encoding built from the same local files (gpt2 by
             data_gym_to_mergeable_bpe_ranks on vocab.bpe + encoder.json, cl100k_base and
             o200k_base by load_tiktoken_bpe on the rank file), same pattern and special
             tokens. Nothing is downloaded; tiktoken's file cache is off (TIKTOKEN_CACHE_DIR
             empty). tiktoken reads the rank file decompressed (as its cache holds it), bpe
             its precomputed tables (data/pretrained/<name>.tables) after checking them
             against its bundled files. Timed from before the import (bpe's import is lazy:
             the kernels load here), then the first encode of a short text on its own
  unpickle   the import and pickle.loads of that tokenizer (pickled once beforehand), as a
             process that receives one (a multiprocessing worker) pays: bpe's pickle names
             the bundled vocabulary, loaded as above; tiktoken rebuilds its CoreBPE from the
             ranks

Each process measures its own time (perf_counter) and peak RSS (getrusage ru_maxrss, so
the interpreter and the imports are in it). Times are medians over --repeats processes,
bpe and tiktoken alternating. Prints a Markdown table, with the machine and the date.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import machine

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "data" / "pretrained"
NAMES = ("gpt2", "cl100k_base", "o200k_base")
TOOLS = ("bpe", "tiktoken")
SAMPLE = "Hello world, the tokenizer is ready."

# Each measurement is a fresh `python -c` of one of these: import, build, print one JSON line.
# The peak RSS is read before `json` is imported, so it is the tool's alone.
PRELUDE = """
import resource, time
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
IMPORT = {
    "bpe": "import bpe",
    "tiktoken": "import tiktoken, tiktoken.load",
}
BUILD = {
    "bpe": "tok = bpe.Tokenizer.from_pretrained(NAME)",
    "tiktoken": """
if NAME == "gpt2":
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(FILES[0], FILES[1])
else:
    ranks = tiktoken.load.load_tiktoken_bpe(FILES[0])
tok = tiktoken.Encoding(NAME, pat_str=PATTERN, mergeable_ranks=ranks, special_tokens=SPECIALS)
""",
}


def script(body: str, **constants) -> str:
    lines = [f"{key} = {value!r}" for key, value in constants.items()]
    return "\n".join([PRELUDE, *lines, textwrap.dedent(body)])


def run(code: str, env: dict[str, str]) -> dict:
    """Run code in a fresh interpreter; the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"a measurement failed:\n{code}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_code(tool: str) -> str:
    return script(f"""
        start = time.perf_counter()
        {IMPORT[tool]}
        seconds = time.perf_counter() - start
        rss = peak_mb()
        import json
        print(json.dumps({{"seconds": seconds, "rss": rss}}))
    """)


# The end of a load or unpickle script: its time so far, then the first encode's, and its
# peak RSS, as one JSON line.
TIMED_TAIL = """
seconds = time.perf_counter() - start
start = time.perf_counter()
tok.encode(SAMPLE)
first = time.perf_counter() - start
rss = peak_mb()
import json
print(json.dumps({"seconds": seconds, "first": first, "rss": rss}))
"""


def load_code(tool: str, name: str, spec: dict) -> str:
    return script(f"""
        start = time.perf_counter()
        {IMPORT[tool]}
        {textwrap.indent(textwrap.dedent(BUILD[tool]), " " * 8).strip()}
        {textwrap.indent(TIMED_TAIL, " " * 8).strip()}
    """, NAME=name, **spec)


def pickle_code(tool: str, name: str, spec: dict, blob: Path) -> str:
    return script(f"""
        import pickle
        with open(BLOB, "rb") as f:
            data = f.read()
        start = time.perf_counter()
        {IMPORT[tool]}
        tok = pickle.loads(data)
        {textwrap.indent(TIMED_TAIL, " " * 8).strip()}
    """, NAME=name, BLOB=str(blob), **spec)


def dump_code(tool: str, name: str, spec: dict, blob: Path) -> str:
    return script(f"""
        import pickle
        {IMPORT[tool]}
        {textwrap.indent(textwrap.dedent(BUILD[tool]), " " * 8).strip()}
        with open(BLOB, "wb") as f:
            pickle.dump(tok, f)
        import json
        print(json.dumps({{}}))
    """, NAME=name, BLOB=str(blob), **spec)


def specs(names: list[str], folder: Path) -> dict[str, dict]:
    """name -> the constants both tools build it from: files, pattern, special tokens.
    tiktoken's rank files are decompressed into `folder` (once, untimed)."""
    from bpe.patterns import PATTERNS
    from bpe.pretrained import PRETRAINED as BUNDLED

    out = {}
    for name in names:
        bundled = BUNDLED[name]
        if name == "gpt2":
            files = [str(PRETRAINED / "vocab.bpe"), str(PRETRAINED / "encoder.json")]
        else:
            plain = folder / f"{name}.tiktoken"
            with gzip.open(PRETRAINED / f"{name}.tiktoken.gz", "rb") as src, \
                    open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            files = [str(plain)]
        out[name] = {"FILES": files, "PATTERN": PATTERNS[bundled.pattern],
                     "SPECIALS": dict(bundled.special_tokens), "SAMPLE": SAMPLE}
    return out


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    return time.perf_counter() - start


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", default=",".join(NAMES), help="pretrained vocabularies")
    parser.add_argument("--import-repeats", type=int, default=10,
                        help="fresh processes per import measurement")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh processes per load and unpickle measurement")
    args = parser.parse_args()
    names = args.names.split(",")
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": ""}   # read the given files, cache nothing
    started = time.perf_counter()

    print(f"Machine: {machine()}")
    print(f"Command: python bench/startup.py {' '.join(sys.argv[1:])}\n")
    print("| what | tool | median s | peak RSS MB | time vs tiktoken | note |")
    print("|---|---|---:|---:|---:|---|")

    def row(what: str, tool: str, seconds: float, rss: float | None, base: float | None,
            note: str) -> None:
        ratio = f"{seconds / base:.2f}×" if base else "–"
        rss_text = f"{rss:.0f}" if rss is not None else "–"
        print(f"| {what} | {tool} | {seconds:.3f} | {rss_text} | {ratio} | {note} |",
              flush=True)

    # import: wall time of whole processes, then the import as timed inside them
    walls: dict[str, list[float]] = {"python": [], **{t: [] for t in TOOLS}}
    inside: dict[str, list[dict]] = {t: [] for t in TOOLS}
    for _ in range(args.import_repeats):
        walls["python"].append(wall([sys.executable, "-c", "pass"], env))
        for tool in TOOLS:
            walls[tool].append(wall([sys.executable, "-c", IMPORT[tool]], env))
            inside[tool].append(run(import_code(tool), env))
    n = args.import_repeats
    row("start-up", "python -c pass", statistics.median(walls["python"]), None, None,
        f"the interpreter alone, {n} processes")
    base = statistics.median(walls["tiktoken"])
    for tool in TOOLS:
        row("start-up", f"python -c \"{IMPORT[tool]}\"", statistics.median(walls[tool]), None,
            base, f"wall time of the whole process, {n} processes")
    base = median(inside["tiktoken"], "seconds")
    for tool in TOOLS:
        row("import", tool, median(inside[tool], "seconds"), median(inside[tool], "rss"), base,
            f"`{IMPORT[tool]}` timed inside the process")

    with tempfile.TemporaryDirectory(prefix="bpe-startup-") as folder:
        spec = specs(names, Path(folder))
        for name in names:
            loads: dict[str, list[dict]] = {t: [] for t in TOOLS}
            for _ in range(args.repeats):
                for tool in TOOLS:
                    loads[tool].append(run(load_code(tool, name, spec[name]), env))
            base = median(loads["tiktoken"], "seconds")
            for tool in TOOLS:
                how = ("import + Tokenizer.from_pretrained" if tool == "bpe"
                       else "import + Encoding from the local files")
                row(f"load {name}", tool, median(loads[tool], "seconds"),
                    median(loads[tool], "rss"), base,
                    f"{how}; then first encode {median(loads[tool], 'first') * 1e3:.1f} ms")

        for name in names:
            blobs = {t: Path(folder) / f"{t}-{name}.pickle" for t in TOOLS}
            for tool in TOOLS:
                run(dump_code(tool, name, spec[name], blobs[tool]), env)
            loads = {t: [] for t in TOOLS}
            for _ in range(args.repeats):
                for tool in TOOLS:
                    loads[tool].append(run(pickle_code(tool, name, spec[name], blobs[tool]),
                                           env))
            base = median(loads["tiktoken"], "seconds")
            for tool in TOOLS:
                size = blobs[tool].stat().st_size / 1e6
                row(f"unpickle {name}", tool, median(loads[tool], "seconds"),
                    median(loads[tool], "rss"), base,
                    f"import + pickle.loads of {size:.1f} MB; then first encode "
                    f"{median(loads[tool], 'first') * 1e3:.1f} ms")
    print(f"\n{args.repeats} processes per load and unpickle row; "
          f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
