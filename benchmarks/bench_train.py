"""Training-step throughput, memory, FLOPs/token and MFU against sequence length: RetNet (parallel and chunkwise),
Transformer++ and the TorchScale backends (both forms of its RetNet), parameter-matched (default ~8M parameters,
vocabulary 8192, batch 1).

A thin wrapper over `retlab bench train` (`retlab.bench.train.bench_train`): prints the table (median [IQR] over
rounds in which every variant takes one step, interleaved; speed ratios taken per round), the targets of issues 2
and 6 and ends with one JSON line. Results also go to <output_dir>/<name>/bench/train.json with PNG plots; an
up-to-date result is shown again unless `--force`. Takes retlab's own flags (`--config FILE`,
`--section.field VALUE`), `--quick` and `--force`.

    .venv/bin/python benchmarks/bench_train.py                       # seq 512..8192, every backend
    .venv/bin/python benchmarks/bench_train.py --quick               # seq 512 2048, RetNet and Transformer++
    .venv/bin/python benchmarks/bench_train.py --bench.device cuda --bench.dtype bfloat16 \\
        --bench.train_seq_lens 2048,8192,16384 --bench.archs retnet,transformer

Targets (CPU): RetNet chunkwise training tokens/s beats Transformer++ at sequence length >= 4096 (issue 6); the
native chunkwise form reaches >= 1.5x the tokens/s of TorchScale's faster form at 4096 and is not slower at 256
(issue 2; measured when those lengths are).
"""

from retlab.bench.script import pop_flag, run_script, script_config
from retlab.bench.summary import print_summary, train_headline
from retlab.bench.train import bench_train

DEFAULTS = {
    "name": "bench",
    "compare": ["retnet", "transformer"],  # bench.archs unset: compare plus the TorchScale backends
    "bench.use_trained": False,
    "bench.vocab_size": 8192,
}
QUICK = {
    "bench.train_seq_lens": [512, 2048],
    "bench.archs": ["retnet", "transformer"],
    "bench.train_steps": 2,
}
TORCHSCALE_RETNET = ("torchscale-retnet-parallel", "torchscale-retnet-chunkwise")


def targets(headline: dict) -> dict:
    def ratio(denominator: str, seq_len: int) -> float | None:
        return headline.get(f"retnet-chunkwise_over_{denominator}_tokens_per_s@{seq_len}")

    prefix = "retnet-chunkwise_over_transformer_tokens_per_s@"
    long = [v for k, v in headline.items() if k.startswith(prefix) and int(k.rsplit("@", 1)[1]) >= 4096]
    at_4096, at_256 = ratio("torchscale-retnet", 4096), ratio("torchscale-retnet", 256)
    return {
        "retnet_chunkwise_beats_transformer_at_ge_4096": all(v > 1 for v in long) if long else None,
        "native_chunkwise_ge_1.5x_torchscale_at_4096": None if at_4096 is None else at_4096 >= 1.5,
        "native_chunkwise_not_slower_than_torchscale_at_256": None if at_256 is None else at_256 >= 1,
    }


def main(argv: list[str]) -> int:
    argv = list(argv)
    force = pop_flag(argv, "--force")
    result = bench_train(script_config(argv, DEFAULTS, QUICK, __doc__), force=force)
    headline = train_headline(result) | train_headline(result, denominators=TORCHSCALE_RETNET)
    print_summary("bench_train", result, headline, targets(headline))
    return 0


if __name__ == "__main__":
    run_script(main)
