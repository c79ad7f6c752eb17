"""Tokenize+pack throughput of `retlab data tokenize` versus raw `Tokenizer.encode_batch` on the same text.

Both sides use the same tokenizer, documents and number of processes (forked workers, Rust threads off):
- pack: retlab's stage 3 on a split's JSONL (read, parse, encode, append <eos>, write the memmap, cut blocks);
- raw:  encode_batch over the documents already in memory, each worker taking an equal share, results discarded.
Target: pack >= 80% of raw. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/bench_tokenize.py [--num_proc 2] [--repeats 3] [--vocab_size 8192]
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from retlab.config.loader import load_config  # noqa: E402
from retlab.data import tokenize as tk  # noqa: E402
from retlab.data.download import download, iter_documents  # noqa: E402
from retlab.data.tokenizer import tokenizer_dir, train_tokenizer  # noqa: E402
from retlab.paths import data_dir  # noqa: E402

CORPORA = [
    "corpora/tinyshakespeare/input.txt",
    "corpora/wikitext-2-raw/wiki.valid.raw",
    "corpora/wikitext-2-raw/wiki.test.raw",
    "corpora/ptb/ptb.train.txt",
    "corpora/tinystories/tinystories_validation_head.txt",
    "corpora/gutenberg/*.txt",
]
_DOCS: list[str] = []  # the raw side's documents, shared with forked workers


def _raw_share(bounds: tuple[int, int]) -> int:
    return sum(
        len(e.ids) for e in tk._TOKENIZER.encode_batch(_DOCS[bounds[0] : bounds[1]], add_special_tokens=False)
    )


def raw_encode(pool, num_proc: int, batch: int = 2000) -> int:
    """encode_batch over _DOCS in batches spread over the workers; returns the number of tokens."""
    shares = [(i, min(i + batch, len(_DOCS))) for i in range(0, len(_DOCS), batch)]
    return sum(pool.imap(_raw_share, shares)) if pool else sum(map(_raw_share, shares))


def best_of(repeats: int, fn) -> tuple[float, int]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num_proc", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vocab_size", type=int, default=8192)
    args = ap.parse_args()
    root = data_dir()
    if not (root / "MANIFEST.md").is_file():
        sys.exit(f"shared data not found at {root} (set RETLAB_DATA_DIR)")

    with tempfile.TemporaryDirectory() as tmp:
        over = {"output_dir": tmp, "data.source": "local", "data.path": [str(root / c) for c in CORPORA]}
        over |= {
            "data.splits": [1.0, 0.0, 0.0],
            "tokenizer.vocab_size": args.vocab_size,
            "data.seq_len": 1024,
        }
        cfg = load_config(None, over)
        splits = download(cfg)
        train_tokenizer(cfg)
        jsonl = splits / "train.jsonl"
        _DOCS.extend(iter_documents(splits, "train"))
        n_bytes = sum(len(d.encode("utf-8")) for d in _DOCS)
        tok_json = (tokenizer_dir(cfg) / "tokenizer.json").read_text()
        eos = 2
        tk.init_worker(tok_json, eos, "uint16")
        ctx = mp.get_context("fork")
        pool = (
            ctx.Pool(args.num_proc, tk.init_worker, (tok_json, eos, "uint16")) if args.num_proc > 1 else None
        )
        try:
            out = Path(tmp) / "bench.bin"
            pack_s, counts = best_of(
                args.repeats,
                lambda: tk.pack_split(jsonl, out, 1025, np.dtype(np.uint16), pool, args.num_proc, desc=""),
            )
            raw_s, raw_tokens = best_of(args.repeats, lambda: raw_encode(pool, args.num_proc))
        finally:
            if pool:
                pool.close()
                pool.join()

    tokens = counts["tokens"]
    assert tokens == raw_tokens + counts["documents"], (
        "both sides must see the same text (pack adds one <eos> per doc)"
    )
    pack_tps, raw_tps = tokens / pack_s, raw_tokens / raw_s
    ratio = pack_tps / raw_tps
    print(
        f"corpus: {len(_DOCS):,} documents, {n_bytes / 1e6:.1f} MB, {tokens:,} tokens (vocab {args.vocab_size})"
    )
    print(f"{'method':<34}{'seconds':>10}{'tokens/s':>14}{'MB/s':>9}")
    print(f"{'raw Tokenizer.encode_batch':<34}{raw_s:>10.2f}{raw_tps:>14,.0f}{n_bytes / raw_s / 1e6:>9.2f}")
    print(f"{'retlab tokenize+pack':<34}{pack_s:>10.2f}{pack_tps:>14,.0f}{n_bytes / pack_s / 1e6:>9.2f}")
    print(
        f"pack / raw = {ratio:.1%} (target >= 80%) with {args.num_proc} process(es), best of {args.repeats}"
    )
    result = {
        "bench": "tokenize_pack",
        "num_proc": args.num_proc,
        "documents": len(_DOCS),
        "corpus_mb": round(n_bytes / 1e6, 2),
        "tokens": tokens,
        "pack_tokens_per_s": round(pack_tps),
        "raw_encode_batch_tokens_per_s": round(raw_tps),
        "pack_over_raw": round(ratio, 3),
        "target": 0.8,
        "meets_target": ratio >= 0.8,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
