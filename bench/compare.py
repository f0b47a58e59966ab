"""bpe and its peers side by side, in one run, on the same input.

    python bench/compare.py                      # all tasks on the mix corpus
    python bench/compare.py --tasks encode,decode --mb 10
    python bench/compare.py --input my.txt --tasks train --vocab-size 32000

Every (task, tool) runs in its own subprocess, so each peak RSS is that tool's alone (it
includes the input text the process holds, and any worker processes it starts). Times are
medians of --repeats runs after one warm-up, each run's clock started after the run
before's output is freed (freeing millions of ints is not the next call's work); training
runs in a fresh process each time, --repeats times for a trainer whose first run takes
under TRAIN_REPEAT_UNDER seconds and once for the slower ones. Prints a Markdown table,
ready for the README, with the machine and the date.

Tasks:
  pretokenize  pieces of --mb MB: the regex module vs the native matcher, for each pattern
  encode       ids of --mb MB of text (ordinary text, no special tokens). One slice warms up,
               then each repeat encodes a further slice the tokenizer has not seen, so no
               tool is timed on text it has cached. GPT-2 for every peer; cl100k and o200k
               for bpe (a list and NumPy), tiktoken and gigatoken (built offline from
               ../shared/data/tiktoken)
  encode_seen  as encode, on text the tokenizer has seen: one --mb MB slice, encoded twice,
               then each repeat a new copy of it (the steady state of a big corpus, where
               almost every piece has been met before)
  encode_batch the documents (cut at <|endoftext|>) of --mb MB slices, as encode_batch on 1
               and 2 threads: bpe (GPT-2) and tiktoken's encode_ordinary_batch; unseen
               slices as for encode
  encode_offsets  ids and each token's character span for --mb MB slices (unseen, as for
               encode), GPT-2: bpe's encode alone (the first row, for the ratio), its
               encode_with_offsets (lists) and encode_with_offsets_to_numpy, and HF's
               Encoding.offsets from encode (no post-processor: the pure character spans)
  decode       the ids of --mb MB back to text (bpe also from a NumPy array)
  encode_file  the whole --input file to ids (--mb is not used), GPT-2 with <|endoftext|> cutting
               documents, a fresh encoder for each run (so no cache of the text is reused).
               bpe's encode_file writes a temporary .npy (on all cores, and on one thread),
               a new file each run (the last run's is removed before the clock starts);
               the peers' file encoders (bench/peers.py, their threads noted there) return
               the ids in memory and drop the separator: bpe has one more token per document
  encode_file_4x  encode_file of the --input file written four times over (a temporary
               file): the steady state, where later copies meet pieces the encoder has seen;
               bpe and the peers that run at a hundred MB/s or more (not tiktoken, hf)
  merge        the merge loop alone: WordTable of the whole input -> --vocab-size
  train        end to end: file -> vocabulary of --vocab-size, special <|endoftext|>; bpe
               counts on threads (its default for a built-in pattern), and, as a second
               row, on a process pool of as many workers
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus_path, shared_data

SPECIALS = ["<|endoftext|>"]
# Left out of encode_file_4x: at 3 to 13 MB/s they take minutes a run on the 312 MB input,
# and their encode_file row already says how they compare.
SLOW_FILE_ENCODERS = {"tiktoken", "hf"}


# --- what each worker measures -------------------------------------------------------------

def read_prefix(path: Path, mb: float) -> str:
    return next(slices(path, mb, 1))


def slices(path: Path, mb: float, count: int):
    """`count` consecutive slices of `mb` MB (read one at a time)."""
    with open(path, encoding="utf-8") as f:
        for _ in range(count):
            yield f.read(int(mb * 1_000_000))


def bpe_gpt2():
    import bpe

    gpt2 = shared_data() / "gpt2"
    return bpe.Tokenizer.from_files(gpt2 / "encoder.json", gpt2 / "vocab.bpe")


def tiktoken_files(name: str):
    """(bpe.Tokenizer, tiktoken.Encoding) for cl100k_base / o200k_base from the rank files."""
    import tiktoken

    import bpe
    from bpe.formats import merges_from_ranks, read_tiktoken_ranks

    ranks = read_tiktoken_ranks(shared_data() / "tiktoken" / f"{name}.tiktoken.gz")
    pattern = name.split("_")[0]
    vocab, merges = merges_from_ranks(ranks)
    enc = tiktoken.Encoding(name, pat_str=bpe.PATTERNS[pattern], mergeable_ranks=ranks,
                            special_tokens={})
    return bpe.Tokenizer(vocab, merges, pattern=pattern), enc


def encoder_for(tool: str):
    """tool ("<peer>[ cl100k| o200k][ (numpy)]") -> encode(text) for ordinary text."""
    vocab = next((v for v in ("cl100k", "o200k") if v in tool.split()), None)
    if vocab is None:
        if tool == "bpe":
            return bpe_gpt2().encode
        if tool == "bpe (numpy)":
            return bpe_gpt2().encode_to_numpy
        import peers

        return peers.encoders(shared_data() / "gpt2")[tool]()
    name = f"{vocab}_base"
    if tool.startswith("gigatoken"):
        import peers

        return peers.gigatoken_tiktoken_encoder(shared_data() / "tiktoken" / f"{name}.tiktoken.gz")
    tok, enc = tiktoken_files(name)
    if tool.startswith("bpe"):
        return tok.encode_to_numpy if tool.endswith("(numpy)") else tok.encode
    return enc.encode_ordinary


def timed(fn, repeats: int) -> tuple[list[float], object]:
    fn()  # warm-up
    seconds, result = [], None
    for _ in range(repeats):
        result = None       # the last run's output is freed before the clock starts
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def timed_fresh(make, paths, repeats: int) -> tuple[list[float], object]:
    """Like timed, with a new encoder from make() for each run (not timed), so no tool is
    timed with a cache of the text it encoded the run before."""
    make()(paths)  # warm-up: imports, the file in the page cache
    seconds, result = [], None
    for _ in range(repeats):
        encode = result = None
        encode = make()
        start = time.perf_counter()
        result = encode(paths)
        seconds.append(time.perf_counter() - start)
    return seconds, result


def cache_counts(fn) -> tuple[int, int] | None:
    """(hits, misses) so far of the piece cache a bpe encode method's tokenizer used last on
    this thread; None for another tool's function."""
    import bpe

    tok = getattr(fn, "__self__", None)
    cache = getattr(tok._local, "cache", None) if isinstance(tok, bpe.Tokenizer) else None
    return None if cache is None else (cache.hits, cache.misses)


