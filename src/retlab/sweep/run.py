"""`retlab sweep`: every grid point x architecture x seed trained and tested in its own run folder, on Ray Tune
or sequentially, resumable, with results rewritten after every trial.

    runs/<name>/config.yaml            the sweep's resolved config
    runs/<name>/shared/<fingerprint>/  data/ and tokenizer/, prepared once per distinct data+tokenizer config
    runs/<name>/trials/<trial id>/     one run folder per trial (see trial.py)
    runs/<name>/sweep/                 results.csv, trials.csv, summary.md, sessions.json (when each invocation
                                       ran; see results.py) and Ray Tune's own state in ray/
"""

import copy
import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..config import RetlabConfig
from ..config.loader import load_config, save_run_config, validate, with_absolute_paths
from ..console import bar
from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.stage import fingerprint
from .grid import expand_grid, validate_grid
from .results import finish_session, start_session, write_results
from .runner import check_resources, run_ray, run_sequential
from .trial import TrialFn, TrialSpec, make_trials, status, train_trial

# Data settings that change how batches are loaded, not what is prepared on disk.
LOADING_ONLY = {"num_proc", "num_workers"}


def sweep(cfg: RetlabConfig, force: bool = False, trial_fn: TrialFn | None = None) -> Path:
    """Run the sweep described by `cfg.sweep` over the base config `cfg`; returns the `sweep/` results folder.

    Finished trials (their metrics.json exists) are skipped, failed and interrupted ones run again, and so do
    trials whose config changed since they ran; `force` retrains every trial. `trial_fn` replaces real training (for tests of the mechanics); by
    default each trial is `retlab.training.train.train` on shared, prepared data, with the architectures after
    the first parameter-matched to it at every point. Nothing is written before every trial's inputs are checked;
    the sweep's config.yaml is written when it has finished."""
    cfg, grid, specs = preflight(cfg, real=trial_fn is None)
    layout = RunLayout.of(cfg)
    if trial_fn is None:
        infos = share_data(specs, layout.root / "shared")
        match_parameters_at_points(specs, cfg.sweep.compare, infos)
        trial_fn = train_trial
    for spec in specs:  # a stale trial (its config changed) runs again; training decides what it can reuse
        spec.force = force
    run_trials(
        cfg,
        specs,
        trial_fn,
        lambda: write_results(layout.sweep, specs, list(grid), cfg.sweep.compare, cfg.name),
    )
    print(
        f"sweep {cfg.name}: results in {layout.sweep / 'results.csv'}, summary in {layout.sweep / 'summary.md'}"
    )
    save_run_config(cfg)
    return layout.sweep


def preflight(cfg: RetlabConfig, real: bool = True) -> tuple[RetlabConfig, dict, list[TrialSpec]]:
    """(the config with absolute paths, the checked grid, every trial) after checking everything the sweep will
    use before it writes: the grid, each trial's config and, for real training, the Trainer settings and corpus of
    every distinct trial (bad combinations fail now, not mid-sweep)."""
    validate(cfg)
    grid = validate_grid(cfg.sweep.grid)
    cfg = with_absolute_paths(cfg)
    specs = make_trials(cfg, expand_grid(grid), RunLayout.of(cfg).root / "trials")  # checks every point
    if real:
        from ..training.train import preflight as training_preflight

        training_preflight(cfg)  # the base config's own problems are not a grid point's
        checked, points = set(), set()
        for spec in specs:
            key = fingerprint(dataclasses.asdict(spec.cfg.train), dataclasses.asdict(spec.cfg.data))
            if key not in checked:
                checked.add(key)
                _at_point(spec, training_preflight)
            if spec.point_id not in points:  # its architectures, matched as they will be
                points.add(spec.point_id)
                _at_point(spec, partial(point_models, compare=cfg.sweep.compare))
    if cfg.sweep.backend == "ray":
        check_resources(cfg.sweep)
    return cfg, grid, specs


