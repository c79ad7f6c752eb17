"""`retlab bench infer`: decoding speed and memory against context length, KV cache against recurrent state.

Each point prefills a real context (RetNet in its chunkwise form, the Transformer with SDPA), then decodes one
token at a time through the cache (RetNet: recurrent state; Transformer: KV cache). Timings synchronise the GPU
around each step and report the median over `decode_steps` after `warmup_steps` untimed steps."""

import statistics
import time

import torch

from ..layout import RunLayout
from ..models.specs import SPECS
from ..utils.files import atomic_write_json
from .flops import decode_flops_per_token
from .memory import MIB, PeakMemory, analytic_cache_bytes, cache_bytes, cache_dtype, memory_budget_bytes
from .models import (
    bench_archs,
    bench_configs,
    bench_device,
    bench_dtype,
    device_name,
    instantiate,
)
from .table import text_table

COLUMNS = [
    ("arch", "arch", ""),
    ("batch_size", "batch", ""),
    ("context", "context", ""),
    ("prefill_s", "prefill s", ".3f"),
    ("time_per_token_ms", "ms/token", ".2f"),
    ("decode_tokens_per_s", "tokens/s", ".1f"),
    ("prefill_peak_mem_mib", "prefill MiB", ".1f"),
    ("decode_peak_mem_mib", "decode MiB", ".1f"),
    ("cache_mib", "cache MiB", ".3f"),
    ("cache_analytic_mib", "analytic MiB", ".3f"),
]


def bench_infer(cfg) -> dict:
    """Benchmark decoding for every arch, batch size and context; write `bench/infer.json` and plots."""
    from .plots import bench_plots

    device, dtype = bench_device(cfg), bench_dtype(cfg)
    archs = bench_archs(cfg)
    no_cache = [a for a in archs if SPECS[a].cache == "none"]  # decoding would recompute the prefix
    notes = [f"{a}: skipped, it keeps no cache (decoding recomputes the prefix)" for a in no_cache]
    archs = [a for a in archs if a not in no_cache]
    max_len = max(cfg.bench.contexts) + cfg.bench.warmup_steps + cfg.bench.decode_steps + 1
    models = bench_configs(cfg, archs, max_len)
    budget = memory_budget_bytes(device, cfg.bench.memory_limit_gib)

    points = []
    for bench_model in models:
        model = instantiate(bench_model, device, dtype, seed=cfg.seed).eval()
        warm_up = min(cfg.bench.contexts)  # first-call allocations and kernel choices, not measured
        infer_point(model, warm_up, 1, cfg.bench, device, budget)
        for batch_size in cfg.bench.batch_sizes:
            for context in cfg.bench.contexts:
                point = {"arch": bench_model.arch, "batch_size": batch_size, "context": context}
                try:
                    point.update(infer_point(model, context, batch_size, cfg.bench, device, budget))
                except torch.OutOfMemoryError:
                    point["skipped"] = "out of memory"
                    torch.cuda.empty_cache()
                points.append(point)
                print(progress(point), flush=True)
        del model

    result = {
        "kind": "infer",
        "device": device_name(device),
        "dtype": cfg.bench.dtype,
        "settings": {"decode_steps": cfg.bench.decode_steps, "warmup_steps": cfg.bench.warmup_steps},
        "models": [model_summary(m) for m in models],
        "points": points,
        "notes": notes,
    }
    out_dir = RunLayout.of(cfg).bench
    atomic_write_json(out_dir / "infer.json", result)
    result["plots"] = [str(p) for p in bench_plots(result, out_dir)]
    print(text_table(points, COLUMNS))
    for note in notes:
        print(f"note: {note}")
    return result


def progress(point: dict) -> str:
    where = f"[bench infer] {point['arch']} batch {point['batch_size']} context {point['context']}"
    if "skipped" in point:
        return f"{where}: skipped ({point['skipped']})"
    return f"{where}: {point['time_per_token_ms']:.2f} ms/token, cache {point['cache_mib']:.3f} MiB"


