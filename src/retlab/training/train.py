"""`retlab train`: train one architecture into runs/<name>/<arch>/, test its best checkpoint, export it.

Order: prepare data -> build the model (sized by `models.factory.contender_configs`, as everywhere) -> fit with
Lightning (resumable) -> export final/ -> test the BEST checkpoint -> export best/ -> metrics.json. A finished run
(metrics.json with the same fingerprint) is skipped unless `force`."""

import dataclasses
import importlib.util
import math
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping

from ..config.loader import config_to_dict
from ..console import quiet_lightning
from ..errors import ConfigError
from ..layout import ArchLayout, RunLayout
from ..models.export import export_hf
from ..models.factory import DataShape, build_model, contender_configs
from ..models.sizing import count_parameters
from ..models.specs import spec_for
from ..preflight import check_checkpoint, check_memory, check_models, check_output_dir, check_trainer
from ..utils.device import is_main_process, use_threads
from ..utils.files import atomic_write_json, read_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done
from .attempts import displace, drop_displaced, settle
from .callbacks import FitClock, RNGState, StepBar, ThroughputMonitor, peak_rss_mib
from .checkpoints import AtomicCheckpointIO, LastCheckpoint, TopKCheckpoint
from .emissions import Emissions
from .loader import ResumableDataModule
from .logs import ResumableCSVLogger, ResumableTensorBoardLogger, log_run_hparams, run_hparams
from .module import CausalLMModule

FINGERPRINT_VERSION = 1
# Fields that change how a run is driven or where it runs, not what it computes.
UNFINGERPRINTED_TRAIN = (
    "resume",
    "wandb",
    "track_emissions",
    "log_every_n_steps",
    "every_n_train_steps",
    "every_n_minutes",
)


# ---------------------------------------------------------------- fingerprint


def train_fingerprint(cfg, arch: str, model_config) -> str:
    d = config_to_dict(cfg)
    train = {k: v for k, v in d["train"].items() if k not in UNFINGERPRINTED_TRAIN}
    return fingerprint(
        "train",
        FINGERPRINT_VERSION,
        arch,
        d["data"],
        d["tokenizer"],
        d["model"],
        train,
        cfg.seed,
        model_config.to_dict(),
    )


# ---------------------------------------------------------------- duration


def plan_steps(cfg, train_examples: int, world_size: int) -> tuple[int, int, int]:
    """(max_steps for Lightning, max_epochs, total optimiser steps for the LR schedule).

    max_tokens becomes steps: tokens per optimiser step = batch x seq_len x accumulation x processes. With no
    limit at all, one epoch is trained."""
    t = cfg.train
    if train_examples == 0:
        field = {"local": "data.path", "hub": "data.name"}.get(cfg.data.source, "data.mqar.train_examples")
        raise ConfigError(
            field,
            f"the training split holds no complete block of data.seq_len + 1 = {cfg.data.seq_len + 1} tokens",
            "give more text or a smaller data.seq_len",
        )
    batches_per_epoch = train_examples // world_size // t.batch_size  # as ResumableLoader serves them
    if batches_per_epoch < 1:
        raise ConfigError(
            "train.batch_size",
            f"{t.batch_size} x {world_size} processes exceeds the {train_examples} training examples",
            "use a smaller batch or more data",
        )
    steps_per_epoch = math.ceil(
        batches_per_epoch / t.accumulate_grad_batches
    )  # a short last accumulation steps too
    max_steps, max_epochs = t.max_steps, t.max_epochs
    if t.max_tokens is not None:
        by_tokens = math.ceil(t.max_tokens / tokens_per_step(cfg, world_size))
        max_steps = by_tokens if max_steps == -1 else min(max_steps, by_tokens)
    if max_steps == -1 and max_epochs is None:
        max_epochs = 1
    limits = [max_steps] if max_steps > 0 else []
    if max_epochs is not None:
        limits.append(steps_per_epoch * max_epochs)
    total = min(limits)
    # Epochs that cover `total`: max_steps still stops first; this only gives the progress bar a real epoch count.
    return max_steps, math.ceil(total / steps_per_epoch), total


def tokens_per_step(cfg, world_size: int) -> int:
    """Training tokens per optimiser step: batch x seq_len x accumulation x processes."""
    t = cfg.train
    return t.batch_size * cfg.data.seq_len * t.accumulate_grad_batches * world_size


