"""Backends that execute trials: `sequential` (in this process, no Ray) and `ray` (Ray Tune, concurrent trials
within per-trial resources, on an embedded local Ray or an existing cluster). Both call `on_done(result)` on the
driver after every finished trial, so results are rewritten as the sweep progresses."""

import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from ..config import SweepConfig
from ..errors import ConfigError
from ..utils.files import atomic_write_text
from .reaper import Reaper
from .trial import TrialFn, TrialSpec, run_trial, status

OnDone = Callable[[dict], None]
PASS_ENV = ("TOKENIZERS_PARALLELISM", "TRANSFORMERS_OFFLINE", "WANDB_MODE")


def run_sequential(specs: list[TrialSpec], trial_fn: TrialFn, on_done: OnDone, progress=None) -> None:
    """One trial after the other; `progress(info=...)` (the sweep's bar) hears which one is running."""
    for spec in specs:
        if progress:
            progress(info=spec.trial_id)
        on_done(run_trial(spec, trial_fn))


def run_ray(
    specs: list[TrialSpec], trial_fn: TrialFn, scfg: SweepConfig, storage: Path, on_done: OnDone
) -> None:
    """Run the trials as one Ray Tune experiment (a grid over trial ids; the specs travel in the object store).
    Starts a local Ray, or joins `ray_address`, and leaves it again (ray.shutdown) even on errors; a Ray this
    process had already initialised is used as it is and left running. A local Ray that retlab starts dies with
    this process, even when it is killed (`Reaper`); on a cluster, Ray ends a dead driver's trials itself."""
    import ray
    from ray import tune

    check_resources(scfg)
    reaper = Reaper().start() if scfg.ray_address is None and not ray.is_initialized() else None
    try:
        started = _init_ray(scfg)
    except BaseException:
        if reaper:
            reaper.stop()
        raise
    try:
        by_id = {s.trial_id: s for s in specs}
        trainable = tune.with_parameters(_ray_trainable, specs=by_id, trial_fn=trial_fn)
        trainable = tune.with_resources(trainable, {"cpu": scfg.cpus_per_trial, "gpu": scfg.gpus_per_trial})
        tuner = tune.Tuner(
            trainable,
            param_space={"trial_id": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(max_concurrent_trials=scfg.max_concurrent),
            run_config=tune.RunConfig(
                name=time.strftime("tune-%Y%m%d-%H%M%S"),
                storage_path=str(storage.resolve()),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
                callbacks=[_completion_callback(on_done)],
            ),
        )
        # Tune's new output engine prints its "Configuration for experiment" box, "View detailed results here"
        # and a TensorBoard hint whatever `verbose` says; its legacy engine at verbose=0 prints only real errors.
        # retlab's bar shows the trials.
        with _env(RAY_AIR_NEW_OUTPUT="0"):
            grid = tuner.fit()
        _record_crashed_workers(grid, by_id, on_done)
    finally:
        _ON_DONE.pop(id(on_done), None)
        if started:
            ray.shutdown()
        if reaper:
            reaper.stop()  # and whatever Ray left running


def check_resources(scfg: SweepConfig) -> None:
    """Refuse settings that would make Ray wait forever for resources no node has."""
    if scfg.ray_address is None:
        cpus = scfg.ray_num_cpus or os.cpu_count() or 1
        if scfg.cpus_per_trial > cpus:
            raise ConfigError(
                "sweep.cpus_per_trial",
                f"{scfg.cpus_per_trial} > the {cpus} CPUs of the local Ray",
                f"use at most {cpus}",
            )
        if scfg.gpus_per_trial > 0:
            import torch

            if torch.cuda.device_count() < scfg.gpus_per_trial:
                raise ConfigError(
                    "sweep.gpus_per_trial",
                    f"{scfg.gpus_per_trial} GPUs per trial, {torch.cuda.device_count()} available",
                    "set sweep.gpus_per_trial: 0",
                )
    if scfg.max_concurrent < 1:
        raise ConfigError("sweep.max_concurrent", "must be at least 1")


def _init_ray(scfg: SweepConfig) -> bool:
    """Start or join Ray; True when retlab started it (and so must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    if scfg.ray_address:
        # Remote workers do not inherit this process's environment: pass on what retlab reads.
        env = {k: v for k, v in os.environ.items() if k in PASS_ENV or k.startswith(("HF_", "RETLAB_"))}
        ray.init(address=scfg.ray_address, log_to_driver=False, runtime_env={"env_vars": env})
    else:
        # Workers inherit this process's environment (offline flags, RETLAB_DATA_DIR).
        quiet_token_notice()
        ray.init(
            num_cpus=scfg.ray_num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    return True


TOKEN_NOTICE = "Token authentication is enabled for this Ray cluster."
"""Ray's notice (on stderr) that it turned on its default, token authentication, for a new local cluster."""


def quiet_token_notice() -> None:
    """Drop Ray's TOKEN_NOTICE (idempotent). Authentication stays as Ray sets it (on, unless RAY_AUTH_MODE says
    otherwise), and its other messages pass, the warning that a cluster runs without authentication included."""
    import logging

    logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    if not any(getattr(f, "retlab", False) for f in logger.filters):
        notice = logging.Filter()
        notice.filter = lambda record: not record.getMessage().startswith(TOKEN_NOTICE)
        notice.retlab = True
        logger.addFilter(notice)


@contextmanager
def _env(**values: str):
    """Set environment variables the user has not set, for the duration of the block."""
    added = [k for k in values if k not in os.environ]
    os.environ.update({k: values[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _ray_trainable(config: dict, specs: dict[str, TrialSpec], trial_fn: TrialFn) -> None:
    from ray import tune

    spec = specs[config["trial_id"]]
    tune.report(run_trial(spec, trial_fn, log=True))


def _record_crashed_workers(grid, by_id: dict[str, TrialSpec], on_done: OnDone) -> None:
    """A worker that died (out of memory, killed) never reported: record it as failed with Ray's error."""
    for result in grid:
        spec = by_id.get((result.config or {}).get("trial_id"))
        if result.error is None or spec is None or status(spec) != "pending":
            continue
        atomic_write_text(spec.error_path, f"Ray trial error: {result.error!r}\n")
        on_done({"trial": spec.trial_id, "status": "failed", "error": repr(result.error)})


_ON_DONE: dict[int, OnDone] = {}
"""The driver's `on_done` of each running experiment, by key: Tune pickles its callbacks with the experiment's
state, and `on_done` may hold what does not pickle (the console's live bar)."""


def _completion_callback(on_done: OnDone):
    from ray import tune

    key = id(on_done)
    _ON_DONE[key] = on_done

    class OnTrialComplete(tune.Callback):
        """Hands every finished trial's report to the driver's `on_done`."""

        def on_trial_complete(self, iteration, trials, trial, **info):
            from retlab.sweep import runner  # by name: a global would be pickled with its value

            hook = runner._ON_DONE.get(key)
            if trial.last_result and "status" in trial.last_result and hook:
                hook(dict(trial.last_result))

    return OnTrialComplete()