def hit_rate(fn, before: tuple[int, int] | None) -> str:
    """", piece cache hit rate X%" over the pieces encoded since `before` (cache_counts),
    or "" where there is none to tell."""
    after = cache_counts(fn)
    if before is None or after is None:
        return ""
    hits, misses = after[0] - before[0], after[1] - before[1]
    return f", piece cache hits {100 * hits / max(1, hits + misses):.1f}%"


def timed_on_slices(fn, args, prepare=lambda text: text) -> tuple[list[float], int, int]:
    """Warm up on one slice, then time fn on `repeats` unseen slices: (seconds, bytes per
    slice, outputs per slice), the last two averaged. prepare(text) is fn's input (untimed)."""
    seconds, n_bytes, n_out = [], 0, 0
    for k, text in enumerate(slices(args.input, args.mb, args.repeats + 1)):
        if k == 0:
            fn(prepare(text))
            continue
        result = None       # the last slice's output is freed before the clock starts
        given = prepare(text)
        start = time.perf_counter()
        result = fn(given)
        seconds.append(time.perf_counter() - start)
        n_bytes += len(text.encode("utf-8"))
        n_out += len(result)
    return seconds, n_bytes // len(seconds), n_out // len(seconds)


def timed_seen(fn, args, warmed=lambda: None) -> tuple[list[float], int, int]:
    """Time fn on text it has seen: one slice, encoded twice untimed, then `repeats` times,
    each on a new copy of it (made untimed), so that nothing a tool keeps on the str object
    itself (such as CPython's cached UTF-8 form) is reused; only what the tool learned
    from the text. (seconds, bytes, outputs). warmed() is called before the timed runs."""
    text = read_prefix(args.input, args.mb)
    fn(text)
    fn(text[:-1] + text[-1:])
    warmed()
    seconds, result = [], None
    for _ in range(args.repeats):
        result = None
        given = text[:-1] + text[-1:]
        start = time.perf_counter()
        result = fn(given)
        seconds.append(time.perf_counter() - start)
    return seconds, len(text.encode("utf-8")), len(result)


def offsets_encoder(tool: str):
    """tool -> text -> the token spans (or, for "bpe encode", the ids alone)."""
    if tool.startswith("bpe"):
        tok = bpe_gpt2()
        if tool == "bpe encode":
            return tok.encode
        if tool == "bpe (numpy)":
            return lambda text: tok.encode_with_offsets_to_numpy(text)[1]
        return lambda text: tok.encode_with_offsets(text)[1]
    import peers

    hf = peers._hf_tokenizer(shared_data() / "gpt2")
    return lambda text: hf.encode(text, add_special_tokens=False).offsets


