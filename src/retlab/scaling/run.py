"""`retlab scaling`: every architecture of `compare` trained at several sizes, each size x architecture x seed a
sweep trial (same training, shared data, parameter matching, backends and resume as `retlab sweep`), then the
scaling laws fitted and extrapolated.

    runs/<name>/shared/<fingerprint>/   data/ and tokenizer/, prepared once per seed
    runs/<name>/trials/<size>__<arch>__seed<s>/   one run folder per trial
    runs/<name>/scaling/   results.csv (one row per trial), fit.json, summary.md, loss_vs_parameters.png,
                           loss_vs_flops.png (and Ray Tune's own state in ray/)

Finished trials are skipped on a re-run, so re-running after a kill trains only what is missing, and re-running
a finished study only refits."""

import dataclasses
from pathlib import Path

from ..config import RetlabConfig, ScalingConfig
from ..config.loader import save_run_config, validate
from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.files import atomic_write_json, atomic_write_text
from .analysis import analyse
from .plan import Size, check_budgets, counted, plan_sizes, plan_targets, repeated_data, scaling_base
from .results import read_trials, trial_rows, write_trials
from .summary import console_text, summary_markdown


def scaling(cfg: RetlabConfig, force: bool = False, trial_fn=None) -> Path:
    """Run the study of `cfg.scaling` and return its `scaling/` folder. `force` retrains every trial;
    `trial_fn` replaces real training (tests of the mechanics), as in `retlab sweep`."""
    from ..data.info import open_blocks
    from ..models.specs import DataShape
    from ..sweep.run import prepare_shared, run_trials, with_absolute_paths
    from ..sweep.trial import status, train_trial
    from ..training.train import tokens_per_step, world_size_of

    validate(cfg)
    problems = cfg.scaling.sizes_problems()
    if problems:
        raise ConfigError(*problems[0])
    cfg = with_absolute_paths(cfg)
    base, layout = scaling_base(cfg), RunLayout.of(cfg)
    first = prepare_shared(dataclasses.replace(base, seed=cfg.scaling.seeds[0]), layout.root / "shared")
    shape = DataShape.of(first)
    sizes = plan_sizes(base, shape)
    check_budgets(base, sizes, tokens_per_step(base, world_size_of(base)))
    targets = plan_targets(base, shape, sizes)
    warnings = repeated_data(sizes, open_blocks(first.data_dir, "train").shape[0] * first.seq_len)
    specs, infos = _trials(base, sizes, layout)
    plan = trial_plan(base, specs, sizes, infos)
    for spec in specs:
        spec.force = force or status(spec) == "stale"
    _print_plan(cfg, sizes, warnings)
    save_run_config(cfg)
    csv_path = layout.scaling / "results.csv"
    run_trials(
        base,
        specs,
        trial_fn or train_trial,
        lambda: write_trials(csv_path, trial_rows(specs, plan)),
        "scaling",
    )
    return finish(cfg, layout, targets, warnings)


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
            "hidden_size": config.hidden_size,
            "num_hidden_layers": config.num_hidden_layers,
            "num_heads": config.num_heads,
            "intermediate_size": config.intermediate_size,
            "value_dim": getattr(config, "value_dim", None),
            "parameters": count_parameters(config),
            "non_embedding_parameters": count_parameters(config, embeddings=False),
            "fit_parameters": counted(base, spec.cfg.model, spec.arch, shape),
            "planned_tokens": size.tokens,
            "flops_per_token": train_flops_per_token(config, spec.cfg.data.seq_len),
        }
    return plan


def finish(cfg: RetlabConfig, layout: RunLayout, targets: list[dict], warnings: list[str]) -> Path:
    """Fit from results.csv (so the fit is a function of that file alone), write fit.json, summary.md and the
    plots, and print the answer."""
    from ..report.scaling import scaling_plots

    rows = read_trials(layout.scaling / "results.csv")
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
    atomic_write_json(layout.scaling / "fit.json", fit)
    atomic_write_text(layout.scaling / "summary.md", summary_markdown(cfg.name, fit, rows, cfg.scaling.count))
    pngs = scaling_plots(fit, rows, layout.scaling)
    print(console_text(cfg.name, fit, rows, cfg.scaling.count))
    print(
        f"scaling {cfg.name}: {layout.scaling / 'results.csv'}, fit.json, summary.md; plots: "
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
