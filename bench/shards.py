"""encode_file to one .npy against a folder of shards, on threads and on a Dask cluster.

    python bench/shards.py                          # the mix corpus, gpt2, 2 workers
    python bench/shards.py --input big.txt --tokenizer cl100k_base --workers 4 --repeats 5

Each way runs in a process of its own (peak RSS is that run's): `file` (encode_file to
ids.npy on threads), `folder` (shards on threads) and `dask` (shards on a
distributed.LocalCluster of --workers processes, one thread each; the workers' peak RSS is
reported apart). Every way's ids are checked equal to `file`'s before any time counts.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus_path

WAYS = ("file", "folder", "dask")


def run(way: str, inputs: list[str], tokenizer: str, workers: int, repeats: int) -> dict:
    """One way, timed `repeats` times after a first run whose ids are returned checked."""
    import numpy as np

    import bpe
    from bpe.dataset import encode_file

    tok = bpe.get_encoding(tokenizer)
    client = cluster = None
    if way == "dask":
        import distributed

        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeats + 1):
            out = Path(tmp) / (f"ids{k}.npy" if way == "file" else f"ids{k}")
            start = time.perf_counter()
            result = encode_file(tok, inputs, out, workers=workers, executor=client)
            seconds.append(time.perf_counter() - start)
            if k == 0:      # a checksum, a block at a time (a whole copy would count in RSS)
                ids = np.load(out, mmap_mode="r") if way == "file" else bpe.open_shards(out)
                digest = (len(ids), sum(int(ids[i:i + (1 << 20)].sum(dtype=np.int64))
                                        for i in range(0, len(ids), 1 << 20)),
                          result.n_documents)
                del ids
    workers_rss = None
    if client is not None:
        workers_rss = max(client.run(lambda: resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss).values()) / 1024
        client.close()
        cluster.close()
    return {"way": way, "seconds": statistics.median(seconds[1:]), "digest": digest,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers_rss_mb": workers_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", action="append", help="text files (default: the mix corpus)")
    parser.add_argument("--tokenizer", default="gpt2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--one", help=argparse.SUPPRESS)       # a way, in its own process
    args = parser.parse_args()
    inputs = args.input or [str(corpus_path())]
    if args.one:
        print(json.dumps(run(args.one, inputs, args.tokenizer, args.workers, args.repeats)))
        return
    n_mb = sum(Path(p).stat().st_size for p in inputs) / 1e6
    rows = []
    for way in args.ways.split(","):
        done = subprocess.run([sys.executable, __file__, "--one", way, "--tokenizer",
                               args.tokenizer, "--workers", str(args.workers), "--repeats",
                               str(args.repeats), *[a for p in inputs for a in ("--input", p)]],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if len({tuple(row["digest"]) for row in rows}) != 1:
        raise SystemExit(f"the ways gave different ids: {[r['digest'] for r in rows]}")
    print(f"{n_mb:.1f} MB, {args.tokenizer}, {args.workers} workers, median of "
          f"{args.repeats}\n")
    print("| output | executor | s | MB/s | peak RSS, client (MB) | peak RSS, each worker (MB) |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        out, executor = {"file": ("ids.npy", "threads"), "folder": ("folder", "threads"),
                         "dask": ("folder", "LocalCluster")}[row["way"]]
        worker = "" if row["workers_rss_mb"] is None else f"{row['workers_rss_mb']:.0f}"
        print(f"| {out} | {executor} | {row['seconds']:.2f} | {n_mb / row['seconds']:.0f} | "
              f"{row['rss_mb']:.0f} | {worker} |")


if __name__ == "__main__":
    main()
