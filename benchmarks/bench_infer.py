"""Decoding speed and memory against context length: RetNet's recurrent state against a Transformer's KV cache.

Runs `retlab.bench.infer.bench_infer` on parameter-matched random-init models (default ~8M parameters: hidden 256,
4 layers, 4 heads, vocabulary 8192), prints the table, the targets of issue 6 and ends with one JSON line.
Results also go to <output-dir>/<name>/bench/infer.json with PNG plots.

    .venv/bin/python benchmarks/bench_infer.py                       # contexts 256..8192, batch 1 and 4
    .venv/bin/python benchmarks/bench_infer.py --quick               # contexts 512 2048, batch 1
    .venv/bin/python benchmarks/bench_infer.py --device cuda --dtype bfloat16 --contexts 1024 4096 16384

Targets (CPU, batch 1): RetNet time/token grows <= 10% from 512 to 8192 while the Transformer's grows; at the
largest context RetNet decodes >= 4x the Transformer's tokens/s with constant state bytes.
"""

import argparse
import sys

from retlab.bench.infer import bench_infer
from retlab.bench.script import script_config, script_parser
from retlab.bench.summary import infer_headline, print_summary


def parse_args(argv=None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--archs", nargs="+", default=["retnet", "transformer"])
    p.add_argument("--contexts", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 8192])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    p.add_argument("--decode-steps", type=int, default=32)
    p.add_argument("--warmup-steps", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="contexts 512 2048, batch 1, 8 decode steps")
    return p.parse_args(argv)


def config_of(args):
    if args.quick:
        args.contexts, args.batch_sizes, args.decode_steps, args.warmup_steps = [512, 2048], [1], 8, 2
    return script_config(
        args,
        compare=args.archs,
        contexts=args.contexts,
        batch_sizes=args.batch_sizes,
        decode_steps=args.decode_steps,
        warmup_steps=args.warmup_steps,
    )


def targets(headline: dict) -> dict:
    growth = headline.get("retnet/time_per_token_growth")
    ratio = headline.get("retnet_over_transformer_decode_tokens_per_s")
    return {
        "retnet_time_per_token_growth_le_10pct": None if growth is None else growth <= 0.10,
        "transformer_time_per_token_grows": (headline.get("transformer/time_per_token_growth") or 0) > 0,
        "retnet_decodes_ge_4x_transformer": None if ratio is None else ratio >= 4,
        "retnet_state_bytes_constant": headline.get("retnet/cache_bytes_constant"),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    result = bench_infer(config_of(args))
    headline = infer_headline(result)
    checks = targets(headline)
    print_summary("bench_infer", result, headline, checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
