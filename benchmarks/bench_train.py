"""Training-step throughput, memory, FLOPs/token and MFU against sequence length: RetNet (parallel and chunkwise),
Transformer++ and the TorchScale backends, parameter-matched (default ~8M parameters, vocabulary 8192, batch 1).

Runs `retlab.bench.train.bench_train`, prints the table, the target of issue 6 and ends with one JSON line.
Results also go to <output-dir>/<name>/bench/train.json with PNG plots.

    .venv/bin/python benchmarks/bench_train.py                        # seq 512..8192
    .venv/bin/python benchmarks/bench_train.py --quick                # seq 512 2048, retnet + transformer
    .venv/bin/python benchmarks/bench_train.py --device cuda --dtype bfloat16 --seq-lens 2048 8192 16384

Target (CPU): RetNet chunkwise training tokens/s beats Transformer++ at sequence length >= 4096.
"""

import argparse
import sys

from retlab.bench.script import script_config, script_parser
from retlab.bench.summary import print_summary, train_headline
from retlab.bench.train import bench_train


def parse_args(argv=None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--archs",
        nargs="+",
        default=["retnet", "transformer", "torchscale-retnet", "torchscale-transformer"],
    )
    p.add_argument(
        "--reference", default=None, help="arch whose parameter count the others match (default: first)"
    )
    p.add_argument("--seq-lens", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--memory-limit-gib", type=float, default=None)
    p.add_argument("--quick", action="store_true", help="seq 512 2048, RetNet and Transformer++, 2 steps")
    return p.parse_args(argv)


def config_of(args):
    if args.quick:
        args.seq_lens, args.archs, args.steps = [512, 2048], ["retnet", "transformer"], 2
    return script_config(
        args,
        compare=[args.reference or args.archs[0]],
        archs=args.archs,
        train_seq_lens=args.seq_lens,
        train_batch_size=args.batch_size,
        train_steps=args.steps,
        memory_limit_gib=args.memory_limit_gib,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    result = bench_train(config_of(args))
    headline = train_headline(result)
    long = {k: v for k, v in headline.items() if int(k.rsplit("@", 1)[1]) >= 4096}
    checks = {
        "retnet_chunkwise_beats_transformer_at_ge_4096": all(v > 1 for v in long.values()) if long else None
    }
    print_summary("bench_train", result, headline, checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
