"""`retlab scaling`: every architecture of `compare` trained at several sizes, each size x architecture x seed a
sweep trial (same training, shared data, parameter matching, backends and resume as `retlab sweep`), then the
scaling laws fitted and extrapolated.

    runs/<name>/config.yaml             the study's resolved config, written when it has finished
    runs/<name>/shared/<fingerprint>/   data/ and tokenizer/, prepared once per seed
    runs/<name>/trials/<size>__<arch>__seed<s>/   one run folder per trial
    runs/<name>/scaling/   trials.csv while the study runs (one row per trial, rewritten after each), then the
                           finished study: results.csv (that file, renamed), fit.json, summary.md,
                           loss_vs_parameters.png, loss_vs_flops.png, sessions.json (appended to by each
                           invocation that trains: when it ran, sweep/results.py) and Ray Tune's state in ray/

Nothing is written before every input is checked (`preflight`; the checks that need the data's vocabulary run
right after the data is prepared, before any trial trains). A finished study's outputs stay as they are until a
new study has finished and replaced them, each file atomically: a failure or kill mid-study leaves them, and its
progress is in trials.csv. Finished trials are skipped on a re-run, so re-running after a kill trains only what
is missing, and re-running a finished study only refits (to the same numbers: the bootstrap is seeded)."""

import dataclasses
from pathlib import Path

from ..config import RetlabConfig, ScalingConfig
from ..config.loader import save_run_config, validate
from ..errors import ConfigError
from ..layout import RunLayout
from ..preflight import check_trainer
from ..utils.files import atomic_write_json, atomic_write_text
from .analysis import analyse
from .plan import (
    SHAPE_KEYS,
    Size,
    check_budgets,
    counted,
    plan_sizes,
    plan_targets,
    repeated_data,
    scaling_base,
)
from .results import PROGRESS, RESULTS, read_trials, trial_rows, write_trials
from .summary import console_text, summary_markdown


def scaling(cfg: RetlabConfig, force: bool = False, trial_fn=None) -> Path:
    """Run the study of `cfg.scaling` and return its `scaling/` folder. `force` retrains every trial;
    `trial_fn` replaces real training (tests of the mechanics), as in `retlab sweep`. The study's config.yaml
    is written when it has finished."""
    from ..sweep.run import prepare_shared, run_trials
    from ..sweep.trial import train_trial

    cfg, world = preflight(cfg)
    base, layout = scaling_base(cfg), RunLayout.of(cfg)
    # The first write: the data of the first seed, whose vocabulary the sizes need (a cached, atomic stage).
    first = prepare_shared(_first_seed(base), layout.root / "shared")
    sizes, targets, warnings = plan_study(base, first, world)
    specs, infos = _trials(base, sizes, layout)
    plan = trial_plan(base, specs, sizes, infos)
    for spec in specs:  # a stale trial (its config changed) runs again; training decides what it can reuse
        spec.force = force
    _print_plan(cfg, sizes, warnings)
    run_trials(
        base,
        specs,
        trial_fn or train_trial,
        lambda: write_trials(layout.scaling / PROGRESS, trial_rows(specs, plan)),
        "scaling",
    )
    out = finish(cfg, layout, targets, warnings)
    save_run_config(cfg)
    return out


def preflight(cfg: RetlabConfig) -> tuple[RetlabConfig, int]:
    """(the config with absolute paths, the Trainer's world size) after the checks `retlab sweep` makes of the
    study's base config (the config, Trainer settings, output folder, corpus, Ray resources) and that the config
    gives sizes and a budget. The checks that need the data's vocabulary (each size's shape, budgets per size,
    targets) run here too when that data is already prepared (a re-run, or `--check` after one), else in
    `scaling` right after it is prepared, before any trial trains. Writes nothing."""
    from ..sweep.run import preflight as sweep_preflight
    from ..sweep.run import with_absolute_paths

    validate(cfg)  # the fields first (the sweep's checks validate the base config again), then the study's
    problems = cfg.scaling.sizes_problems()
    if problems:
        raise ConfigError(*problems[0])
    cfg = with_absolute_paths(cfg)
    sweep_preflight(scaling_base(cfg))
    world = check_trainer(cfg.train)
    prepared = _prepared(_first_seed(scaling_base(cfg)), RunLayout.of(cfg).root / "shared")
    if prepared is not None:
        plan_study(scaling_base(cfg), prepared, world)
    return cfg, world


def plan_study(base: RetlabConfig, info, world: int) -> tuple[list[Size], list[dict], list[str]]:
    """(sizes, targets, warnings) on the prepared data `info`, after the checks that need its vocabulary: sizes
    that make no model or collapse into one shape, budgets below one batch, targets below the smallest size."""
    from ..data.info import open_blocks
    from ..models.specs import DataShape
    from ..training.train import tokens_per_step

    shape = DataShape.of(info)
    sizes = plan_sizes(base, shape)
    check_budgets(base, sizes, tokens_per_step(base, world))
    targets = plan_targets(base, shape, sizes)
    warnings = repeated_data(sizes, open_blocks(info.data_dir, "train").shape[0] * info.seq_len)
    return sizes, targets, warnings


def _first_seed(base: RetlabConfig) -> RetlabConfig:
    return dataclasses.replace(base, seed=base.scaling.seeds[0])


