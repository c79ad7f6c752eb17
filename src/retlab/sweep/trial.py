"""One trial = one (grid point, architecture, seed): a full train + test run in its own run folder

    runs/<sweep>/trials/<trial id>/          a normal run folder (config.yaml, <arch>/metrics.json, ...)
      data -> ../../shared/<fingerprint>/data            tokenised data, shared by every trial that needs it
      tokenizer -> ../../shared/<fingerprint>/tokenizer
      trial.json                               the point, architecture and seed
      error.txt                                traceback of the last failed attempt (absent once it succeeds)

The trial's `<arch>/metrics.json` is the record that it finished: a re-run sweep skips it, unless trial.json's
config fingerprint shows it ran with a different config (then it is `stale` and retrained); a trial with no
metrics (failed or interrupted) runs again."""

import contextlib
import copy
import dataclasses
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RetlabConfig, SweepConfig
from ..config.loader import load_config, save_run_config
from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.files import atomic_write_json, atomic_write_text, read_json
from ..utils.stage import fingerprint
from .grid import point_id


@dataclass
class TrialSpec:
    """Everything a worker needs to run one trial (picklable, so Ray can ship it)."""

    trial_id: str
    point_id: str
    point: dict[str, Any]
    arch: str
    seed: int
    cfg: RetlabConfig
    """The trial's own config: grid values applied, model.arch/seed set, output_dir/name = its run folder."""
    shared: Path | None = None
    """Shared run folder whose data/ and tokenizer/ this trial links to (None: the trial prepares its own)."""
    num_threads: int | None = None
    """torch threads for the trial (None: torch's default)."""
    evaluate: bool = False
    """Run `retlab eval` after training."""
    force: bool = False
    """Retrain from scratch (`--force`)."""

    @property
    def dir(self) -> Path:
        return RunLayout.of(self.cfg).root

    @property
    def metrics_path(self) -> Path:
        return RunLayout.of(self.cfg).arch(self.arch).metrics

    @property
    def error_path(self) -> Path:
        return self.dir / "error.txt"

    @property
    def log_path(self) -> Path:
        return self.dir / "trial.log"


TrialFn = Callable[[TrialSpec], dict]


def make_trials(cfg: RetlabConfig, points: list[dict[str, Any]], trials_root: Path) -> list[TrialSpec]:
    """Every (point, arch, seed) of the sweep, points outermost so a point's architectures finish together.
    A point whose combination is invalid (e.g. heads not dividing hidden_size) fails now, not mid-sweep."""
    specs = []
    for point in points:
        pid, at_point = point_id(point), point_config(cfg, point)
        for seed in cfg.sweep.seeds:
            for arch in cfg.sweep.compare:
                tid = f"{pid}__{arch}__seed{seed}"
                specs.append(
                    TrialSpec(
                        trial_id=tid,
                        point_id=pid,
                        point=point,
                        arch=arch,
                        seed=seed,
                        cfg=trial_config(at_point, arch, seed, trials_root, tid),
                        evaluate=cfg.sweep.evaluate,
                    )
                )
    return specs


def point_config(cfg: RetlabConfig, point: dict[str, Any]) -> RetlabConfig:
    """The base config with the point's values, built and checked by the loader as any config is. A trial is a
    plain run (its config.yaml carries no grid); an interrupted one continues from its last checkpoint."""
    base = dataclasses.replace(cfg, sweep=SweepConfig())
    try:
        return load_config(base=base, overrides={**point, "train.resume": cfg.train.resume or "auto"})
    except ConfigError as e:
        raise ConfigError(
            f"sweep.grid (point {point_id(point)})", str(e), "drop or change that combination"
        ) from None


def trial_config(at_point: RetlabConfig, arch: str, seed: int, root: Path, tid: str) -> RetlabConfig:
    """The point's config for one architecture and one seed (both checked with `sweep`), in its own folder; a
    copy, so that no two trials share a section."""
    model = dataclasses.replace(at_point.model, arch=arch)
    trial = dataclasses.replace(
        at_point, model=model, compare=[arch], seed=seed, output_dir=str(root), name=tid
    )
    return copy.deepcopy(trial)


