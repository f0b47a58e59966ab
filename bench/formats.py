"""Reading each input format: counting (train's first phase) and encode_file, against the
plain text of the same documents.

    python bench/formats.py                       # 10 MB of the mix corpus, all cores
    python bench/formats.py --mb 78 --workers 1 --repeats 3

The first --mb MB of the mix corpus (cut at a document boundary), split at <|endoftext|>
into documents, is written as text (the documents joined by <|endoftext|>) and as each
other format: .txt.gz, .txt.zst, .jsonl, .jsonl.gz, .jsonl.zst and .parquet (zstd
row groups of 1,000 rows, as Hugging Face writes them). Each is counted with
count_files (GPT-2's pattern, <|endoftext|> special) and encoded with encode_file (GPT-2,
a fresh tokenizer each run, so none reuses a cache of the text), medians of --repeats
runs after a warm-up; the counts and ids are checked equal to the text's. MB/s is
megabytes of the documents' text (the .txt's size) per second, so the rows compare.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import machine
from corpus import slice_of

EOT = "<|endoftext|>"
FORMATS = [".txt", ".txt.gz", ".txt.zst", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"]


def write_formats(text: str, folder: Path) -> dict[str, Path]:
    """The documents of text (cut at <|endoftext|>) in every format."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    docs = text.split(EOT)
    data = EOT.join(docs).encode("utf-8")
    lines = "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs).encode()
    paths = {ending: folder / f"docs{ending}" for ending in FORMATS}
    paths[".txt"].write_bytes(data)
    paths[".txt.gz"].write_bytes(gzip.compress(data, 6))
    paths[".txt.zst"].write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    paths[".jsonl"].write_bytes(lines)
    paths[".jsonl.gz"].write_bytes(gzip.compress(lines, 6))
    paths[".jsonl.zst"].write_bytes(zstandard.ZstdCompressor(level=3).compress(lines))
    pq.write_table(pa.table({"text": docs}), paths[".parquet"], row_group_size=1000,
                   compression="zstd")
    return paths


def median_seconds(run, repeats: int) -> tuple[float, object]:
    run()                                   # warm-up: imports, the file in the page cache
    seconds, result = [], None
    for _ in range(repeats):
        result = None
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def measure(paths: dict[str, Path], workers: int | None, repeats: int, folder: Path):
    """(format, file MB, count s, encode s) rows; counts and ids checked against the text's."""
    import numpy as np

    import bpe
    from bpe.counting import count_files
    from bpe.dataset import encode_file

    def count(path):
        return bpe.WordTable.from_counter(count_files([path], "gpt2", [EOT], workers=workers))

    def encode(path):
        tok = bpe.Tokenizer.from_pretrained("gpt2")
        return np.load(encode_file(tok, path, folder / "ids.npy", workers=workers,
                                   progress=False).ids)

    rows, expected = [], None
    for ending, path in paths.items():
        count_s, table = median_seconds(lambda p=path: count(p), repeats)
        encode_s, ids = median_seconds(lambda p=path: encode(p), repeats)
        if expected is None:
            expected = (table, ids)
        assert word_counts(table) == word_counts(expected[0]), f"{ending} counts"
        assert np.array_equal(ids, expected[1]), f"{ending} ids differ from the text's"
        rows.append((ending, path.stat().st_size / 1e6, count_s, encode_s))
    return rows


def word_counts(table) -> dict[bytes, int]:
    """A WordTable as {word: count}: its order is the order the workers' tables were added
    in, which threads do not fix."""
    symbols, offsets = table.symbols.astype("uint8").tobytes(), table.offsets.tolist()
    return {symbols[a:b]: int(n)
            for a, b, n in zip(offsets[:-1], offsets[1:], table.counts, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0, help="MB of the mix corpus")
    parser.add_argument("--workers", type=int, default=None,
                        help="count processes and encode threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    text = slice_of(args.mb).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        paths = write_formats(text, folder)
        text_mb = paths[".txt"].stat().st_size / 1e6
        rows = measure(paths, args.workers, args.repeats, folder)
    print(f"{text_mb:.1f} MB of text ({text.count(EOT) + 1:,} documents), workers "
          f"{args.workers or os.cpu_count()}, median of {args.repeats}; {machine()}\n")
    print("| format | file MB | count s | count MB/s | × text's time | encode_file s "
          "| encode_file MB/s | × text's time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base_count, base_encode = rows[0][2], rows[0][3]
    for ending, file_mb, count_s, encode_s in rows:
        print(f"| {ending} | {file_mb:.1f} | {count_s:.3f} | {text_mb / count_s:.1f} | "
              f"{count_s / base_count:.2f}× | {encode_s:.3f} | {text_mb / encode_s:.1f} | "
              f"{encode_s / base_encode:.2f}× |")


if __name__ == "__main__":
    main()
