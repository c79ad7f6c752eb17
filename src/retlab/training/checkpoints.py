"""Where and when checkpoints are written, so a run killed at any moment resumes to the same numbers.

Files: every checkpoint is written to a temporary beside it and renamed over it (`AtomicCheckpointIO`), so a kill
leaves the previous complete file, never half of one (Lightning's own writer goes through the system temporary
folder, a copy rather than a rename when that is another file system). Moments: `last.ckpt` only where the run may
stop and continue unchanged (`LastCheckpoint`). Paths: the top-k state of a checkpoint follows the run folder when
it is moved or copied (`TopKCheckpoint`)."""

import os
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to `.<name>.tmp` in the checkpoint's own folder, then one rename over the checkpoint."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)


class TopKCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose restored state follows a moved or copied run folder: paths under the folder it was
    saved in are re-rooted in the current one (Lightning would drop the best scores and keep pointing at the old
    folder), and files that no longer exist are forgotten, so the best checkpoint it names is always there."""

    def load_state_dict(self, state_dict: dict) -> None:
        state, old, new = dict(state_dict), state_dict.get("dirpath"), self.dirpath
        if old and new and os.path.abspath(old) != os.path.abspath(new):
            state["dirpath"] = new
            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                state[key] = _rerooted(state.get(key), old, new)
            state["best_k_models"] = {
                _rerooted(k, old, new): v for k, v in state.get("best_k_models", {}).items()
            }
        super().load_state_dict(state)
        self.best_k_models = {k: v for k, v in self.best_k_models.items() if os.path.isfile(k)}
        if self.best_model_path and not os.path.isfile(self.best_model_path):
            pick = min if self.mode == "min" else max
            best = pick(self.best_k_models, key=self.best_k_models.get) if self.best_k_models else ""
            self.best_model_path, self.best_model_score = best, self.best_k_models.get(best)


def _rerooted(path: str | None, old: str, new: str) -> str | None:
    if not path or not os.path.abspath(path).startswith(os.path.abspath(old) + os.sep):
        return path
    return os.path.join(new, os.path.relpath(os.path.abspath(path), os.path.abspath(old)))


class LastCheckpoint(Checkpoint):
    """Writes `last.ckpt` (what `resume: auto` continues from) only where a run may stop and continue unchanged:
    after every validation, once the top-k checkpoint callback has saved and pruned (checkpoint callbacks run last,
    in order), so the best checkpoint it names exists; every `every_n_steps` optimiser steps or `every_seconds`,
    but never between a step and the validation that follows it (Lightning would skip that validation on resume);
    and when training ends."""

    def __init__(self, path: Path, every_n_steps: int | None = None, every_seconds: float | None = None):
        self.path, self.every_n_steps, self.every_seconds = Path(path), every_n_steps, every_seconds
        self._saved_step: int | None = None
        self._seen_step: int | None = None
        self._saved_at = time.monotonic()

    def _save(self, trainer) -> None:
        trainer.save_checkpoint(
            self.path
        )  # written whole or not at all (Lightning saves through a temporary)
        self._saved_step, self._saved_at = trainer.global_step, time.monotonic()

    def on_train_start(self, trainer, pl_module) -> None:
        self._saved_step = self._seen_step = trainer.global_step
        self._saved_at = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step == self._seen_step:
            return  # mid-accumulation: this micro-batch did not step the optimiser
        self._seen_step = step
        due = bool(self.every_n_steps) and step % self.every_n_steps == 0
        due |= self.every_seconds is not None and time.monotonic() - self._saved_at >= self.every_seconds
        if due and not validation_follows(trainer):
            self._save(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_step != self._saved_step:
            self._save(trainer)


def validation_follows(trainer) -> bool:
    """Whether Lightning validates right after the current training batch: every `val_check_batch` batches
    counted across epochs (the Trainer runs with check_val_every_n_epoch=None), or when stopping early."""
    if trainer.should_stop:
        return True
    every = trainer.val_check_batch
    return (
        every not in (None, float("inf")) and (trainer.fit_loop.epoch_loop.total_batch_idx + 1) % every == 0
    )
