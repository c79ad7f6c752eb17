"""`retlab bench infer`: decoding speed and memory against context length, RetNet's recurrent state against the
Transformer's KV cache in both of its forms: `dynamic` (transformers' DynamicCache, grown by concatenation: every
step copies the whole cache) and `static` (a pre-allocated StaticCache written in place).

At each (batch size, context) point:
1. Prefill. Each architecture runs the context once untimed (warm-up; its peak tensor memory is measured), then
   `prefill_rounds` timed rounds, interleaved across architectures. The Transformer's prefill fills a DynamicCache;
   the static decoder gets a StaticCache holding the same keys and values (copied outside the clock).
2. Decode. Each decoder's state is counted exactly (bytes of its tensors, checked against the formula); after
   `warmup_steps` untimed rounds, two untimed steps per decoder measure its working memory (the second step's peak
   tensor bytes above the state it holds, the prefill's memory released); then `decode_steps` timed rounds, one
   step of every decoder per round, in rotating order (bench/timer.py).
3. Compare. RetNet's decode speed-up over the FASTER Transformer decoder at that point (by median), taken per round
   and summarised; and per batch size the context from which RetNet decodes faster (bench/summary.py).
An `hf:` model decodes through its own cache (`models/decoding.py`): its recurrent state, or its DynamicCache
(dynamic only: the static copy is retlab's Transformer++'s); one whose cache cannot decode step by step is timed
recomputing everything so far for each token (`recompute`), with a note.
Results are cached like every stage (bench/stage.py): re-running re-measures nothing unless `--force` or the
settings, models, code or machine changed."""

import gc

import torch

from ..console import bar
from ..models.decoding import Decoder
from ..models.specs import spec_for, spec_of
from ..utils.device import use_threads
from .flops import decode_flops_per_token, mfu
from .machine import machine_description
from .memory import (
    MIB,
    analytic_cache_bytes,
    cache_bytes,
    cache_dtype,
    memory_budget_bytes,
    peak_tensor_bytes,
)
from .models import bench_archs, bench_configs, bench_device, bench_dtype, instantiate
from .stage import bench_stage
from .summary import comparisons, crossovers
from .timer import summarize, time_rounds

KV_CACHES = ("dynamic", "static")  # every arch that decodes from a KV cache is timed with each


def bench_infer(cfg, force: bool = False, tables: bool = True) -> dict:
    """Benchmark decoding for every decoder, batch size and context; write `bench/infer.json`, its tables and
    plots (or show the stored result when it is up to date). `tables=False` (inside `retlab run`) prints one line
    instead of the tables."""
    b = cfg.bench
    archs = bench_archs(cfg)
    no_cache = [a for a in archs if spec_of(a).cache == "none"]  # decoding recomputes the prefix
    skipped = [a for a in no_cache if not spec_of(a).is_hf]  # retlab's reference backends: training only
    notes = [f"{a}: skipped, it keeps no cache (decoding recomputes the prefix)" for a in skipped]
    notes += [
        f"{a}: its cache cannot decode step by step, so each token is a forward over the whole context so far"
        for a in no_cache
        if a not in skipped
    ]
    archs = [a for a in archs if a not in skipped]
    models = bench_configs(cfg, archs, max(b.contexts) + b.warmup_steps + b.decode_steps + 3)

    def measure(device, peak: dict) -> dict:
        budget = memory_budget_bytes(device, b.memory_limit_gib)
        dtype = bench_dtype(cfg)
        loaded = [(m, instantiate(m, device, dtype, seed=cfg.seed).eval()) for m in models]
        decoders = [
            {"name": name, "arch": m.arch, "cache": kind, "model": model}
            for m, model in loaded
            for name, kind in decoder_kinds(m.arch)
        ]
        point_at(decoders, min(b.contexts), 1, b, device, budget, peak)  # first-call costs, not measured
        points, prefills = [], []
        with bar("bench infer", len(b.batch_sizes) * len(b.contexts), "points") as update:
            for batch_size in b.batch_sizes:
                for context in b.contexts:
                    decoded, prefilled = point_at(decoders, context, batch_size, b, device, budget, peak)
                    points += decoded
                    prefills += prefilled
                    update(1, info=f"batch {batch_size}, context {context:,}")
        compared = comparisons({"points": points})
        return {
            "decoders": [{"decoder": d["name"], "arch": d["arch"], "cache": d["cache"]} for d in decoders],
            "points": points,
            "prefill": prefills,
            "comparisons": compared,
            "crossover": crossovers({"points": points, "comparisons": compared}),
            "notes": notes + [progress(p).removeprefix("[bench infer] ") for p in points if "skipped" in p],
        }

    return bench_stage(cfg, "infer", infer_settings(b), models, force, measure, tables)


