"""`retlab run`, the main job: data -> train every architecture of `compare` -> evaluation -> benchmarks -> report,
ending with a side-by-side table. Every stage is cached, so re-running skips what is up to date and an interrupted
run continues (training resumes from its last checkpoint)."""

import dataclasses
import importlib
import importlib.util
import math
import time

from .config.loader import save_run_config
from .errors import ConfigError
from .layout import RunLayout
from .models.factory import DataShape, contender_configs
from .models.sizing import count_parameters
from .models.specs import spec_of
from .utils.device import is_main_process


def preflight(cfg) -> None:
    """What `run` checks before it writes anything: training's inputs and every contender's model, and the
    evaluation settings (which would otherwise fail only after every architecture has trained)."""
    from .training.train import preflight as training_preflight

    training_preflight(cfg, cfg.compare)
    if importlib.util.find_spec("retlab.evaluation") is not None:
        from .evaluation.evaluate import check_settings

        check_settings(cfg)


def run(cfg, force: bool = False) -> dict:
    """Run every stage for `cfg`; returns {arch: metrics} of the trained architectures. The run's config.yaml
    is written once its results exist (before the report that reads it), never by a run that failed."""
    from .data import prepare
    from .training.train import train

    started = time.perf_counter()
    layout = RunLayout.of(cfg)
    preflight(cfg)
    info = prepare(cfg, force=force)
    print_parameter_match(cfg, contender_configs(cfg.model, cfg.compare, DataShape.of(info)))

    # An interrupted run continues from its last checkpoint unless the config names another one.
    resumable = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, resume=cfg.train.resume or "auto")
    )
    results = {arch: train(resumable, arch, force=force) for arch in cfg.compare}
    if not is_main_process():  # the other processes of a multi-process (DDP) run only help train
        return results

    evaluation = optional_stage("evaluation", "retlab.evaluation.evaluate", "evaluate", cfg, force=force)
    if getattr(cfg.bench, "enabled", False):
        optional_stage("benchmarks", "retlab.bench.infer", "bench_infer", cfg, force=force)
    else:
        print("benchmarks: not enabled in this config (run `retlab bench infer` separately)")
    save_run_config(cfg)
    optional_stage("report", "retlab.report.report", "build_report", cfg, [str(layout.root)])

    print(comparison_table(results, (evaluation or {}).get("summary", {})))
    if evaluation:
        from .evaluation.evaluate import format_samples

        print(format_samples(evaluation), end="")
    print(f"run: {cfg.name} done in {time.perf_counter() - started:.1f} s -> {layout.root}")
    return results


def optional_stage(label: str, module: str, function: str, *args, **kwargs):
    """Call `module.function(*args)` when that stage is part of this installation; skip it in one line otherwise.
    Only a missing module is skipped: errors inside the stage propagate."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing too
        found = False
    if not found:
        print(f"{label}: skipped ({module} is not available)")
        return None
    return getattr(importlib.import_module(module), function)(*args, **kwargs)


def print_parameter_match(cfg, configs: dict) -> None:
    """Every architecture's parameter count ({arch: model config}), its width and its gap to the first one's."""
    counts = {arch: count_parameters(c) for arch, c in configs.items()}
    reference = counts[cfg.compare[0]]
    for arch, config in configs.items():
        n = counts[arch]
        gap = (n - reference) / reference
        try:
            field = spec_of(arch).width_field_of(cfg.model)
        except ConfigError:  # an hf: type with no width field, trained unmatched
            field = None
        ffn = f", {field} {getattr(config, field, None)}" if field else ""
        print(
            f"params: {arch:<24} {n:>12,}{ffn}"
            + ("" if n == reference else f"  ({gap:+.2%} vs {cfg.compare[0]})")
        )


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def comparison_table(results: dict[str, dict], evaluation: dict[str, dict] | None = None) -> str:
    """Markdown table, one row per architecture: training metrics, then the evaluation's `task/metric` scores
    (chance levels and baselines left out: they are the same for every model)."""
    evaluation = evaluation or {}
    scores = sorted({k for e in evaluation.values() for k in e if "chance" not in k and "baseline" not in k})
    mqar = any("test_mqar_accuracy" in m for m in results.values())
    head = ["arch", "params", "train tok/s", "best val loss", "best val ppl", "test loss", "test ppl"]
    head += ["test MQAR acc"] if mqar else []
    head += ["wall time s"] + scores
    rows = []
    for arch, m in results.items():
        row = [
            arch,
            _fmt(m.get("params"), ","),
            _fmt(m.get("train_tokens_per_s"), ",.0f"),
            _fmt(m.get("best_val_loss"), ".4f"),
            _fmt(m.get("best_val_ppl"), ".2f"),
            _fmt(m.get("test_loss"), ".4f"),
            _fmt(m.get("test_ppl"), ".2f"),
        ]
        row += [_fmt(m.get("test_mqar_accuracy"), ".1%")] if mqar else []
        row += [_fmt(m.get("wall_time_s"), ".1f")]
        row += [_fmt(evaluation.get(arch, {}).get(k), ".4g") for k in scores]
        rows.append(row)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
