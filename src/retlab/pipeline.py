"""`retlab run`, the main job: data -> train every architecture of `compare` -> evaluation -> benchmarks -> report,
ending with a side-by-side table. Every stage is cached, so re-running skips what is up to date and an interrupted
run continues (training resumes from its last checkpoint)."""

import dataclasses
import importlib
import importlib.util
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

    # Each stage in one line (and its bar): the final table shows the scores, the report and the stages' .txt
    # files hold their full tables.
    evaluation = optional_stage(
        "evaluation", "retlab.evaluation.evaluate", "evaluate", cfg, force=force, tables=False
    )
    if getattr(cfg.bench, "enabled", False):
        optional_stage("benchmarks", "retlab.bench.infer", "bench_infer", cfg, force=force, tables=False)
    else:
        print("benchmarks: not enabled in this config (run `retlab bench infer` separately)")
    save_run_config(cfg)
    optional_stage("report", "retlab.report.report", "build_report", cfg, [str(layout.root)])

    print(comparison_table(results, evaluation))
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


# The training figures of the final table: (metrics.json key, row label). Every figure is shown in the format of
# its kind (report/format.py), which carries its unit where the label does not.
SUMMARY_ROWS = (
    ("params", "parameters"),
    ("train_tokens_per_s", "train throughput"),
    ("best_val_loss", "best val loss (nats/token)"),
    ("test_loss", "test loss (nats/token)"),
    ("test_ppl", "test perplexity"),
    ("test_mqar_accuracy", "test MQAR accuracy"),
    ("wall_time_s", "wall time"),
)
# Evaluation scores the training rows already show (the same model, split and measure).
_SHOWN_BY_TRAINING = {"mqar/accuracy"}


def comparison_table(results: dict[str, dict], evaluation: dict | None = None) -> str:
    """The run's final table, one column per architecture (so it fits 100 columns however many scores there
    are): the training figures (metrics.json), then the evaluation's `task/metric` scores with their standard
    errors (results.json; chance levels, baselines and figures the training rows already show left out)."""
    from .console import table
    from .report.format import kind_of, show

    scores = (evaluation or {}).get("results", {})
    archs = list(results)
    rows = []
    for key, label in SUMMARY_ROWS:
        values = [results[a].get(key) for a in archs]
        if any(v is not None for v in values):
            rows.append([label, *(show(v, kind_of(key)) for v in values)])
    for task, metric in eval_rows(scores):
        key = f"{task}/{metric}"
        cells = [show(scores.get(a, {}).get(task, {}).get(metric), kind_of(key)) for a in archs]
        rows.append([f"eval {key}", *cells])
    return table(None, ["", *archs], rows)


def eval_rows(scores: dict[str, dict]) -> list[tuple[str, str]]:
    """The (task, metric) scores of results.json's `results` that the final table shows, sorted."""
    keys = {
        (task, metric)
        for tasks in scores.values()
        for task, metrics in tasks.items()
        for metric, v in metrics.items()
        if isinstance(v, dict) and "value" in v
    }
    return sorted(
        (t, m)
        for t, m in keys
        if "chance" not in m and "baseline" not in m and f"{t}/{m}" not in _SHOWN_BY_TRAINING
    )