def model_summary(bench_model) -> dict:
    from ..models.sizing import count_parameters

    c = bench_model.config
    return {
        "arch": bench_model.arch,
        "source": bench_model.source,
        "params": count_parameters(c),
        "hidden_size": c.hidden_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_heads": c.num_heads,
        "intermediate_size": c.intermediate_size,
        "value_dim": getattr(c, "value_dim", None),
        "vocab_size": c.vocab_size,
    }


def infer_point(model, context: int, batch_size: int, bench, device, budget: int) -> dict:
    """Prefill `context` random tokens for `batch_size` sequences, then time single-token decode steps."""
    config = model.config
    value_bytes = next(model.parameters()).element_size()
    total_steps = bench.warmup_steps + bench.decode_steps
    final_cache = analytic_cache_bytes(config, context + total_steps + 1, batch_size, value_bytes)
    if final_cache > budget:
        return {"skipped": f"cache of {final_cache / MIB:.0f} MiB exceeds the memory budget"}
    generator = torch.Generator().manual_seed(context * 1000 + batch_size)
    ids = torch.randint(config.vocab_size, (batch_size, context), generator=generator).to(device)

    peak = PeakMemory(device)
    with torch.inference_mode(), peak.measure():
        prefill_s, out = timed(device, prefill, model, ids)
        cache = output_cache(out)
        measured = cache_bytes(cache)  # before decoding grows it: the cache of exactly `context` tokens
        next_ids = out.logits[:, -1:].argmax(-1)  # (B, 1)
        dtype = cache_dtype(cache)  # a recurrent state may be kept in float32 under a bf16 model
        analytic = analytic_cache_bytes(config, context, batch_size, dtype.itemsize if dtype else value_bytes)
        del out  # the prefill's logits; decoding keeps only the cache
        peak.phase()  # decoding's peak from here: the cache it holds plus one step's activations
        step_s = []
        for _ in range(total_steps):
            seconds, out = timed(device, model, next_ids, cache=cache, use_cache=True)
            cache, next_ids = output_cache(out), out.logits[:, -1:].argmax(-1)
            step_s.append(seconds)
        del out, cache
    timed_steps = step_s[bench.warmup_steps :]
    per_token = statistics.median(timed_steps)
    return {
        "prefill_s": prefill_s,
        "prefill_tokens_per_s": batch_size * context / prefill_s,
        "time_per_token_ms": 1e3 * per_token,
        "time_per_token_mean_ms": 1e3 * statistics.fmean(timed_steps),
        "decode_tokens_per_s": batch_size / per_token,
        "peak_mem_mib": peak.peak_delta_bytes / MIB,
        "prefill_peak_mem_mib": peak.phase_delta_bytes[0] / MIB,
        "decode_peak_mem_mib": peak.phase_delta_bytes[1] / MIB,
        "peak_mem_total_mib": peak.peak_bytes / MIB,
        "cache_bytes": measured,
        "cache_analytic_bytes": analytic,
        "cache_mib": measured / MIB,
        "cache_analytic_mib": analytic / MIB,
        "cache_dtype": str(dtype).removeprefix("torch."),
        "decode_flops_per_token": decode_flops_per_token(config, context),
    }


def output_cache(out):
    """The cache of a model output: `cache` in transformers >= 5.2x, `past_key_values` before."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def prefill(model, ids: torch.Tensor):
    """A full-context forward that returns the cache; RetNet runs its chunkwise form, logits only for the last
    position (the full (B, T, V) logits would dominate memory and are not needed to decode)."""
    if hasattr(model.config, "retention_mode"):
        model.config.retention_mode = "chunkwise"
    try:
        return model(ids, use_cache=True, logits_to_keep=1)
    except TypeError:  # a model without logits_to_keep
        return model(ids, use_cache=True)


def timed(device: torch.device, fn, *args, **kwargs):
    """(seconds, result) of `fn(*args, **kwargs)`, with the GPU's queued work finished on both sides of the clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, result