def infer_settings(b) -> dict:
    """What the figures depend on besides the models, the machine and the shared settings (bench_stage)."""
    return {
        "contexts": list(b.contexts),
        "batch_sizes": list(b.batch_sizes),
        "decode_steps": b.decode_steps,
        "warmup_steps": b.warmup_steps,
        "prefill_rounds": b.prefill_rounds,
    }


# ---------------------------------------------------------------------------------------------------- decoders


def decoder_kinds(arch: str) -> list[tuple[str, str]]:
    """(decoder name, cache kind) of one architecture: its recurrent state, a KV cache of each kind (an `hf:`
    model: its own, dynamic), or `recompute` for an `hf:` model without a step-by-step cache."""
    spec = spec_of(arch)
    if spec.cache == "recurrent":
        return [(arch, "recurrent")]
    if spec.cache == "none":
        return [(arch, "recompute")]
    return [(f"{arch}-{kind}", kind) for kind in (KV_CACHES[:1] if spec.is_hf else KV_CACHES)]


# ---------------------------------------------------------------------------------------------------- one point


def point_at(decoders, context: int, batch_size: int, bench, device, budget: int, peak: dict):
    """(decode points, prefill points) at one (batch size, context); every decoder and architecture measured
    together, interleaved."""
    where = {"batch_size": batch_size, "context": context}
    capacity = context + bench.warmup_steps + 2 + bench.decode_steps  # tokens a static cache must hold
    share = budget // max(len(decoders), 1)
    skipped = {d["name"]: over_budget(d, capacity, batch_size, share) for d in decoders}
    skipped = {name: why for name, why in skipped.items() if why}
    live = [d for d in decoders if d["name"] not in skipped]
    prefilled, decoded = [], {}
    try:
        if live:
            archs = {d["arch"]: d["model"] for d in live}
            vocab = min(m.config.vocab_size for m in archs.values())
            generator = torch.Generator().manual_seed(context * 1000 + batch_size)
            ids = torch.randint(vocab, (batch_size, context), generator=generator).to(device)
            prefilled, outputs = prefill_archs(archs, ids, bench, device)
            states = {d["name"]: start_decoder(d, outputs[d["arch"]], ids, capacity) for d in live}
            del outputs  # the prefill's logits and activations: decoding holds only each decoder's state
            gc.collect()
            decoded = decode_all(states, bench, device)
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        skipped |= {d["name"]: "out of memory" for d in live}
        prefilled, decoded = [], {}
    points = []
    for d in decoders:
        point = {"decoder": d["name"], "arch": d["arch"], "cache": d["cache"], **where}
        if d["name"] in skipped:
            point["skipped"] = skipped[d["name"]]
        else:
            point.update(decode_figures(d["model"].config, decoded[d["name"]], context, batch_size, peak))
        points.append(point)
    return points, [{"arch": arch, **where, **figures} for arch, figures in prefilled]


def over_budget(decoder: dict, capacity: int, batch_size: int, share: int) -> str | None:
    model = decoder["model"]
    need = analytic_cache_bytes(model.config, capacity, batch_size, next(model.parameters()).element_size())
    if need is not None and need > share:  # an `hf:` model's cache has no formula: it is only measured
        return f"cache of {need / MIB:.0f} MiB exceeds its share of the memory budget ({share / MIB:.0f} MiB)"
    return None


