"""`retlab bench train`: training-step throughput and memory against sequence length, with FLOPs and MFU.

Each variant (RetNet parallel and chunkwise, Transformer++, the TorchScale backends) is parameter-matched to
`compare`'s first architecture; the variants take turns at each sequence length. A step is forward, loss, backward and an AdamW update on random tokens; one untimed step
(it allocates the optimiser state) precedes `train_steps` timed ones, whose median is reported."""

import importlib.util
import statistics

import torch

from ..layout import RunLayout
from ..models.loss import aligned_lm_loss
from ..models.specs import SPECS, spec_for
from ..utils.files import atomic_write_json
from .flops import mfu, mixing_form, peak_tflops, train_flops_per_token
from .infer import model_summary, timed
from .memory import MIB, PeakMemory, memory_budget_bytes
from .models import bench_archs, bench_configs, bench_device, bench_dtype, device_name, instantiate
from .table import text_table

COLUMNS = [
    ("variant", "variant", ""),
    ("seq_len", "seq len", ""),
    ("step_s", "step s", ".3f"),
    ("tokens_per_s", "tokens/s", ".1f"),
    ("peak_mem_mib", "peak MiB", ".1f"),
    ("flops_per_token", "GFLOP/token", ""),
    ("achieved_tflops", "TFLOP/s", ".4f"),
    ("mfu", "MFU", ".3f"),
]


def bench_train(cfg) -> dict:
    """Benchmark training steps for every variant and sequence length; write `bench/train.json` and plots."""
    from .plots import bench_plots

    device, dtype = bench_device(cfg), bench_dtype(cfg)
    archs, notes = train_archs(cfg)
    models = bench_configs(cfg, archs, max(cfg.bench.train_seq_lens))
    peak = peak_tflops(device_name(device), cfg.bench.dtype) if device.type == "cuda" else None
    if peak is None:
        notes.append(f"MFU: N/A, the peak FLOP/s of {device_name(device)} in {cfg.bench.dtype} is not known")
    budget = memory_budget_bytes(device, cfg.bench.memory_limit_gib)

    # Every model stays loaded and the variants take turns at each length, so that load from other processes
    # on a shared machine falls on all of them alike rather than on whichever ran last.
    loaded = [(m, instantiate(m, device, torch.float32, seed=cfg.seed).train()) for m in models]
    runs = [(variant, form, m, model) for m, model in loaded for variant, form in variants(m)]
    for _, form, _, model in runs:  # first-call allocations and kernel choices, not measured
        set_form(model.config, form)
        train_point(model, min(cfg.bench.train_seq_lens), cfg.bench, device, dtype, budget, peak)
    points = []
    for seq_len in cfg.bench.train_seq_lens:
        for variant, form, bench_model, model in runs:
            set_form(model.config, form)
            point = {"variant": variant, "arch": bench_model.arch, "form": form, "seq_len": seq_len}
            point.update(train_point(model, seq_len, cfg.bench, device, dtype, budget, peak))
            points.append(point)
            print(progress(point), flush=True)
    del loaded, runs

    result = {
        "kind": "train",
        "device": device_name(device),
        "dtype": cfg.bench.dtype,
        "peak_tflops": peak,
        "settings": {"batch_size": cfg.bench.train_batch_size, "train_steps": cfg.bench.train_steps},
        "models": [model_summary(m) for m in models],
        "points": points,
        "notes": notes,
    }
    out_dir = RunLayout.of(cfg).bench
    atomic_write_json(out_dir / "train.json", result)
    result["plots"] = [str(p) for p in bench_plots(result, out_dir)]
    print(train_table(points))
    for note in notes:
        print(f"note: {note}")
    return result


def train_archs(cfg) -> tuple[list[str], list[str]]:
    """`bench.archs`, else `compare` plus the reference implementations (the TorchScale backends); an arch
    whose optional package is missing is skipped with a note."""
    archs = bench_archs(cfg)
    if not cfg.bench.archs:
        archs += [name for name, spec in SPECS.items() if spec.bench_train_default and name not in archs]
    missing = {a: SPECS[a].requires for a in archs if SPECS[a].requires}
    missing = {a: pkg for a, pkg in missing.items() if importlib.util.find_spec(pkg) is None}
    notes = [f"{a}: skipped, {pkg} is not installed" for a, pkg in missing.items()]
    return [a for a in archs if a not in missing], notes


