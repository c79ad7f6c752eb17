"""Training callbacks: throughput and memory metrics, RNG state that travels with checkpoints, and the
`last.ckpt` that resumption continues from."""

import random
import resource
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


class ThroughputMonitor(L.Callback):
    """Logs `throughput/tokens_per_s` (all processes, training batches only: validation pauses are excluded),
    `memory/peak_rss_mib` and, on GPU, `memory/cuda_max_allocated_mib`. `tokens_per_s` is the session mean."""

    def __init__(self, tokens_per_batch: int, window: int = 20):
        self.tokens_per_batch, self.window = (
            tokens_per_batch,
            window,
        )  # tokens of one micro-batch, all processes
        self.tokens, self.seconds = 0, 0.0
        self._last: float | None = None
        self._recent: list[tuple[int, float]] = []

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:  # the interval since the previous batch started: that batch's whole cost
            dt = now - self._last
            self.tokens += self.tokens_per_batch
            self.seconds += dt
            self._recent = (self._recent + [(self.tokens_per_batch, dt)])[-self.window :]
        self._last = now

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._recent:
            rate = sum(n for n, _ in self._recent) / sum(t for _, t in self._recent)
            pl_module.log("throughput/tokens_per_s", rate)
            pl_module.log("tok/s", rate, prog_bar=True, logger=False)  # short name for the progress bar
        pl_module.log("memory/peak_rss_mib", peak_rss_mib())
        if torch.cuda.is_available() and pl_module.device.type == "cuda":
            pl_module.log(
                "memory/cuda_max_allocated_mib", torch.cuda.max_memory_allocated(pl_module.device) / (1 << 20)
            )

    def on_validation_start(self, trainer, pl_module) -> None:
        self._last = None  # the interval spanning validation is not training time

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        self._last = None  # nor is writing a checkpoint

    def state_dict(self) -> dict:
        # Travels with checkpoints, so a resumed run reports the mean over all of its training, not one session's.
        return {"tokens": self.tokens, "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.tokens, self.seconds = int(state["tokens"]), float(state["seconds"])


class RNGState(L.Callback):
    """Saves the Python, NumPy and torch CPU generators in each checkpoint and restores them on resume, so
    dropout and any other sampling continue the uninterrupted run's streams."""

    def state_dict(self) -> dict:
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        # Plain lists and tensors only: checkpoints load with torch.load(weights_only=True).
        numpy_state = [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]
        return {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        random.setstate(state["python"])
        name, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state["torch"])


class FitClock(L.Callback):
    """Seconds spent in `fit`, summed over every session of a resumed run (the total travels in checkpoints)."""

    def __init__(self):
        self.before, self._start = 0.0, None

    @property
    def seconds(self) -> float:
        return self.before + (time.perf_counter() - self._start if self._start is not None else 0.0)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_fit_end(self, trainer, pl_module) -> None:
        self.before, self._start = self.seconds, None

    def state_dict(self) -> dict:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.before = float(state["seconds"])


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
