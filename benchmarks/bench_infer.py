"""Decoding speed and memory against context length: RetNet's recurrent state against the Transformer's KV cache,
both as transformers' DynamicCache (grown by concatenation) and as a pre-allocated StaticCache (written in place).

A thin wrapper over `retlab bench infer` (`retlab.bench.infer.bench_infer`) on parameter-matched random-init
models (default ~8M parameters: hidden 256, 4 layers, 4 heads, vocabulary 8192): prints the tables (median [IQR]
over interleaved rounds), RetNet's speed-up over the FASTER Transformer decoder at each point and the crossover
context, the targets of issues 6 and 16, and ends with one JSON line. Results go to
<output_dir>/<name>/bench/infer.json with PNG plots; a result that is up to date (same settings, models, code and
machine) is shown again, not re-measured, unless `--force`. Takes retlab's own flags (`--config FILE`,
`--section.field VALUE`), `--quick` and `--profile DECODER:CONTEXT` (torch.profiler's table of decode steps).

    .venv/bin/python benchmarks/bench_infer.py --num_threads 1         # contexts 512..16k, batch 1 and 8
    .venv/bin/python benchmarks/bench_infer.py --quick                       # contexts 512 2048, batch 1
    .venv/bin/python benchmarks/bench_infer.py --profile transformer-dynamic:4096 --num_threads 1
    .venv/bin/python benchmarks/bench_infer.py --bench.device cuda --bench.dtype bfloat16 \\
        --bench.contexts 1024,4096,16384

Targets (CPU, batch 1): RetNet time/token grows <= 10% from the smallest to the largest context while both
Transformer decoders' grow; at the largest context RetNet decodes >= 4x the tokens/s of the FASTER Transformer
decoder, with constant state bytes.
"""

from retlab.bench.infer import bench_infer, profile_decode
from retlab.bench.script import pop_flag, pop_option, run_script, script_config
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
    "bench.prefill_rounds": 1,
}


def targets(headline: dict) -> dict:
    growth = headline.get("retnet/time_per_token_growth")
    ratio = headline.get("retnet/speedup_over_faster_transformer")
    kv_growth = [v for k, v in headline.items() if k.startswith("transformer") and k.endswith("_growth")]
    return {
        "retnet_time_per_token_growth_le_10pct": None if growth is None else growth <= 0.10,
        "transformer_time_per_token_grows": bool(kv_growth) and all(g > 0 for g in kv_growth),
        "retnet_decodes_ge_4x_the_faster_transformer": None if ratio is None else ratio >= 4,
        "retnet_state_bytes_constant": headline.get("retnet/state_bytes_constant"),
    }


def main(argv: list[str]) -> int:
    argv = list(argv)
    force, profile = pop_flag(argv, "--force"), pop_option(argv, "--profile")
    cfg = script_config(argv, DEFAULTS, QUICK, __doc__)
    if profile:
        decoder, _, context = profile.rpartition(":")
        print(profile_decode(cfg, decoder, int(context)))
        return 0
    result = bench_infer(cfg, force=force)
    headline = infer_headline(result)
    print_summary("bench_infer", result, headline, targets(headline))
    return 0


if __name__ == "__main__":
    run_script(main)