def run_trials(
    cfg: RetlabConfig,
    specs: list[TrialSpec],
    trial_fn: TrialFn,
    rewrite: Callable[[], None],
    kind: str = "sweep",
) -> None:
    """Run the trials not yet done on `cfg.sweep`'s backend, calling `rewrite` (which rewrites the results from
    the trial folders) before, after every finished trial, and at the end. `kind` names the command and what
    its points are in the progress lines."""
    scfg = cfg.sweep
    todo = [s for s in specs if s.force or status(s) != "done"]
    stale = sum(status(s) == "stale" for s in specs)
    points = "sizes" if kind == "scaling" else "points"
    print(
        f"{kind} {cfg.name}: {len(specs)} trials ({len(specs) // len(scfg.compare) // len(scfg.seeds)} {points} x "
        f"{len(scfg.compare)} archs x {len(scfg.seeds)} seeds), {len(specs) - len(todo)} already done, "
        f"running {len(todo)} on backend {scfg.backend}"
        + (f" ({stale} because their config changed since they ran)" if stale else ""),
        flush=True,
    )
    failed = []

    def on_done(result: dict, update) -> None:
        if result["status"] != "done":  # a failed trial is news: one line (above the bar)
            failed.append(result["trial"])
            print(
                f"{kind}: trial {result['trial']} {result['status']}: {result.get('error', '')}", flush=True
            )
        loss = result.get("test_loss")
        last = f"last test_loss {loss:.4f}" if isinstance(loss, float) else f"last {result['status']}"
        update(1, info=last + (f", {len(failed)} failed" if failed else ""))
        rewrite()

    rewrite()
    folder = getattr(RunLayout.of(cfg), kind)
    session = start_session(folder, len(todo), scfg.backend, scfg.max_concurrent) if todo else None
    if todo:
        with bar(kind, len(todo), "trials") as update:
            done = partial(on_done, update=update)
            if scfg.backend == "ray":
                for spec in todo:
                    spec.num_threads = max(1, int(scfg.cpus_per_trial))
                run_ray(todo, trial_fn, scfg, folder / "ray", done)
            else:
                run_sequential(todo, trial_fn, done, update)
    rewrite()
    if session is not None:  # a killed session keeps finished_at null
        finish_session(folder, session)


def point_models(at_point: RetlabConfig, compare: list[str]) -> None:
    """Every model of a point (a trial's config) can be made, matched to `compare[0]` as at training."""
    from ..preflight import check_models

    check_models(dataclasses.replace(at_point, compare=compare), compare)


def _at_point(spec: TrialSpec, check) -> None:
    try:
        check(spec.cfg)
    except ConfigError as e:
        raise ConfigError(
            f"sweep.grid (point {spec.point_id})", str(e), "drop or change that combination"
        ) from None


def data_key(cfg: RetlabConfig) -> str:
    """Fingerprint of everything the prepared data and tokenizer depend on: trials with equal keys share them.
    The seed is included because it seeds the train/val/test split."""
    data = {k: v for k, v in dataclasses.asdict(cfg.data).items() if k not in LOADING_ONLY}
    return fingerprint(data, dataclasses.asdict(cfg.tokenizer), cfg.seed)


def share_data(specs: list[TrialSpec], root: Path) -> dict[str, object]:
    """Prepare data and tokenizer once per distinct data key under `root/<key>/` (before any trial starts, so
    concurrent trials never race to build them) and point the trials there; returns {trial_id: DataInfo}."""
    prepared: dict[str, object] = {}
    infos = {}
    for spec in specs:
        key = data_key(spec.cfg)
        if key not in prepared:
            prepared[key] = prepare_shared(spec.cfg, root)
        spec.shared = root / key
        infos[spec.trial_id] = prepared[key]
    return infos


def prepare_shared(cfg: RetlabConfig, root: Path):
    """The data and tokenizer of `cfg`, prepared under `root/<data key>/` (a cached stage: up to date after
    the first time); returns their DataInfo."""
    from ..data import prepare

    key = data_key(cfg)
    shared_cfg = copy.deepcopy(cfg)
    shared_cfg.output_dir, shared_cfg.name = str(root), key
    print(f"sweep: preparing shared data {key} (seq_len={cfg.data.seq_len}, seed={cfg.seed})", flush=True)
    return prepare(shared_cfg)


def match_parameters_at_points(specs: list[TrialSpec], compare: list[str], infos: dict[str, object]) -> None:
    """Pin every trial's width (intermediate_size, or an `hf:` type's width field) to what `contender_configs`
    gives its architecture at its (point, seed): the first architecture's own, the others' matched to it when
    `model.match_parameters` (as `retlab run` does). A trial then trains alone (`compare: [arch]`) with exactly
    that size, recorded in its config.yaml."""
    from ..models.factory import DataShape, contender_configs
    from ..models.specs import spec_of

    groups: dict[tuple[str, int], list[TrialSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.point_id, spec.seed), []).append(spec)
    for (pid, _), group in groups.items():
        shape = DataShape.of(infos[group[0].trial_id])
        try:
            configs = contender_configs(group[0].cfg.model, compare, shape, [s.arch for s in group])
        except ConfigError as e:
            raise ConfigError(
                f"sweep.grid (point {pid})",
                e.problem,
                "change the point or set model.match_parameters: false",
            ) from None
        for spec in group:
            pinned = spec_of(spec.arch).width_overrides(spec.cfg.model, configs[spec.arch])
            spec.cfg = load_config(base=spec.cfg, overrides=pinned)
