"""Training callbacks: throughput and memory metrics, fit time and RNG state that travel with checkpoints."""

import random
import resource
import sys
import time

import lightning as L
import numpy as np
import torch


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


class StepBar(L.Callback):
    """retlab's progress bar for training (`console.bar`, the style of every long stage), in optimiser steps up
    to the run's total, with the latest training loss, the last validation loss and the session-mean tokens/s
    (the figure metrics.json and the final table report). Replaces Lightning's epoch-based bar."""

    def __init__(self, description: str, total_steps: int, throughput: ThroughputMonitor):
        from contextlib import ExitStack

        self.description, self.total_steps, self.throughput = description, total_steps, throughput
        self._stack, self._update = ExitStack(), None
        self._loss = self._val = None

    def on_train_start(self, trainer, pl_module) -> None:
        from ..console import bar

        if trainer.is_global_zero:
            self._update = self._stack.enter_context(bar(self.description, self.total_steps, "steps"))
            self._update(completed=trainer.global_step)

    def _info(self) -> str:
        parts = [f"loss {self._loss:.3f}" if self._loss is not None else ""]
        parts += [f"val {self._val:.3f}" if self._val is not None else ""]
        parts += [f"{self.throughput.tokens_per_s:,.0f} tok/s" if self.throughput.tokens_per_s else ""]
        return " ".join(p for p in parts if p)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._update is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._loss = float(loss)
        self._update(completed=trainer.global_step, info=self._info())

    def on_validation_end(self, trainer, pl_module) -> None:
        val = trainer.callback_metrics.get("val/loss")
        if self._update is not None and val is not None:
            self._val = float(val)
            self._update(info=self._info())

    def on_train_end(self, trainer, pl_module) -> None:
        self._stack.close()
        self._update = None

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.on_train_end(trainer, pl_module)


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
