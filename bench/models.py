"""The tokenizers of today's open models: bpe against `tokenizers` and gigatoken, same run.

    python bench/models.py                       # --mb 5 slices of the mix corpus
    python bench/models.py --models llama3 --mb 10 --repeats 5

No model file can be downloaded here, so `tokenizers` builds each shape's tokenizer.json
from cl100k's ranks (../shared/data/tiktoken), as tests/test_hf.py does with fewer merges:
  llama3  Llama 3's steps: Split (its regex) + ByteLevel, ignore_merges, a template adding
          <|begin_of_text|> (not applied: ordinary encode), its three special tokens. The
          vocabulary is cl100k's 100k tokens, where Llama 3's has 28k more.
  qwen2   Qwen2's steps: the NFC normalizer, Split (cl100k's regex with single digits) +
          ByteLevel, its special tokens <|endoftext|>, <|im_start|>, <|im_end|>. The
          vocabulary is cl100k's, where Qwen2's is 151k tokens.
  deepseek_v3  DeepSeek V3's (and R1's) steps: three Splits (numbers in threes, runs of its
          CJK class, its regex) + ByteLevel, a template adding <｜begin▁of▁sentence｜>, its
          two special tokens. The vocabulary is cl100k's, where DeepSeek V3's is 128k tokens.
Every tool loads the same file (bpe: Tokenizer.from_hf; tokenizers: Tokenizer.from_file;
gigatoken: Tokenizer.from_json) and encodes on one thread, without the template: bpe's
encode, tokenizers' encode_batch_fast([text], add_special_tokens=False) (encode without
offsets, one text on one thread), gigatoken's encode. Each (model, tool) runs in a
process of its own (peak RSS is its own) and encodes --repeats slices of --mb MB it has
not seen, after one slice that warms it up; its ids on that first slice are compared with
tokenizers' (the last column says whether they are the same).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import machine, run_one, slices
from corpus import corpus_path, shared_data

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")
MODELS = ("llama3", "qwen2", "deepseek_v3")
TOOLS = ("bpe", "tokenizers", "gigatoken")


def build_tokenizer_json(model: str, path: Path) -> None:
    """Write `model`'s shape (see the module docstring) as tokenizer.json, by `tokenizers`."""
    import tokenizers
    from tokenizers import (
        AddedToken,
        Regex,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    from bpe.formats import merges_from_ranks, read_tiktoken_ranks, token_to_text
    from bpe.patterns import DEEPSEEK_V3_SPLITS

    ranks = read_tiktoken_ranks(shared_data() / "tiktoken" / "cl100k_base.tiktoken.gz")
    vocab, merges = merges_from_ranks(ranks)
    texts = {token_to_text(token): i for i, token in vocab.items()}
    pairs = [(token_to_text(a), token_to_text(b)) for a, b in merges]
    hf = tokenizers.Tokenizer(models.BPE(texts, pairs, ignore_merges=model == "llama3"))
    regexes = {"llama3": [LLAMA3_REGEX], "qwen2": [QWEN2_REGEX],
               "deepseek_v3": list(DEEPSEEK_V3_SPLITS)}[model]
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        *(pre_tokenizers.Split(Regex(regex), "isolated") for regex in regexes),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    hf.decoder = decoders.ByteLevel()
    if model == "llama3":
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
        hf.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                          special_tokens=[("<|begin_of_text|>", len(texts))])])
    elif model == "qwen2":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        hf.normalizer = normalizers.NFC()
    else:
        specials = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"]
        hf.post_processor = processors.TemplateProcessing(
            single=f"{specials[0]} $A", special_tokens=[(specials[0], len(texts))])
    hf.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    hf.save(str(path))


def encoder(tool: str, path: Path):
    if tool == "bpe":
        import bpe

        return bpe.Tokenizer.from_hf(path).encode
    if tool == "tokenizers":
        import tokenizers

        hf = tokenizers.Tokenizer.from_file(str(path))
        # the batch call without offsets: faster than encode for one text, still one thread
        return lambda text: hf.encode_batch_fast([text], add_special_tokens=False)[0].ids
    if tool == "gigatoken":
        import gigatoken

        return gigatoken.Tokenizer.from_json(path.read_text(encoding="utf-8")).encode
    raise SystemExit(f"unknown tool {tool!r}")


def worker(args) -> None:
    """Encode the slices with one tool: print its RESULT line."""
    import resource

    path = Path(args.json)
    encode = encoder(args.tool, path)
    seconds, n_bytes, digest = [], 0, ""
    for k, text in enumerate(slices(args.input, args.mb, args.repeats + 1)):
        if k == 0:
            ids = [int(i) for i in encode(text)]
            digest = hashlib.sha256(json.dumps(ids).encode()).hexdigest()
            continue
        result = None
        start = time.perf_counter()
        result = encode(text)
        seconds.append(time.perf_counter() - start)
        n_bytes += len(text.encode("utf-8"))
        del result
    print("RESULT " + json.dumps({
        "seconds": seconds, "n_bytes": n_bytes // len(seconds), "digest": digest,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, help="UTF-8 text (default: the mix corpus)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vocab-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "TOOL"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("MODEL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build_tokenizer_json(args.build[0], Path(args.build[1]))
        return
    args.input = args.input or corpus_path()
    if args.worker:
        _, args.tool = args.worker
        worker(args)
        return

    print(f"Machine: {machine()}")
    print(f"Input: {args.input}, slices of {args.mb:g} MB; "
          f"command: python bench/models.py {' '.join(sys.argv[1:])}\n")
    print("| model | tool | median s | MB/s | peak RSS MB | time vs tokenizers | ids |")
    print("|---|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models.split(","):
            path = Path(folder) / f"{model}.json"
            # in a process of its own: a worker started from a parent that had built it would
            # report the parent's peak RSS as its own (Linux keeps it across fork and exec)
            subprocess.run([sys.executable, __file__, "--build", model, str(path)], check=True)
            results = {}
            for tool in args.tools.split(","):
                results[tool] = run_one("models", tool, args, script=__file__,
                                        extra=["--json", str(path)])
            reference = results.get("tokenizers")
            for tool, result in results.items():
                if isinstance(result, str):
                    print(f"| {model} | {tool} | – | – | – | – | failed: {result} |", flush=True)
                    continue
                median = statistics.median(result["seconds"])
                ratio, same = "–", "–"
                if isinstance(reference, dict):
                    ratio = f"{median / statistics.median(reference['seconds']):.2f}×"
                    same = ("tokenizers'" if result["digest"] == reference["digest"]
                            else "**differ from tokenizers'**")
                print(f"| {model} | {tool} | {median:.3f} | {result['n_bytes'] / 1e6 / median:.1f} "
                      f"| {result['peak_rss_mb']:.0f} | {ratio} | {same} |", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
