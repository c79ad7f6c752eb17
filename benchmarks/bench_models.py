"""Training-step speed on CPU: native RetNet (each form), TorchScale's RetNet (parallel, chunkwise) and
Transformer++ sized to the same parameter count, at several sequence lengths (batch 1).

One step = forward, loss, backward, AdamW step. tokens/s = seq_len / median step time over `--steps` steps after
`--warmup` untimed ones; the variants' steps are interleaved so that other load on the machine hits them alike.
Prints a table and ends with one JSON line.

    .venv/bin/python benchmarks/bench_models.py                  # seq 256 1024 4096
    .venv/bin/python benchmarks/bench_models.py --quick          # seq 256 1024, 2 steps
    .venv/bin/python benchmarks/bench_models.py --profile retnet-chunkwise:4096

Target (issue 2): native chunkwise >= 1.5x the tokens/s of TorchScale's faster form at seq 4096, not slower at 256.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from unittest import mock

import torch

from retlab.config.model import ModelConfig
from retlab.models.factory import build_config, build_model
from retlab.models.loss import aligned_lm_loss
from retlab.models.sizing import match_parameters

# name -> (arch, retention_mode or None)
VARIANTS = {
    "retnet-parallel": ("retnet", "parallel"),
    "retnet-chunkwise": ("retnet", "chunkwise"),
    "retnet-recurrent": ("retnet", "recurrent"),
    "torchscale-parallel": ("torchscale-retnet", "parallel"),
    "torchscale-chunkwise": ("torchscale-retnet", "chunkwise"),
    "transformer": ("transformer", None),
    # Diagnostic: native RetNet with retention itself replaced by o = v. Everything else (projections, rotation,
    # group norm, gate, MLP, head, AdamW) is unchanged, so its speed bounds what any retention kernel can reach.
    "retnet-no-retention": ("retnet", "chunkwise"),
}
TARGET_RATIO_LONG, LONG, SHORT = 1.5, 4096, 256


@dataclass
class Result:
    model: str
    seq_len: int
    params: int | None = None
    step_s: float | None = None
    tokens_per_s: float | None = None
    step_s_min: float | None = None
    note: str = ""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seq-lens", type=int, nargs="+", default=[256, 1024, 4096], help="sequence lengths")
    p.add_argument("--steps", type=int, default=5, help="timed steps per model and length (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--quick", action="store_true", help="seq 256 1024, 2 steps")
    p.add_argument(
        "--models", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), help="variants to time"
    )
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--chunk-size", type=int, default=64, help="chunk length of both chunkwise forms")
    p.add_argument(
        "--recurrent-max-len", type=int, default=256, help="time the recurrent form up to this length"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    p.add_argument(
        "--profile", metavar="MODEL:SEQ", help="profile one step of MODEL at SEQ instead of the table"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seq_lens, args.steps = [256, 1024], 2
    return args


# ---------------------------------------------------------------------------------------------------- models


def model_section(args) -> ModelConfig:
    return ModelConfig(
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        num_heads=args.heads,
        chunk_size=args.chunk_size,
    )


def build(name: str, args):
    """(model, parameter count, note) of variant `name`; the Transformer is sized to the native RetNet's count."""
    arch, mode = VARIANTS[name]
    section = model_section(args)
    if mode is not None:
        section = replace(section, retention_mode=mode)
    max_len = max(args.seq_lens)
    config = build_config(section, arch, args.vocab_size, max_len)
    note = ""
    if arch == "transformer":
        config, note = matched_to_retnet(config, section, args, max_len)
    model = build_model(config, seed=0)
    return model, sum(p.numel() for p in model.parameters()), note


def matched_to_retnet(config, section, args, max_len):
    reference = build_config(replace(section, retention_mode="chunkwise"), "retnet", args.vocab_size, max_len)
    matched = match_parameters(reference, config)
    return matched, f"intermediate_size {matched.intermediate_size} (matched)"


# ---------------------------------------------------------------------------------------------------- timing