def _prepared(cfg: RetlabConfig, root: Path):
    """The DataInfo of `cfg`'s shared data when it is already prepared under `root`, else None (reads only).
    Its folder is named by the fingerprint of the data settings, so what is there was made from this config;
    hidden folders are a stage's temporaries or what it is replacing."""
    from ..data.info import INFO_FILE, DataInfo
    from ..sweep.run import data_key

    data = RunLayout(root / data_key(cfg)).data
    found = sorted(p.parent for p in data.glob(f"*/{INFO_FILE}") if not p.parent.name.startswith("."))
    return DataInfo.load(found[0]) if found else None


def _trials(base: RetlabConfig, sizes: list[Size], layout: RunLayout):
    """The sweep's trials of every size on shared data, matched as `retlab sweep` matches a point's
    architectures; returns (specs, {trial id: DataInfo}). A size that the model section rejects (e.g. heads not
    dividing hidden_size) or that matching cannot reach is a ConfigError naming the size, not a grid point."""
    from ..sweep.run import match_parameters_at_points, share_data
    from ..sweep.trial import make_trials

    try:
        # A trial is a plain run: without the study's own section, so that changing the targets, seeds or
        # bootstrap leaves the trials that ran up to date (their config fingerprints unchanged).
        plain = dataclasses.replace(base, scaling=ScalingConfig())
        specs = make_trials(plain, [s.point for s in sizes], layout.root / "trials")
        infos = share_data(specs, layout.root / "shared")
        match_parameters_at_points(specs, base.sweep.compare, infos)
    except ConfigError as e:
        if not e.field.startswith("sweep.grid"):
            raise
        size = e.field.removeprefix("sweep.grid").strip(" ()").replace("point ", "size ")
        raise ConfigError(f"scaling ({size})", e.problem, e.fix) from None
    return specs, infos


def trial_plan(base: RetlabConfig, specs, sizes: list[Size], infos: dict) -> dict[str, dict]:
    """Per trial, what results.csv reports before it trains: its size, its architecture's own matched config's
    shape and counts, the planned tokens and the training FLOPs per token (`bench.flops`)."""
    from ..bench.flops import train_flops_per_token
    from ..models.factory import contender_configs
    from ..models.sizing import count_parameters
    from ..models.specs import DataShape
    from ..sweep.grid import point_id

    by_point = {point_id(s.point): s for s in sizes}
    plan = {}
    for spec in specs:
        shape = DataShape.of(infos[spec.trial_id])
        config = contender_configs(spec.cfg.model, spec.cfg.compare, shape)[spec.arch]
        size = by_point[spec.point_id]
        plan[spec.trial_id] = {
            "size": size.label,
            **{k: getattr(config, k, None) for k in SHAPE_KEYS},  # a field the type lacks stays empty
            "parameters": count_parameters(config),
            "non_embedding_parameters": count_parameters(config, embeddings=False),
            "fit_parameters": counted(base, spec.cfg.model, spec.arch, shape),
            "planned_tokens": size.tokens,
            "flops_per_token": train_flops_per_token(config, spec.cfg.data.seq_len),
        }
    return plan


def finish(cfg: RetlabConfig, layout: RunLayout, targets: list[dict], warnings: list[str]) -> Path:
    """Fit from the trials' rows (so the fit is a function of results.csv alone), write summary.md, the plots
    and fit.json, then rename trials.csv to results.csv, and print the answer. Each file replaces the previous
    study's whole (a kill in between leaves a mix that the next run, refitting the same rows, makes whole)."""
    import os

    from ..report.scaling import scaling_plots

    progress = layout.scaling / PROGRESS
    rows = read_trials(progress)
    done = [r for r in rows if r["status"] == "done"]
    fit = analyse(done, list(cfg.compare), targets, cfg.scaling.bootstrap, cfg.seed)
    if len(done) < len(rows):
        states = ", ".join(
            f"{sum(r['status'] == s for r in rows)} {s}" for s in ("failed", "pending", "stale")
        )
        warnings = [
            f"{len(rows) - len(done)} of {len(rows)} trials are not done ({states}): this fit uses the others; "
            "re-run `retlab scaling` with the same config to train the rest"
        ] + warnings
    fit["warnings"] = warnings + fit["warnings"]
    fit["count"] = cfg.scaling.count
    atomic_write_text(layout.scaling / "summary.md", summary_markdown(cfg.name, fit, rows, cfg.scaling.count))
    pngs = scaling_plots(fit, rows, layout.scaling)
    atomic_write_json(layout.scaling / "fit.json", fit)
    os.replace(progress, layout.scaling / RESULTS)
    print(console_text(cfg.name, fit, rows, cfg.scaling.count))
    print(
        f"scaling {cfg.name}: {layout.scaling / RESULTS}, fit.json, summary.md; plots: "
        + ", ".join(str(p) for p in pngs)
    )
    return layout.scaling


def _print_plan(cfg: RetlabConfig, sizes: list[Size], warnings: list[str]) -> None:
    print(f"scaling {cfg.name}: {len(sizes)} sizes of {cfg.compare[0]} (N = {cfg.scaling.count} parameters)")
    for s in sizes:
        shape = ", ".join(f"{k}={v}" for k, v in s.model.items())
        print(f"  size {s.label}: N={s.parameters:,} ({shape}), {s.tokens:,} tokens  <- {s.requested}")
    for w in warnings:
        print(f"  warning: {w}")
    print(
        f"  progress: {RunLayout.of(cfg).scaling / PROGRESS} (results.csv and the fit once every trial has run)"
    )