def prefill_archs(archs: dict, ids: torch.Tensor, bench, device):
    """([(arch, prefill figures)], {arch: the last prefill's output}): one untimed prefill of `ids` (B, T) per
    architecture that measures its peak tensor memory, then `prefill_rounds` timed rounds, interleaved."""
    batch_size, context = ids.shape
    outputs: dict = {}

    def run(arch: str) -> None:
        outputs[arch] = prefill(archs[arch], ids)

    with torch.inference_mode():
        memory = {arch: peak_tensor_bytes(device, lambda a=arch: prefill(archs[a], ids))[0] for arch in archs}
        calls = {arch: (lambda a=arch: run(a)) for arch in archs}
        seconds = time_rounds(
            calls, bench.prefill_rounds, sync=sync_of(device), before=lambda a: outputs.pop(a, 0)
        )
    figures = [
        (
            arch,
            {
                "prefill_s": summarize(seconds[arch]),
                "prefill_tokens_per_s": summarize([batch_size * context / s for s in seconds[arch]]),
                "prefill_peak_mib": None if memory[arch] is None else memory[arch] / MIB,
            },
        )
        for arch in archs
    ]
    return figures, outputs


def prefill(model, ids: torch.Tensor):
    """A full-context forward that returns the model's cache (a DynamicCache for the Transformer); RetNet runs its
    chunkwise form; logits only for the last position (the full (B, T, V) logits would dominate memory)."""
    if spec_for(model.config).mixer == "retention":
        model.config.retention_mode = "chunkwise"
    return Decoder(model).forward(ids, last_only=True)


def start_decoder(decoder: dict, out, ids: torch.Tensor, capacity: int) -> dict:
    """A decoder's state after the prefill of `ids`: the model's decoder holding its cache, the tokens the cache
    is sized for, and the next input token (the prefill's greedy choice). The static decoder gets a copy of the
    prefill's keys and values in a StaticCache of `capacity` tokens; the dynamic one continues the prefill's
    DynamicCache itself."""
    state = Decoder(decoder["model"])
    state.adopt(out, ids)
    tokens = ids.shape[1]
    if decoder["cache"] == "static":
        state.cache, tokens = static_copy(decoder["model"].config, state.cache, capacity), capacity
    return {"decoder": state, "tokens": tokens, "next": out.logits[:, -1:].argmax(-1)}


def static_copy(config, dynamic, capacity: int):
    """A StaticCache of `capacity` tokens holding the keys and values of `dynamic`."""
    from transformers import StaticCache

    static = StaticCache(config=config, max_cache_len=capacity)
    with torch.inference_mode():
        for i, layer in enumerate(dynamic.layers):
            static.update(layer.keys, layer.values, i)
    return static


def decode_all(states: dict, bench, device) -> dict:
    """{decoder: {"state_bytes", "state_dtype", "state_tokens", "step_peak", "seconds"}}: each state counted, then
    warm-up rounds, one untimed step each for its working memory, and the timed rounds."""
    sync = sync_of(device)
    measured = {
        name: {
            "state_bytes": cache_bytes(s["decoder"].cache),
            "state_dtype": cache_dtype(s["decoder"].cache),
            "state_tokens": s["tokens"],
        }
        for name, s in states.items()
    }
    steps = {name: (lambda s=s: decode_step(s)) for name, s in states.items()}
    with torch.inference_mode():
        if bench.warmup_steps:
            time_rounds(steps, bench.warmup_steps, sync=sync)
        for (
            name,
            step,
        ) in steps.items():  # one more step first: its tensors are the ones the measured step frees
            measured[name]["step_peak"] = peak_tensor_bytes(device, step, before=step)[0]
        for name, seconds in time_rounds(steps, bench.decode_steps, sync=sync).items():
            measured[name]["seconds"] = seconds
    states.clear()
    return measured