def train_step(model, optimizer, ids: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    logits = model(ids[:, :-1]).logits  # (1, T, V)
    aligned_lm_loss(logits, ids[:, 1:]).backward()
    optimizer.step()


@contextlib.contextmanager
def step_context(name: str):
    if name != "retnet-no-retention":
        yield
        return
    from retlab.models.native.modeling_retnet import RetentionContext

    def passthrough(self, q, k, v, state=None, output_final_state=False):
        return v + (q.sum() + k.sum()) * 0, None  # q and k stay in the graph: their backward still runs

    with mock.patch.object(RetentionContext, "retention", passthrough):
        yield


def time_length(names: list[str], seq_len: int, args) -> list[Result]:
    """Time every variant at `seq_len`. Steps are interleaved (one step of each variant per round) so that load
    from other processes on a shared machine hits all variants alike."""
    results, runners = {}, {}
    for name in names:
        if VARIANTS[name][1] == "recurrent" and seq_len > args.recurrent_max_len:
            results[name] = Result(
                name, seq_len, note=f"skipped: recurrent only up to {args.recurrent_max_len}"
            )
            continue
        try:
            model, params, note = build(name, args)
        except ImportError as err:
            results[name] = Result(name, seq_len, note=f"unavailable: {err}")
            continue
        model.train()
        runners[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4))
        results[name] = Result(name, seq_len, params, note=note)
    ids = torch.randint(
        0, args.vocab_size, (1, seq_len + 1), generator=torch.Generator().manual_seed(seq_len)
    )
    times = {name: [] for name in runners}
    for round_ in range(args.warmup + args.steps):
        for name, (model, optimizer) in runners.items():
            start = time.perf_counter()
            with step_context(name):
                train_step(model, optimizer, ids)
            if round_ >= args.warmup:
                times[name].append(time.perf_counter() - start)
    for name, taken in times.items():
        results[name].step_s = statistics.median(taken)
        results[name].tokens_per_s = seq_len / results[name].step_s
        results[name].step_s_min = min(taken)
    return [results[name] for name in names]


def profile(spec: str, args) -> None:
    name, seq = spec.split(":")
    model, _, _ = build(name, args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, args.vocab_size, (1, int(seq) + 1))
    with step_context(name):
        train_step(model, optimizer, ids)  # warm-up
    with (
        step_context(name),
        torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof,
    ):
        train_step(model, optimizer, ids)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=15))


# ---------------------------------------------------------------------------------------------------- report


def speedups(results: list[Result], over: str = "retnet-chunkwise") -> dict:
    """tokens/s of `over` divided by that of TorchScale's faster form, per sequence length."""
    by = {(r.model, r.seq_len): r.tokens_per_s for r in results if r.tokens_per_s}
    out = {}
    for seq in sorted({r.seq_len for r in results}):
        ts = [by.get((m, seq)) for m in ("torchscale-parallel", "torchscale-chunkwise")]
        ts = [t for t in ts if t]
        mine = by.get((over, seq))
        if mine and ts:
            out[seq] = mine / max(ts)
    return out


def verdict(ratios: dict) -> dict:
    target = {
        "long_seq": LONG,
        "long_min_ratio": TARGET_RATIO_LONG,
        "short_seq": SHORT,
        "short_min_ratio": 1.0,
    }
    if LONG in ratios and SHORT in ratios:
        target["met"] = ratios[LONG] >= TARGET_RATIO_LONG and ratios[SHORT] >= 1.0
    return target


def print_table(results: list[Result], ratios: dict, ceilings: dict) -> None:
    print(f"{'model':<22}{'params':>12}{'seq':>7}{'step_s':>10}{'min_s':>9}{'tokens_per_s':>14}  note")
    for r in results:
        step = f"{r.step_s:.3f}" if r.step_s else "-"
        fastest = f"{r.step_s_min:.3f}" if r.step_s_min else "-"
        tps = f"{r.tokens_per_s:.0f}" if r.tokens_per_s else "-"
        params = f"{r.params:,}" if r.params else "-"
        print(f"{r.model:<22}{params:>12}{r.seq_len:>7}{step:>10}{fastest:>9}{tps:>14}  {r.note}")
    for seq, ratio in ratios.items():
        ceiling = f" (retention-free ceiling {ceilings[seq]:.2f}x)" if seq in ceilings else ""
        print(f"seq {seq}: native chunkwise / TorchScale's faster form = {ratio:.2f}x{ceiling}")


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.profile:
        profile(args.profile, args)
        return 0
    results = []
    for seq in args.seq_lens:
        for r in time_length(args.models, seq, args):
            results.append(r)
            print(
                f"  {r.model} seq {seq}: {r.tokens_per_s or 0:.0f} tokens/s {r.note}",
                file=sys.stderr,
                flush=True,
            )
    ratios, ceilings = speedups(results), speedups(results, over="retnet-no-retention")
    print_table(results, ratios, ceilings)
    summary = {
        "benchmark": "train_step_cpu",
        "threads": args.threads,
        "batch_size": 1,
        "steps": args.steps,
        "warmup": args.warmup,
        "config": {
            "hidden_size": args.hidden_size,
            "num_hidden_layers": args.layers,
            "num_heads": args.heads,
            "vocab_size": args.vocab_size,
            "chunk_size": args.chunk_size,
        },
        "results": [vars(r) for r in results],
        "native_chunkwise_over_torchscale": {str(k): round(v, 3) for k, v in ratios.items()},
        "retention_free_over_torchscale": {str(k): round(v, 3) for k, v in ceilings.items()},
        "target": verdict(ratios),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