# ---------------------------------------------------------------- trainer parts


def checkpoint_callbacks(
    cfg, layout: ArchLayout, val_every_steps: int
) -> tuple[TopKCheckpoint, LastCheckpoint]:
    """(top-k by val/loss, `last.ckpt`). last.ckpt is written after every validation and also every
    `every_n_train_steps` or `every_n_minutes` (see LastCheckpoint for when exactly)."""
    t = cfg.train
    best = TopKCheckpoint(
        dirpath=layout.checkpoints,
        filename="step={step}-val_loss={val/loss:.4f}",
        monitor="val/loss",
        mode="min",
        save_top_k=t.save_top_k,
        auto_insert_metric_name=False,
        enable_version_counter=False,  # a resumed run that repeats a save overwrites it, as the first run wrote it
    )
    minutes = t.every_n_minutes
    steps = None if minutes else (t.every_n_train_steps or val_every_steps)
    last = LastCheckpoint(layout.checkpoints / "last.ckpt", steps, minutes * 60 if minutes else None)
    return best, last


def loggers(cfg, arch: str, layout: ArchLayout, resume_step: int | None = None) -> list:
    """TensorBoard and CSV (and W&B), resumable: `resume_step` is the global step of the checkpoint resumed from."""
    logs = layout.logs
    out = [
        ResumableTensorBoardLogger(logs, "tensorboard", resume_step),
        ResumableCSVLogger(logs, "csv", resume_step),
    ]
    if cfg.train.wandb:
        if importlib.util.find_spec("wandb") is None:
            print("train: train.wandb is on but wandb is not installed; logging to TensorBoard and CSV only")
        else:
            from lightning.pytorch.loggers import WandbLogger

            out.append(WandbLogger(project="retlab", name=f"{cfg.name}-{arch}", save_dir=str(logs)))
    return out


def resume_checkpoint(cfg, layout: ArchLayout, fp: str) -> str | None:
    """The checkpoint to continue from: `auto` = last.ckpt of this run when its fingerprint matches, else the
    path given (checked by `preflight`)."""
    resume = cfg.train.resume
    if resume in (None, ""):
        return None
    if resume != "auto":
        return resume
    last = layout.checkpoints / "last.ckpt"
    if not last.is_file():
        return None
    if not is_up_to_date(layout.root, fp):
        print(
            f"train: {last} is from a different config; starting afresh (the old outputs are kept until this run finishes)"
        )
        return None
    return str(last)


def preflight(cfg, archs: list[str] | None = None) -> int:
    """Every check of what training will read, write or hand to Lightning, before anything is written: the
    Trainer's settings, the output folder, the corpus files (or the generated task's size), the models of `archs`
    (default: model.arch) and a checkpoint given to resume from. Returns the Trainer's world size."""
    from ..data.preflight import check_corpus

    world = check_trainer(cfg.train)
    check_output_dir(cfg)
    check_corpus(cfg)
    check_models(cfg, archs or [cfg.model.arch])
    if cfg.train.resume not in (None, "", "auto"):
        check_checkpoint(cfg.train.resume)
    return world


def check_compatible(module: CausalLMModule, ckpt: str) -> int:
    """The global step of `ckpt`, after checking that its weights fit `module` (one line naming the first tensor
    that does not). The file is read memory-mapped: its tensors are not loaded."""
    state = check_checkpoint(ckpt)
    own = module.state_dict()
    for key, tensor in own.items():
        theirs = state["state_dict"].get(key)
        if theirs is None or tuple(theirs.shape) != tuple(tensor.shape):
            got = "missing" if theirs is None else tuple(theirs.shape)
            raise ConfigError(
                "train.resume",
                f"'{ckpt}' holds a different model ({key}: {got}, this config needs {tuple(tensor.shape)})",
                "give a checkpoint of this model, or use --force to train from scratch",
            )
    return int(state["global_step"])


