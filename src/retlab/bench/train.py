"""`retlab bench train`: training-step throughput and memory against sequence length, with FLOPs and MFU.

Each variant (RetNet parallel and chunkwise, Transformer++, the TorchScale backends) is parameter-matched to
`compare`'s first architecture. A step is forward, loss, backward and an AdamW update on random tokens. At each
sequence length every variant takes one untimed step (it allocates the optimiser state; its peak tensor memory is
measured), then `train_steps` timed rounds, one step of every variant per round, interleaved (bench/timer.py):
median and IQR over the rounds. MFU is against the device's peak: on a CPU a matmul timed at the start. Cached like
every stage (bench/stage.py)."""

import importlib.util

import torch

from ..console import bar
from ..models.loss import aligned_lm_loss
from ..models.specs import SPECS, spec_for, spec_of
from .flops import mfu, mixing_form, train_flops_per_token
from .infer import sync_of
from .memory import MIB, memory_budget_bytes, peak_tensor_bytes
from .models import bench_archs, bench_configs, bench_dtype, instantiate
from .stage import bench_stage
from .timer import summarize, time_rounds


def bench_train(cfg, force: bool = False) -> dict:
    """Benchmark training steps for every variant and sequence length; write `bench/train.json` and plots (or
    show the stored result when it is up to date)."""
    b = cfg.bench
    archs, notes = train_archs(cfg)
    models = bench_configs(cfg, archs, max(b.train_seq_lens))

    def measure(device, peak: dict) -> dict:
        if peak["tflops"] is None:
            notes.append(f"MFU: N/A, the peak FLOP/s of {peak['source']} is not known")
        budget = memory_budget_bytes(device, b.memory_limit_gib)
        dtype = bench_dtype(cfg)
        # Every model stays loaded and the variants take turns within each round, so that load from other
        # processes on a shared machine falls on all of them alike rather than on whichever ran last.
        loaded = [(m, instantiate(m, device, torch.float32, seed=cfg.seed).train()) for m in models]
        runs = [(variant, form, m, model) for m, model in loaded for variant, form in variants(m)]
        points_at(
            runs, min(b.train_seq_lens), b, device, dtype, budget, peak
        )  # first-call costs, not measured
        points = []
        with bar("bench train", len(b.train_seq_lens), "points") as update:
            for seq_len in b.train_seq_lens:
                points += points_at(runs, seq_len, b, device, dtype, budget, peak)
                update(1, info=f"seq_len {seq_len:,}")
        skipped = [
            f"{p['variant']} seq {p['seq_len']}: skipped ({p['skipped']})" for p in points if "skipped" in p
        ]
        return {"points": points, "notes": notes + skipped}

    return bench_stage(cfg, "train", train_settings(b), models, force, measure)


def train_settings(b) -> dict:
    """What the figures depend on besides the models, the machine and the shared settings (bench_stage)."""
    return {
        "seq_lens": list(b.train_seq_lens),
        "batch_size": b.train_batch_size,
        "train_steps": b.train_steps,
        "archs": list(b.archs),
    }


def train_archs(cfg) -> tuple[list[str], list[str]]:
    """`bench.archs`, else `compare` plus the reference implementations (the TorchScale backends); an arch
    whose optional package is missing is skipped with a note."""
    archs = bench_archs(cfg)
    if not cfg.bench.archs:
        archs += [name for name, spec in SPECS.items() if spec.bench_train_default and name not in archs]
    missing = {a: spec_of(a).requires for a in archs if spec_of(a).requires}
    missing = {a: pkg for a, pkg in missing.items() if importlib.util.find_spec(pkg) is None}
    notes = [f"{a}: skipped, {pkg} is not installed" for a, pkg in missing.items()]
    return [a for a in archs if a not in missing], notes


def variants(bench_model) -> list[tuple[str, str]]:
    """(label, form): each of the forms the arch's spec names for training benchmarks, else its own form."""
    forms = spec_of(bench_model.arch).bench_train_forms
    if not forms:
        return [(bench_model.arch, mixing_form(bench_model.config))]
    return [(bench_model.arch if f == "attention" else f"{bench_model.arch}-{f}", f) for f in forms]