def work(task: str, tool: str, args) -> dict:
    if task == "pretokenize":
        text = read_prefix(args.input, args.mb)
        if tool == "regex module":
            import regex

            import bpe

            pattern = regex.compile(bpe.GPT2_PATTERN)
            seconds, n = timed(lambda: len(pattern.findall(text)), args.repeats)
        else:
            from bpe._pretokenize import PATTERN_IDS, count

            pattern_id = PATTERN_IDS[tool.split()[-1]]
            seconds, n = timed(lambda: count(text, pattern_id), args.repeats)
        return {"seconds": seconds, "n_bytes": len(text.encode()), "note": f"{n} pieces"}
    if task == "encode":
        fn = encoder_for(tool)
        fn("warm")                          # (so that its piece cache exists to count)
        before = cache_counts(fn)
        seconds, n_bytes, n_tokens = timed_on_slices(fn, args)
        return {"seconds": seconds, "n_bytes": n_bytes,
                "note": f"{n_tokens} tokens per slice{hit_rate(fn, before)}"}
    if task == "encode_seen":
        fn = encoder_for(tool)
        seen = []
        seconds, n_bytes, n_tokens = timed_seen(fn, args, lambda: seen.append(cache_counts(fn)))
        return {"seconds": seconds, "n_bytes": n_bytes,
                "note": f"{n_tokens} tokens{hit_rate(fn, seen[0])}"}
    if task == "encode_offsets":
        seconds, n_bytes, n_tokens = timed_on_slices(offsets_encoder(tool), args)
        return {"seconds": seconds, "n_bytes": n_bytes, "note": f"{n_tokens} tokens per slice"}
    if task == "encode_batch":
        threads = int(tool.split()[-2])
        if tool.startswith("bpe"):
            tok = bpe_gpt2()
            fn = lambda docs: tok.encode_batch(docs, num_threads=threads)  # noqa: E731
        else:
            import peers

            enc = peers._tiktoken_encoding(shared_data() / "gpt2")
            fn = lambda docs: enc.encode_ordinary_batch(docs, num_threads=threads)  # noqa: E731
        seconds, n_bytes, n_docs = timed_on_slices(fn, args, lambda text: text.split(SPECIALS[0]))
        return {"seconds": seconds, "n_bytes": n_bytes, "note": f"{n_docs} documents per slice"}
    if task == "decode":
        text = read_prefix(args.input, args.mb)
        if tool.startswith("bpe"):
            tok = bpe_gpt2()
            ids, decode = tok.encode(text), tok.decode
            if tool == "bpe (numpy)":
                ids = tok.encode_to_numpy(text)
        else:
            import peers

            encode = peers.encoders(shared_data() / "gpt2")[tool]()
            ids = encode(text)
            decode = peers.decoders(shared_data() / "gpt2")[tool]()
        seconds, out = timed(lambda: decode(ids), args.repeats)
        assert out == text, f"{tool} decode does not round-trip"
        return {"seconds": seconds, "n_bytes": len(text.encode()), "note": f"{len(ids)} tokens"}
    if task in ("encode_file", "encode_file_4x"):
        path, n_bytes = args.input, os.path.getsize(args.input)
        if task == "encode_file_4x":
            import tempfile

            copies = tempfile.TemporaryDirectory()
            path = Path(copies.name) / "input-4x.txt"
            with open(args.input, "rb") as source, open(path, "wb") as out:
                data = source.read()
                for _ in range(4):
                    out.write(data)
            del data
            n_bytes *= 4
        if tool.startswith("bpe"):
            import tempfile

            import bpe
            from bpe.dataset import encode_file

            gpt2 = shared_data() / "gpt2"
            workers = 1 if tool == "bpe 1 thread" else None
            folder = tempfile.TemporaryDirectory()

            def make():
                # A new file each run, as a first encode writes: replacing the last run's
                # would time the kernel freeing it (40 ms for the 4x corpus's ids).
                for old in Path(folder.name).iterdir():
                    old.unlink()
                tok = bpe.Tokenizer.from_files(gpt2 / "encoder.json", gpt2 / "vocab.bpe", SPECIALS)
                return lambda paths: encode_file(tok, paths, Path(folder.name) / "ids.npy",
                                                 workers=workers, progress=False).n_tokens
        else:
            import peers

            make = peers.file_encoders(shared_data() / "gpt2")[tool]
        seconds, n_tokens = timed_fresh(make, [path], args.repeats)
        return {"seconds": seconds, "n_bytes": n_bytes, "note": f"{n_tokens} tokens"}
    if task == "merge":
        from bpe.counting import count_pieces, read_text_chunks
        from bpe.patterns import Pretokenizer
        from bpe.train import learn_merges
        from bpe.wordtable import WordTable

        n_bytes = os.path.getsize(args.input)
        if tool == "bpe":
            counter = count_pieces(read_text_chunks(args.input), Pretokenizer("gpt2", SPECIALS))
            table = WordTable.from_counter(counter)
            n_merges = args.vocab_size - 256 - len(SPECIALS)
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                learn_merges(table, n_merges)
                seconds.append(time.perf_counter() - start)
            return {"seconds": seconds, "n_bytes": n_bytes, "note": f"{table.n_words} unique words"}
        import peers

        merge_seconds = peers.gigatoken_merge_seconds(args.input, args.vocab_size)
        if merge_seconds is None:
            raise SystemExit(f"{tool} does not report its merge phase")
        return {"seconds": [merge_seconds], "n_bytes": n_bytes, "note": "its own report"}
    if task == "train":
        n_bytes = os.path.getsize(args.input)
        start = time.perf_counter()
        if tool == "bpe":
            import bpe

            vocab, _ = bpe.train_bpe(args.input, args.vocab_size, SPECIALS, workers=args.workers)
            n_vocab = len(vocab)
        elif tool == "bpe (processes)":
            from concurrent.futures import ProcessPoolExecutor

            import bpe

            with ProcessPoolExecutor(args.workers or os.cpu_count()) as pool:
                n_vocab = bpe.train(args.input, args.vocab_size, SPECIALS, executor=pool,
                                    progress=False).n_vocab
        else:
            import peers

            n_vocab = peers.trainers()[tool](args.input, args.vocab_size, SPECIALS)
        return {"seconds": [time.perf_counter() - start], "n_bytes": n_bytes,
                "note": f"vocab {n_vocab}"}
    raise SystemExit(f"unknown task {task!r}")