def variants(bench_model) -> list[tuple[str, str]]:
    """(label, form): each of the forms the arch's spec names for training benchmarks, else its own form."""
    forms = SPECS[bench_model.arch].bench_train_forms or (mixing_form(bench_model.config),)
    return [(bench_model.arch if f == "attention" else f"{bench_model.arch}-{f}", f) for f in forms]


def set_form(config, form: str) -> None:
    if form != "attention":
        config.retention_mode = form


def train_point(model, seq_len: int, bench, device, dtype, budget: int, peak: float | None) -> dict:
    config = model.config
    form = mixing_form(config)
    estimate = estimate_step_bytes(config, bench.train_batch_size, seq_len, form)
    if estimate > budget:
        return {"skipped": f"estimated {estimate / 2**30:.1f} GiB exceeds the memory budget"}
    generator = torch.Generator().manual_seed(seq_len)
    block = torch.randint(config.vocab_size, (bench.train_batch_size, seq_len + 1), generator=generator)
    ids, labels = (
        block[:, :-1].to(device),
        block[:, 1:].to(device),
    )  # aligned pairs, as the data pipeline yields
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = aligned_lm_loss(model(ids).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    memory = PeakMemory(device)
    try:
        with memory.measure():
            step_s = [timed(device, step)[0] for _ in range(1 + bench.train_steps)][1:]
    except torch.OutOfMemoryError:
        optimizer.zero_grad(set_to_none=True)
        del optimizer
        torch.cuda.empty_cache()  # give the next variant the memory back
        return {"skipped": "out of memory"}
    seconds = statistics.median(step_s)
    tokens_per_s = bench.train_batch_size * seq_len / seconds
    flops = train_flops_per_token(config, seq_len, form)
    return {
        "step_s": seconds,
        "tokens_per_s": tokens_per_s,
        "peak_mem_mib": memory.peak_delta_bytes / MIB,
        "peak_mem_total_mib": memory.peak_bytes / MIB,
        "flops_per_token": flops,
        "achieved_tflops": flops * tokens_per_s / 1e12,
        "mfu": mfu(flops, tokens_per_s, peak),
    }


def estimate_step_bytes(config, batch_size: int, seq_len: int, form: str) -> int:
    """A rough upper bound of a training step's memory, to skip points that would exhaust it: weights,
    gradients and AdamW moments, activations linear in T, and for the parallel retention form and TorchScale's
    attention the (T, T) score matrices of every layer and head kept for backward (Transformer++ uses SDPA's
    fused kernels, which keep none)."""
    from ..models.sizing import count_parameters

    value_bytes = 4
    d = config.hidden_size
    d_v = getattr(config, "value_dim", None) or 2 * d
    state = 4 * count_parameters(config) * value_bytes
    linear = (
        batch_size
        * seq_len
        * value_bytes
        * (
            config.num_hidden_layers * (12 * d + 4 * d_v + 3 * config.intermediate_size)
            + 3 * config.vocab_size
        )
    )
    quadratic = 0
    if form in spec_for(config).score_matrix_forms:
        quadratic = 4 * batch_size * config.num_hidden_layers * config.num_heads * seq_len**2 * value_bytes
    return state + linear + quadratic


def progress(point: dict) -> str:
    if "skipped" in point:
        return f"[bench train] {point['variant']} seq {point['seq_len']}: skipped ({point['skipped']})"
    return (
        f"[bench train] {point['variant']} seq {point['seq_len']}: {point['tokens_per_s']:.1f} tokens/s, "
        f"peak {point['peak_mem_mib']:.1f} MiB"
    )


def train_table(points: list[dict]) -> str:
    rows = [
        {**p, "flops_per_token": f"{p['flops_per_token'] / 1e9:.4f}" if "flops_per_token" in p else None}
        for p in points
    ]
    return text_table(rows, COLUMNS)
