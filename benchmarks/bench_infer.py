"""Decoding speed and memory against context length: RetNet's recurrent state against a Transformer's KV cache.

A thin wrapper over `retlab bench infer` (`retlab.bench.infer.bench_infer`) on parameter-matched random-init
models (default ~8M parameters: hidden 256, 4 layers, 4 heads, vocabulary 8192): prints the table, the targets of
issue 6 and ends with one JSON line. Results also go to <output_dir>/<name>/bench/infer.json with PNG plots.
Takes retlab's own flags (`--config FILE`, `--section.field VALUE`) and `--quick`.

    .venv/bin/python benchmarks/bench_infer.py                                  # contexts 256..8192, batch 1 and 4
    .venv/bin/python benchmarks/bench_infer.py --quick                          # contexts 512 2048, batch 1
    .venv/bin/python benchmarks/bench_infer.py --bench.device cuda --bench.dtype bfloat16 \\
        --bench.contexts 1024,4096,16384 --train.num_threads 1

Targets (CPU, batch 1): RetNet time/token grows <= 10% from 512 to 8192 while the Transformer's grows; at the
largest context RetNet decodes >= 4x the Transformer's tokens/s with constant state bytes.
"""

from retlab.bench.infer import bench_infer
from retlab.bench.script import run_script, script_config
from retlab.bench.summary import infer_headline, print_summary

DEFAULTS = {
    "name": "bench",
    "compare": ["retnet", "transformer"],
    "bench.use_trained": False,
    "bench.vocab_size": 8192,
}
QUICK = {
    "bench.contexts": [512, 2048],
    "bench.batch_sizes": [1],
    "bench.decode_steps": 8,
    "bench.warmup_steps": 2,
}


def targets(headline: dict) -> dict:
    growth = headline.get("retnet/time_per_token_growth")
    ratio = headline.get("retnet_over_transformer_decode_tokens_per_s")
    return {
        "retnet_time_per_token_growth_le_10pct": None if growth is None else growth <= 0.10,
        "transformer_time_per_token_grows": (headline.get("transformer/time_per_token_growth") or 0) > 0,
        "retnet_decodes_ge_4x_transformer": None if ratio is None else ratio >= 4,
        "retnet_state_bytes_constant": headline.get("retnet/cache_bytes_constant"),
    }


def main(argv: list[str]) -> int:
    result = bench_infer(script_config(argv, DEFAULTS, QUICK, __doc__))
    headline = infer_headline(result)
    print_summary("bench_infer", result, headline, targets(headline))
    return 0


if __name__ == "__main__":
    run_script(main)