def worker(args) -> None:
    result = work(args.task, args.tool, args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


# --- the parent: run every pair, print the table ---------------------------------------------

def tools_for(task: str) -> list[str]:
    import peers

    if task == "pretokenize":
        return ["regex module", "bpe gpt2", "bpe cl100k", "bpe o200k", "bpe llama3", "bpe qwen2",
                "bpe deepseek_v3"]
    if task in ("encode", "encode_seen"):
        tools = ["bpe", "bpe (numpy)", *peers.encoders(shared_data() / "gpt2")]
        for vocab in ("cl100k", "o200k"):
            tools += [f"bpe {vocab}", f"bpe {vocab} (numpy)", f"tiktoken {vocab}"]
            if peers.installed("gigatoken"):
                tools.append(f"gigatoken {vocab}")
        return tools
    if task == "encode_batch":
        return ["bpe 1 thread", "bpe 2 threads", "tiktoken 1 thread", "tiktoken 2 threads"]
    if task == "encode_offsets":
        return ["bpe encode", "bpe", "bpe (numpy)", "hf"]
    if task == "decode":
        return ["bpe", "bpe (numpy)", *peers.decoders(shared_data() / "gpt2")]
    if task == "encode_file":
        return ["bpe", "bpe 1 thread", *peers.file_encoders(shared_data() / "gpt2")]
    if task == "encode_file_4x":    # the peers that encode the corpus in under a second
        fast = [name for name in peers.file_encoders(shared_data() / "gpt2")
                if name not in SLOW_FILE_ENCODERS]
        return ["bpe", "bpe 1 thread", *fast]
    if task == "merge":
        return ["bpe", "gigatoken"]
    if task == "train":
        return ["bpe", "bpe (processes)", *peers.trainers()]
    raise SystemExit(f"unknown task {task!r}")


def tree_rss_mb(root: int) -> float:
    """The resident memory of a process and all its descendants, from /proc. It reads only
    that tree's files (each thread's `children`), not every process's: the sampler shares
    the machine with the run it measures, and a scan of all of /proc every 20 ms took a
    share of a core from it that a 2-thread run felt."""
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        try:
            statm = Path(f"/proc/{pid}/statm").read_text()
            for task in os.scandir(f"/proc/{pid}/task"):
                frontier += map(int, Path(task.path, "children").read_text().split())
        except OSError:         # it has just exited
            continue
        total += int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total / 2**20


@functools.cache
def cache_bytecode() -> None:
    """Compile bpe's modules to cached bytecode, as installing a wheel does. A checkout
    installed in place (`pip install -e`) where PYTHONDONTWRITEBYTECODE is set would
    compile them from source in every worker process, and the `train` rows, which time
    `import bpe`, would count that (about 60 ms on the AMD EPYC) against bpe; the peers'
    bytecode was cached when pip installed them."""
    import compileall

    import bpe

    compileall.compile_dir(Path(bpe.__file__).parent, quiet=1)


def run_one(task: str, tool: str, args, script: str = __file__,
            extra: list[str] | None = None) -> dict | str:
    """Run one (task, tool) in a fresh process (`script --worker TASK TOOL`, with the
    common options and `extra`). Peak RSS is that process tree's: the worker's own peak,
    or the sum over it and its worker processes sampled every 20 ms, whichever is larger
    (bpe can count on a process pool; peers use threads)."""
    cache_bytecode()
    command = [sys.executable, script, "--worker", task, tool, "--input", str(args.input),
               "--mb", str(args.mb), "--repeats", str(args.repeats),
               "--vocab-size", str(args.vocab_size),
               *(["--workers", str(args.workers)] if getattr(args, "workers", None) else []),
               *(extra or [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return "timed out"
    sampler.join()
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["peak_rss_mb"] = max(result["peak_rss_mb"], peak[0])
            return result
    return (stderr.strip().splitlines() or ["failed"])[-1][:80]


# A trainer whose first run takes longer runs once: the slowest (hf, bpeasy) take 15-20 s,
# ten times bpe's, and their medians would add minutes to a run without changing a ratio.
TRAIN_REPEAT_UNDER = 10.0


def train_runs(tool: str, args, first: dict) -> dict:
    """`train` for a tool: `first` (run_one's result), and under TRAIN_REPEAT_UNDER seconds
    as many more fresh processes as make --repeats; their seconds together, so that the
    row is a median like the others, and the largest peak RSS."""
    result = dict(first)
    if first["seconds"][0] >= TRAIN_REPEAT_UNDER:
        return result
    for _ in range(args.repeats - 1):
        again = run_one("train", tool, args)
        if isinstance(again, str):
            break
        result["seconds"] = result["seconds"] + again["seconds"]
        result["peak_rss_mb"] = max(result["peak_rss_mb"], again["peak_rss_mb"])
    if len(result["seconds"]) > 1:
        result["note"] += f", {len(result['seconds'])} runs"
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{datetime.date.today().isoformat()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, help="UTF-8 text (default: the mix corpus)")
    parser.add_argument("--tasks",
                        default="pretokenize,encode,encode_seen,encode_batch,encode_offsets,decode,"
                                "encode_file,encode_file_4x,merge,train")
    parser.add_argument("--mb", type=float, default=10.0,
                        help="MB of input for pretokenize/encode/decode "
                             "(encode reads repeats + 1 slices)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vocab-size", type=int, default=10_000)
    parser.add_argument("--tools", help="only these tools (comma-separated)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--workers", type=int,
                        help="train: bpe's threads (or processes); default all cores")
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "TOOL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.input = args.input or corpus_path()
    if args.worker:
        args.task, args.tool = args.worker
        worker(args)
        return

    print(f"Machine: {machine()}")
    print(f"Input: {args.input} ({os.path.getsize(args.input) / 1e6:.1f} MB); "
          f"command: python bench/compare.py {' '.join(sys.argv[1:])}\n")
    print("| task | tool | median s | MB/s | peak RSS MB | time vs first row | note |")
    print("|---|---|---:|---:|---:|---:|---|")
    only = set(args.tools.split(",")) if args.tools else None
    for task in args.tasks.split(","):
        baseline = None
        for tool in tools_for(task):
            if only and tool not in only and tool != "bpe":
                continue
            result = run_one(task, tool, args)
            if isinstance(result, str):
                print(f"| {task} | {tool} | – | – | – | – | failed: {result} |", flush=True)
                continue
            if task == "train":
                result = train_runs(tool, args, result)
            median = statistics.median(result["seconds"])
            baseline = baseline or median
            mb_per_s = result["n_bytes"] / 1e6 / median
            print(f"| {task} | {tool} | {median:.3f} | {mb_per_s:.1f} "
                  f"| {result['peak_rss_mb']:.0f} | {median / baseline:.2f}× | {result['note']} |",
                  flush=True)


if __name__ == "__main__":
    main()