def status(spec: TrialSpec) -> str:
    """`done` (metrics.json exists and was made by this very config), `stale` (metrics from a different config,
    e.g. the base config changed since), `failed` (error.txt exists) or `pending` (never run, or interrupted)."""
    if spec.metrics_path.is_file():
        return "done" if _recorded_fingerprint(spec) == config_fingerprint(spec.cfg) else "stale"
    return "failed" if spec.error_path.is_file() else "pending"


def config_fingerprint(cfg: RetlabConfig) -> str:
    """What a trial's result depends on: its whole config except where it is written."""
    d = dataclasses.asdict(cfg)
    del d["output_dir"], d["name"]
    return fingerprint(d)


def _recorded_fingerprint(spec: TrialSpec) -> str | None:
    try:
        return read_json(spec.dir / "trial.json").get("config_fingerprint")
    except (OSError, ValueError):
        return None


def load_metrics(spec: TrialSpec) -> dict | None:
    try:
        return read_json(spec.metrics_path)
    except (OSError, ValueError):
        return None


def run_trial(spec: TrialSpec, trial_fn: TrialFn, log: bool = False) -> dict:
    """Run one trial; any exception is recorded in error.txt and returned as a failed result, so one crashed
    trial never stops the sweep. KeyboardInterrupt propagates (the trial stays pending and reruns next time).
    trial.json (with the config fingerprint that makes the trial `done`) and config.yaml are written only when
    the trial has finished; an earlier result is replaced by training itself, never deleted first."""
    spec.dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    try:
        with _maybe_log(spec.log_path if log else None):
            if spec.num_threads:
                import torch

                torch.set_num_threads(spec.num_threads)
            metrics = trial_fn(spec)
            if (
                metrics and load_metrics(spec) != metrics
            ):  # the real train() writes it; simple trial functions may not
                atomic_write_json(spec.metrics_path, metrics)
        save_run_config(spec.cfg)
        atomic_write_json(spec.dir / "trial.json", _describe(spec))
        spec.error_path.unlink(missing_ok=True)
    except Exception as e:  # noqa: BLE001  (recorded and reported; the sweep goes on)
        atomic_write_text(spec.error_path, traceback.format_exc())
        return {"trial": spec.trial_id, "status": "failed", "error": f"{type(e).__name__}: {e}"}
    result = {k: v for k, v in (load_metrics(spec) or {}).items() if isinstance(v, int | float)}
    return {"trial_time_s": time.time() - t0, **result, "trial": spec.trial_id, "status": "done"}


def link_shared(spec: TrialSpec) -> None:
    """Point the trial's data/ and tokenizer/ at the shared, already prepared ones (relative links, so the
    sweep folder can be moved)."""
    if spec.shared is None:
        return
    layout, shared = RunLayout.of(spec.cfg), RunLayout(spec.shared)
    for dst, src in ((layout.data, shared.data), (layout.tokenizer, shared.tokenizer)):
        if src.exists() and not dst.exists() and not dst.is_symlink():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(os.path.relpath(src, dst.parent), target_is_directory=True)


def train_trial(spec: TrialSpec) -> dict:
    """The real trial: train (and test) one architecture with retlab's trainer, then optionally evaluate."""
    from ..training.train import train

    link_shared(spec)
    metrics = train(spec.cfg, arch=spec.arch, force=spec.force)
    if spec.evaluate:
        from ..evaluation.evaluate import evaluate

        evaluate(spec.cfg)
    return metrics


def _describe(spec: TrialSpec) -> dict:
    return {
        "trial_id": spec.trial_id,
        "point_id": spec.point_id,
        "point": spec.point,
        "arch": spec.arch,
        "seed": spec.seed,
        "config_fingerprint": config_fingerprint(spec.cfg),
    }


@contextlib.contextmanager
def _maybe_log(path: Path | None):
    """Send the trial's prints and progress bars to its own log file (used under Ray, where concurrent trials
    would otherwise interleave on one terminal)."""
    if path is None:
        yield
        return
    with open(path, "a", encoding="utf-8") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        yield