def decode_step(state: dict) -> None:
    """One token through the cache: the model reads only the new token (a `recompute` one: everything so far);
    greedy choice of the next."""
    state["next"] = state["decoder"].step(state["next"]).argmax(-1, keepdim=True)


def decode_figures(config, measured: dict, context: int, batch_size: int, peak: dict) -> dict:
    """A decode point's figures: timings per round and their spread, MFU, the state's exact bytes and the
    working memory of one step."""
    seconds, dtype = measured["seconds"], measured["state_dtype"]
    per_token_ms = [1e3 * s for s in seconds]
    tokens_per_s = [batch_size / s for s in seconds]
    flops = decode_flops_per_token(config, context)
    analytic = analytic_cache_bytes(
        config, measured["state_tokens"], batch_size, dtype.itemsize if dtype else 4
    )
    step_peak = measured["step_peak"]
    return {
        "time_per_token_ms": summarize(per_token_ms),
        "time_per_token_ms_rounds": per_token_ms,
        "decode_tokens_per_s": summarize(tokens_per_s),
        "decode_flops_per_token": flops,
        "mfu": summarize([mfu(flops, t, peak["tflops"]) for t in tokens_per_s]) if peak["tflops"] else None,
        "state_bytes": measured["state_bytes"],
        "state_analytic_bytes": analytic,
        "state_mib": measured["state_bytes"] / MIB,
        "state_tokens": measured["state_tokens"],
        "state_dtype": str(dtype).removeprefix("torch."),
        "decode_step_peak_mib": None if step_peak is None else step_peak / MIB,
    }


def profile_decode(cfg, decoder: str, context: int, steps: int = 16) -> str:
    """torch.profiler's table of `steps` decode steps of one decoder at `context` (batch 1, after 4 warm-up steps):
    where a step's time goes, e.g. the dynamic cache's `aten::cat` copies, with that op's share of the total."""
    from torch.profiler import ProfilerActivity, profile

    from ..errors import ConfigError

    use_threads(cfg.num_threads)  # part of the machine description, hence of the fingerprint
    device, dtype = bench_device(cfg), bench_dtype(cfg)
    archs = [a for a in bench_archs(cfg) if spec_of(a).cache != "none"]
    models = bench_configs(cfg, archs, context + steps + 8)
    found = [(m, kind) for m in models for name, kind in decoder_kinds(m.arch) if name == decoder]
    if not found:
        names = [name for m in models for name, _ in decoder_kinds(m.arch)]
        raise ConfigError("--profile", f"unknown decoder {decoder!r}", f"use one of {', '.join(names)}")
    ((bench_model, kind),) = found
    model = instantiate(bench_model, device, dtype, seed=cfg.seed).eval()
    ids = torch.randint(model.config.vocab_size, (1, context), generator=torch.Generator().manual_seed(0))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch.inference_mode():
        ids = ids.to(device)
        state = start_decoder({"model": model, "cache": kind}, prefill(model, ids), ids, context + steps + 8)
        for _ in range(4):
            decode_step(state)
        with profile(activities=activities) as prof:
            for _ in range(steps):
                decode_step(state)
    averages = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in averages)
    cat = sum(e.self_cpu_time_total for e in averages if e.key == "aten::cat")
    head = (
        f"{decoder}, context {context}, batch 1, {steps} decode steps on {machine_description(device)['device']}: "
        f"{total / steps / 1e3:.2f} ms of self CPU time per step, aten::cat {cat / max(total, 1):.1%} of it"
    )
    return head + "\n" + averages.table(sort_by="self_cpu_time_total", row_limit=12)


def sync_of(device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None


def progress(point: dict) -> str:
    where = f"[bench infer] {point['decoder']} batch {point['batch_size']} context {point['context']}"
    if "skipped" in point:
        return f"{where}: skipped ({point['skipped']})"
    t = point["time_per_token_ms"]
    return f"{where}: {t['median']:.2f} ms/token (IQR {t['q1']:.2f}-{t['q3']:.2f}), state {point['state_mib']:.3f} MiB"
