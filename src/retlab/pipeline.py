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
    results = {arch: train(resumable, arch, force=force, info=info) for arch in cfg.compare}
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


# The training figures of the final table: (metrics.json key, row label with its unit, format).
SUMMARY_ROWS = (
    ("params", "parameters", ","),
    ("train_tokens_per_s", "train throughput (tokens/s)", ",.0f"),
    ("best_val_loss", "best val loss (nats/token)", ".4f"),
    ("test_loss", "test loss (nats/token)", ".4f"),
    ("test_ppl", "test perplexity", ".2f"),
    ("test_mqar_accuracy", "test MQAR accuracy (%)", ".1f"),
    ("wall_time_s", "wall time (s)", ".1f"),
)
# Evaluation scores the training rows already show (the same model, split and measure).
_SHOWN_BY_TRAINING = {"mqar/accuracy"}


def comparison_table(results: dict[str, dict], evaluation: dict[str, dict] | None = None) -> str:
    """The run's final table, one column per architecture (so it fits 100 columns however many scores there
    are): the training figures with their units, then the evaluation's `task/metric` scores (chance levels,
    baselines and figures the training rows already show left out)."""
    from .console import table

    evaluation = evaluation or {}
    archs = list(results)
    rows = []
    for key, label, spec in SUMMARY_ROWS:
        values = [results[a].get(key) for a in archs]
        if all(v is None for v in values):
            continue
        if key == "test_mqar_accuracy":
            values = [None if v is None else 100 * v for v in values]
        rows.append([label, *(_fmt(v, spec) for v in values)])
    scores = sorted({k for e in evaluation.values() for k in e if "chance" not in k and "baseline" not in k})
    for key in (k for k in scores if k not in _SHOWN_BY_TRAINING):
        rows.append([f"eval {key}", *(_fmt(evaluation.get(a, {}).get(key), ".4g") for a in archs)])
    return table(None, ["", *archs], rows)
