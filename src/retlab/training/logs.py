"""Training logs that survive kills and resumes.

Lightning's CSVLogger deletes an existing metrics.csv when it starts and rewrites the whole file in place whenever a
new column appears (the test metrics, for one), so a kill at the wrong moment leaves an empty log and a resume
loses the history. Here metrics.csv is only ever appended to with one write per save, or replaced whole through a
temporary file when its header grows; resuming from a checkpoint at optimiser step G keeps the rows logged before G
(the resumed run logs the later ones, and the test results, again, as an uninterrupted run would have). hparams.yaml is written
the same atomic way, and TensorBoard drops the events of steps the resumed run repeats (its `purge_step`)."""

import csv
import io
import os
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from ..utils.files import atomic_write_text


def _atomic_hparams(path: str, hparams: Any) -> None:
    tmp = f"{path}.tmp"
    save_hparams_to_yaml(tmp, hparams)
    os.replace(tmp, path)


class _AppendOnlyWriter(ExperimentWriter):
    """metrics.csv rows appended one save at a time; the file is replaced whole (never truncated in place)."""

    def __init__(self, log_dir: str, keep_before_step: int | None):
        # Not the parent's __init__: that deletes an existing metrics.csv.
        self.hparams: dict[str, Any] = {}
        self.metrics: list[dict[str, Any]] = []
        self.log_dir = log_dir
        self._fs = get_filesystem(log_dir)
        self.metrics_file_path = os.path.join(log_dir, self.NAME_METRICS_FILE)
        os.makedirs(log_dir, exist_ok=True)
        rows, self.metrics_keys = self._read()
        if keep_before_step is not None:  # resuming: keep what the checkpoint's run had logged before it
            kept = [r for r in rows if _before(r, keep_before_step)]
            if kept != rows or not Path(self.metrics_file_path).is_file():
                self._replace(kept)
        elif rows:  # a fresh attempt in a folder that still has a log: start it over, whole
            self.metrics_keys = []
            self._replace([])

    def _read(self) -> tuple[list[dict[str, str]], list[str]]:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return [], []
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if None not in r.values() and None not in r]  # drop a torn last line
        return rows, keys

    def _csv(self, rows: list[dict[str, Any]], header: bool) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.metrics_keys, lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def _replace(self, rows: list[dict[str, Any]]) -> None:
        if not self.metrics_keys and not rows:
            Path(self.metrics_file_path).unlink(missing_ok=True)
            return
        atomic_write_text(self.metrics_file_path, self._csv(rows, header=True))

    def save(self) -> None:
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        if new_keys or not os.path.isfile(self.metrics_file_path):
            old, _ = self._read()
            self._replace(old + self.metrics)
        else:
            data = self._csv(self.metrics, header=False).encode("utf-8")
            fd = os.open(self.metrics_file_path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, data)  # one write: a kill cannot leave half a row
            finally:
                os.close(fd)
        self.metrics = []

    def log_hparams(self, params: dict[str, Any]) -> None:
        self.hparams.update(params)
        _atomic_hparams(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), self.hparams)


def _before(row: dict[str, str], step: int) -> bool:
    """A row the resumed run will not log again: from a step before `step`, and not a test result (testing always
    runs again after a resume)."""
    try:
        logged_at = int(float(row.get("step") or ""))
    except ValueError:
        return False
    return logged_at < step and not any(v for k, v in row.items() if k.startswith("test/"))


class ResumableCSVLogger(CSVLogger):
    """CSVLogger over `_AppendOnlyWriter`; `resume_step` is the global step of the checkpoint being resumed."""

    def __init__(self, save_dir, name: str, resume_step: int | None = None):
        super().__init__(save_dir, name=name, version="")
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendOnlyWriter:
        if self._experiment is None:
            self._experiment = _AppendOnlyWriter(self.log_dir, self._resume_step)
        return self._experiment


class ResumableTensorBoardLogger(TensorBoardLogger):
    """TensorBoardLogger whose hparams.yaml is written atomically and which, when resuming from step G, tells
    TensorBoard to drop earlier events of steps >= G (the resumed run writes them again)."""

    def __init__(self, save_dir, name: str, resume_step: int | None = None):
        extra = {"purge_step": resume_step} if resume_step is not None else {}
        # No `hp_metric` placeholder of -1: the run's own hparams and metrics are logged once it has them
        # (log_run_hparams).
        super().__init__(save_dir, name=name, version="", default_hp_metric=False, **extra)

    @rank_zero_only
    def save(self) -> None:
        super(
            TensorBoardLogger, self
        ).save()  # flush the events; not the parent's in-place hparams.yaml write
        hparams_file = os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)
        if os.path.isdir(self.log_dir) and (self.hparams or not os.path.isfile(hparams_file)):
            _atomic_hparams(hparams_file, self.hparams)  # a resumed session without hparams keeps the file


# The metrics the TensorBoard HPARAMS tab shows beside each run's hyperparameters: metrics.json key -> tag.
HPARAM_METRICS = {"best_val_loss": "hp/best_val_loss", "test_loss": "hp/test_loss", "test_ppl": "hp/test_ppl"}


def run_hparams(cfg, arch: str, intermediate_size: int | None) -> dict[str, Any]:
    """The hyperparameters that set a training run apart, flat (`train/lr`, `model/hidden_size`, ...): the
    resolved train and model sections (`intermediate_size` as matching set it; metrics.json has it), the data
    shape and the seed."""
    import dataclasses

    from .train import UNFINGERPRINTED_TRAIN

    train = {k: v for k, v in dataclasses.asdict(cfg.train).items() if k not in UNFINGERPRINTED_TRAIN}
    model = dataclasses.asdict(cfg.model) | {
        "arch": arch,
        "intermediate_size": intermediate_size,
    }
    flat = {f"train/{k}": v for k, v in train.items()} | {f"model/{k}": v for k, v in model.items()}
    flat |= {"data/source": cfg.data.source, "data/seq_len": cfg.data.seq_len, "seed": cfg.seed}
    return {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in flat.items()}


def log_run_hparams(loggers, params: dict[str, Any], metrics: dict) -> None:
    """Record `params` with the run's final metrics (best val loss, test loss and perplexity) in every logger,
    once, at the run's last optimiser step (metrics["steps"]; Lightning would put them at step 0, before any
    training): TensorBoard's HPARAMS tab then compares runs and sweep trials; hparams.yaml holds the same values."""
    values = {tag: float(metrics[key]) for key, tag in HPARAM_METRICS.items() if metrics.get(key) is not None}
    step = metrics.get("steps")
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, values, step=step)
        else:
            logger.log_hyperparams(params)
        logger.save()