def set_form(config, form: str) -> None:
    if spec_for(config).mixer == "retention":
        config.retention_mode = form


def points_at(runs, seq_len: int, bench, device, dtype, budget: int, peak: dict) -> list[dict]:
    """Every variant at one sequence length: an untimed step each (optimiser state; its peak tensor memory), then
    `train_steps` timed rounds, interleaved."""
    generator = torch.Generator().manual_seed(seq_len)
    steps, memory, points = {}, {}, {}
    for variant, form, bench_model, model in runs:
        point = {"variant": variant, "arch": bench_model.arch, "form": form, "seq_len": seq_len}
        points[variant] = point
        estimate = estimate_step_bytes(model.config, bench.train_batch_size, seq_len, form)
        if estimate > budget:
            point["skipped"] = f"estimated {estimate / 2**30:.1f} GiB exceeds the memory budget"
            continue
        vocab = model.config.vocab_size
        block = torch.randint(vocab, (bench.train_batch_size, seq_len + 1), generator=generator).to(device)
        steps[variant] = training_step(model, form, block, device, dtype)
        try:
            memory[variant] = peak_tensor_bytes(device, steps[variant])[0]
        except torch.OutOfMemoryError:
            del steps[variant]
            torch.cuda.empty_cache()  # give the next variant the memory back
            point["skipped"] = "out of memory"
    seconds = time_rounds(steps, bench.train_steps, sync=sync_of(device)) if steps else {}
    for variant, taken in seconds.items():
        points[variant].update(train_figures(runs, variant, taken, memory[variant], bench, seq_len, peak))
    return list(points.values())


def training_step(model, form: str, block: torch.Tensor, device, dtype):
    """One step of `model` in `form` on `block` (aligned input/label pairs, as the data pipeline yields)."""
    ids, labels = block[:, :-1], block[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        set_form(model.config, form)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = aligned_lm_loss(model(ids).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def train_figures(
    runs, variant: str, seconds: list[float], memory: int | None, bench, seq_len: int, peak
) -> dict:
    (config, form) = next((model.config, form) for v, form, _, model in runs if v == variant)
    tokens = bench.train_batch_size * seq_len
    tokens_per_s = [tokens / s for s in seconds]
    flops = train_flops_per_token(config, seq_len, form)
    return {
        "step_s": summarize(seconds),
        "step_s_rounds": seconds,
        "tokens_per_s": summarize(tokens_per_s),
        "peak_mem_mib": None if memory is None else memory / MIB,
        "flops_per_token": flops,
        "achieved_tflops": summarize([flops * t / 1e12 for t in tokens_per_s]),
        "mfu": summarize([mfu(flops, t, peak["tflops"]) for t in tokens_per_s]) if peak["tflops"] else None,
    }


def estimate_step_bytes(config, batch_size: int, seq_len: int, form: str) -> int:
    """A rough upper bound of a training step's memory, to skip points that would exhaust it: weights,
    gradients and AdamW moments, activations linear in T, and for the parallel retention form and TorchScale's
    attention the (T, T) score matrices of every layer and head kept for backward (Transformer++ uses SDPA's
    fused kernels, which keep none)."""
    from ..models.sizing import count_parameters

    value_bytes = 4
    spec = spec_for(config)
    d = config.hidden_size
    d_v = spec.read(config, "value_dim") or 2 * d
    ffn = spec.read(config, "intermediate_size") or 4 * d  # an `hf:` type's width under its own name
    state = 4 * count_parameters(config) * value_bytes
    linear = (
        batch_size
        * seq_len
        * value_bytes
        * (config.num_hidden_layers * (12 * d + 4 * d_v + 3 * ffn) + 3 * config.vocab_size)
    )
    quadratic = 0
    if form in spec.score_matrix_forms:
        quadratic = 4 * batch_size * config.num_hidden_layers * config.num_heads * seq_len**2 * value_bytes
    return state + linear + quadratic
