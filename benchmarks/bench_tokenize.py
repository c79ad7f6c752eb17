"""Tokenize+pack throughput: retlab's two packing paths versus raw `Tokenizer.encode_batch` on the same text.

All contenders use the same tokenizer, documents and number of processes (forked workers, Rust threads off):
- raw:    encode_batch over the documents already in memory, each worker taking an equal share, results discarded
          (the in-memory path: tokenizer speed, the strongest baseline);
- pack:   stage 3 on a split's JSONL written by stage 1 (read, parse, encode, append <eos>, write, cut blocks);
- stream: stage 3 of data.streaming on the same local files, read through `datasets`' streaming builders
          (read, seeded shuffle buffer, batch, encode, append <eos>, write with shard commits).
The CPU may be shared, so the contenders run interleaved: each round runs each once, in rotated order. Reported:
median tokens/s with its interquartile range over rounds. Target: stream >= 80% of the faster of raw and pack (the
strongest baseline). Prints a table, then one JSON line.

    .venv/bin/python benchmarks/bench_tokenize.py [--num_proc 2] [--rounds 5] [--vocab_size 8192]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from retlab.config.loader import load_config  # noqa: E402
from retlab.data import pack_stream as ps  # noqa: E402
from retlab.data import tokenize as tk  # noqa: E402
from retlab.data.download import download, iter_documents  # noqa: E402
from retlab.data.streaming import Stream  # noqa: E402
from retlab.data.tokenizer import tokenizer_dir, train_tokenizer  # noqa: E402
from retlab.paths import data_dir  # noqa: E402
from retlab.utils.stage import stamp_info  # noqa: E402

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


def raw_encode(pool, batch: int = 2000) -> int:
    """encode_batch over _DOCS in batches spread over the workers; returns the number of tokens."""
    shares = [(i, min(i + batch, len(_DOCS))) for i in range(0, len(_DOCS), batch)]
    return sum(pool.imap(_raw_share, shares)) if pool else sum(map(_raw_share, shares))


def stream_pack(stream: Stream, out: Path, pool) -> int:
    """The streaming stage's packing of the train split into `out`; returns the number of tokens."""
    state = {"documents": 0, "tokens": 0}
    with open(out, "wb") as f:

        def commit() -> None:
            f.flush()
            os.fsync(f.fileno())

        ps.pack_documents(stream.documents("train"), f, state, None, pool, commit)
    tk.drop_queued(pool)
    return state["tokens"]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return q1, median, q3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num_proc", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
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
            "data.num_proc": args.num_proc,
        }
        cfg = load_config(None, over)
        streamed = load_config(
            None, over | {"data.streaming": True, "data.val_documents": 0, "data.test_documents": 0}
        )
        splits = download(cfg)
        train_tokenizer(cfg)
        jsonl = splits / "train.jsonl"
        _DOCS.extend(iter_documents(splits, "train"))
        n_bytes = sum(len(d.encode("utf-8")) for d in _DOCS)
        pool = tk.pool_for(cfg, tokenizer_dir(cfg), stamp_info(tokenizer_dir(cfg)), np.dtype(np.uint16))
        stream = Stream(streamed)
        out = Path(tmp) / "bench.bin"
        contenders = {
            "raw": lambda: raw_encode(pool) + len(_DOCS),  # + one <eos> per document, as the packers add
            "pack": lambda: tk.pack_split(jsonl, out, 1025, np.dtype(np.uint16), pool, args.num_proc)[
                "tokens"
            ],
            "stream": lambda: stream_pack(stream, out, pool),
        }
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        tokens: dict[str, set[int]] = {name: set() for name in contenders}
        try:
            for r in range(args.rounds):
                names = list(contenders)
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    t0 = time.perf_counter()
                    n = contenders[name]()
                    rates[name].append(n / (time.perf_counter() - t0))
                    tokens[name].add(n)
        finally:
            tk.close_pool(pool)

    assert len(set().union(*tokens.values())) == 1, f"the contenders must see the same text: {tokens}"
    n_tokens = tokens["raw"].pop()
    stats = {name: quartiles(v) for name, v in rates.items()}
    bytes_per_token = n_bytes / n_tokens
    print(
        f"corpus: {len(_DOCS):,} documents, {n_bytes / 1e6:.1f} MB, {n_tokens:,} tokens (vocab {args.vocab_size})"
    )
    print(f"{args.rounds} interleaved rounds, {args.num_proc} process(es); median [IQR] over rounds")
    print(f"{'method':<38}{'tokens/s':>12}{'IQR':>24}{'MB/s':>8}")
    labels = {
        "raw": "raw encode_batch (in memory)",
        "pack": "tokenize+pack from JSONL splits",
        "stream": "streaming tokenize+pack (datasets)",
    }
    for name, (q1, med, q3) in stats.items():
        iqr = f"[{q1:,.0f} - {q3:,.0f}]"
        print(f"{labels[name]:<38}{med:>12,.0f}{iqr:>24}{med * bytes_per_token / 1e6:>8.2f}")
    stream_over_raw = stats["stream"][1] / stats["raw"][1]
    stream_over_pack = stats["stream"][1] / stats["pack"][1]
    stream_over_best = min(stream_over_raw, stream_over_pack)
    print(
        f"stream / raw = {stream_over_raw:.1%}; stream / pack = {stream_over_pack:.1%}; "
        f"stream / the faster = {stream_over_best:.1%} (target >= 80%)"
    )
    result = {
        "bench": "tokenize_pack",
        "num_proc": args.num_proc,
        "rounds": args.rounds,
        "documents": len(_DOCS),
        "corpus_mb": round(n_bytes / 1e6, 2),
        "tokens": n_tokens,
        **{f"{name}_tokens_per_s": round(s[1]) for name, s in stats.items()},
        **{f"{name}_tokens_per_s_iqr": [round(s[0]), round(s[2])] for name, s in stats.items()},
        "stream_over_raw": round(stream_over_raw, 3),
        "stream_over_pack": round(stream_over_pack, 3),
        "stream_over_best": round(stream_over_best, 3),
        "target": 0.8,
        "meets_target": stream_over_best >= 0.8,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