def make_trainer(
    cfg,
    arch: str,
    info,
    plan: tuple[int, int, int],
    world: int,
    extra_callbacks: tuple,
    resume_step: int | None,
):
    """(Trainer, the top-k checkpoint callback, the throughput monitor) for one architecture; `plan` is
    plan_steps()'s (max_steps, max_epochs, total optimiser steps)."""
    t, layout = cfg.train, RunLayout.of(cfg).arch(arch)
    max_steps, max_epochs, total_steps = plan
    val_every = max(1, min(t.val_check_interval, total_steps * t.accumulate_grad_batches))
    best_cb, last_cb = checkpoint_callbacks(cfg, layout, max(1, val_every // t.accumulate_grad_batches))
    throughput = ThroughputMonitor(t.batch_size * info.seq_len * world)
    bar = StepBar(f"train {arch}", total_steps, throughput)
    callbacks = [throughput, bar, FitClock(), RNGState(), best_cb, last_cb, *extra_callbacks]
    if t.early_stopping_patience > 0:
        callbacks.append(EarlyStopping(monitor="val/loss", mode="min", patience=t.early_stopping_patience))
    quiet_lightning()
    trainer = L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
        max_steps=max_steps,
        max_epochs=max_epochs,
        accumulate_grad_batches=t.accumulate_grad_batches,
        gradient_clip_val=t.gradient_clip_val or None,
        val_check_interval=val_every,
        check_val_every_n_epoch=None,  # val_check_interval counts batches across epochs
        limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every_n_steps,
        num_sanity_val_steps=0,
        logger=loggers(cfg, arch, layout, resume_step),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(layout.root),
        enable_model_summary=False,
        enable_progress_bar=False,  # StepBar draws retlab's own
    )
    return trainer, best_cb, throughput


def collect_metrics(cfg, arch: str, info, model_config, trainer, best_cb, tested: dict) -> dict:
    """metrics.json's training and test figures (the test ones are the best checkpoint's)."""
    t = cfg.train
    best = float(best_cb.best_model_score) if best_cb.best_model_score is not None else None
    tokens_per_step = t.batch_size * info.seq_len * t.accumulate_grad_batches * trainer.world_size
    metrics = {
        "arch": arch,
        "intermediate_size": spec_for(model_config).read(model_config, "intermediate_size"),
        "best_val_loss": best,
        "best_val_ppl": math.exp(min(best, 50.0)) if best is not None else None,
        "best_checkpoint": best_cb.best_model_path or None,
        "test_loss": tested["test/loss"],
        "test_ppl": tested["test/ppl"],
        "steps": trainer.global_step,
        "tokens": trainer.global_step * tokens_per_step,
        "peak_rss_mib": peak_rss_mib(),
        "seed": cfg.seed,
    }
    if info.task == "mqar":
        metrics["test_mqar_accuracy"] = tested["test/mqar_accuracy"]
    return metrics


# ---------------------------------------------------------------- the stage


def train(cfg, arch: str | None = None, force: bool = False, extra_callbacks: tuple = (), info=None) -> dict:
    """Train `arch` (default `model.arch`) into runs/<name>/<arch>/ and return the metrics written to metrics.json
    (on the main process; other processes return {}). `extra_callbacks` are added to the Trainer's; `info` is
    the prepared data when the caller has just prepared it (else it is prepared, or found up to date, here).

    Nothing is written before every input is checked (`preflight`); a fresh start moves the old outputs aside
    instead of deleting them and puts them back if it fails before its first checkpoint (`attempts`)."""
    from ..data import prepare

    started = time.perf_counter()
    arch = arch or cfg.model.arch
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, arch=arch))
    world = preflight(cfg)
    run, layout, main = RunLayout.of(cfg), RunLayout.of(cfg).arch(arch), is_main_process()
    info = info or prepare(cfg)
    model_config = contender_configs(cfg.model, cfg.compare, DataShape.of(info), [arch])[arch]
    if world == 1 and not torch.cuda.is_available():  # weights, gradients and two Adam moments in float32
        params = count_parameters(model_config)
        check_memory(
            f"training {params:,} parameters", "model.hidden_size", 16 * params, "use a smaller model"
        )
    fp = train_fingerprint(cfg, arch, model_config)
    if main:
        settle(run, arch)  # complete what a killed command left
    done = read_json(layout.metrics) if not force and layout.metrics.is_file() else {}
    if done.get("fingerprint") == fp:
        print(f"train {arch}: up to date ({layout.metrics}); --force retrains")
        return done

    use_threads(cfg.num_threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = ResumableDataModule(cfg, info)
    plan = plan_steps(cfg, len(dm.dataset("train")), world)
    module = CausalLMModule(model_config, cfg.train, plan[2], cfg.seed, info.task)
    ckpt = None if force else resume_checkpoint(cfg, layout, fp)
    resume_step = check_compatible(module, ckpt) if ckpt else None
    if main and (ckpt is None or not is_up_to_date(layout.root, fp)):
        old = layout.root.resolve()
        moved = displace(run, arch)  # the old outputs stay in previous/<arch>/ until this attempt finishes
        if ckpt and moved and Path(ckpt).resolve().is_relative_to(old):  # resuming from a file that moved too
            ckpt = str(moved / Path(ckpt).resolve().relative_to(old))
        mark_done(layout.root, fp)  # the attempt's config, so `resume: auto` only continues this run
    try:
        metrics = fit_and_test(
            cfg, arch, info, model_config, module, dm, plan, world, ckpt, resume_step, extra_callbacks
        )
    except BaseException:
        if main:
            settle(run, arch)  # no checkpoint yet: the folder goes back to what this attempt displaced
        raise
    if not metrics:
        return {}
    metrics |= {"wall_time_s": time.perf_counter() - started, "fingerprint": fp}
    atomic_write_json(layout.metrics, metrics)
    drop_displaced(run, arch)
    print(f"train {arch}: test loss {metrics['test_loss']:.4f} (best checkpoint) -> {layout.root}")
    return metrics


def fit_and_test(
    cfg, arch, info, model_config, module, dm, plan, world, ckpt, resume_step, extra_callbacks
) -> dict:
    """Fit (from `ckpt` when given), export final/, test the best checkpoint, export best/; the metrics (main
    process; {} on the others). Checkpoints load with weights_only=True: plain tensors and data, no pickled code."""
    layout = RunLayout.of(cfg).arch(arch)
    params = count_parameters(model_config)
    print(
        f"train {arch}: {params:,} parameters, {plan[2]:,} optimiser steps"
        + (f", resuming from {ckpt}" if ckpt else "")
    )
    trainer, best_cb, throughput = make_trainer(cfg, arch, info, plan, world, extra_callbacks, resume_step)
    emissions = Emissions(cfg.train.track_emissions and is_main_process(), layout.emissions)
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt, weights_only=True)

    tokenizer = tokenizer_of(info) if trainer.is_global_zero else None  # read once, exported twice
    export(trainer, module, layout.final, tokenizer)
    best_path = best_cb.best_model_path or None
    if best_path is None:
        print(f"train {arch}: no validation ran, so there is no best checkpoint; testing the final weights")
    tested = trainer.test(module, datamodule=dm, ckpt_path=best_path, verbose=False, weights_only=True)[0]
    emissions_kg = emissions.stop()
    export(trainer, module, layout.best, tokenizer)
    if not trainer.is_global_zero:
        return {}
    metrics = collect_metrics(cfg, arch, info, model_config, trainer, best_cb, tested)
    clock = next(
        c for c in trainer.callbacks if isinstance(c, FitClock)
    )  # fit time of every session together
    metrics |= {"params": params, "train_tokens_per_s": throughput.tokens_per_s, "fit_time_s": clock.seconds}
    log_run_hparams(trainer.loggers, run_hparams(cfg, arch, metrics["intermediate_size"]), metrics)
    if emissions_kg is not None:
        metrics["emissions_kg"] = emissions_kg
    return metrics


def export(trainer, module: CausalLMModule, out_dir: Path, tokenizer) -> None:
    """Hugging Face export of the module's current weights (and `tokenizer`, if any) from the main process. The
    full state dict is gathered through the strategy first (a collective under FSDP, where each process holds
    only a shard)."""
    state = trainer.strategy.lightning_module_state_dict()
    if not trainer.is_global_zero:
        return
    model = build_model(module.model.config, seed=0)  # seeded: leaves the global RNG streams alone
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    export_hf(model, out_dir, tokenizer)


def tokenizer_of(info):
    """The run's tokenizer, exported beside the weights (MQAR: the words of the task's ids, k0 v0 ...)."""
    if info.task == "mqar":
        from ..data.mqar import tokenizer

        return tokenizer(info.vocab_size)
    if info.tokenizer_dir is None:
        return None
    from ..data import load_tokenizer

    return load_tokenizer(info.tokenizer_dir)
