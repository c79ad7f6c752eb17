"""Reading run folders for the report. Every reader returns None (or empty) for what a run has not produced."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..layout import RunLayout
from ..sweep.results import read_csv
from ..utils import files

ARCH_MARKERS = ("metrics.json", "best/config.json", "logs/csv", "emissions.csv")


@dataclass
class Run:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.root)

    def config(self) -> dict | None:
        path = self.layout.config
        return yaml.safe_load(path.read_text()) if path.is_file() else None

    def archs(self) -> list[str]:
        """Architecture folders with any training output, in `compare` order first."""
        found = {
            p.name for p in self.root.iterdir() if p.is_dir() and any((p / m).exists() for m in ARCH_MARKERS)
        }
        order = list((self.config() or {}).get("compare") or [])
        return [a for a in order if a in found] + sorted(found - set(order))

    def metrics(self, arch: str) -> dict | None:
        return read_json(self.layout.arch(arch).metrics)

    def model_config(self, arch: str) -> dict | None:
        return read_json(self.layout.arch(arch).best / "config.json")

    def log_rows(self, arch: str) -> list[dict[str, float]]:
        """The whole training history from `<arch>/logs/csv/metrics.csv`, numbers only, in the order logged.

        That one file holds every session of a resumed run: training/logs.py appends to it, and a resume from a
        checkpoint at step G first drops the rows from G on, which the resumed session logs again."""
        path = self.layout.arch(arch).csv / "metrics.csv"
        return [_numbers(r) for r in read_csv(path)] if path.is_file() else []

    def displaced(self) -> list[str]:
        """Folders under `previous/` that a retrain moved aside and keeps until it finishes (training/attempts.py)."""
        previous = self.layout.previous
        return sorted(p.name for p in previous.iterdir() if p.is_dir()) if previous.is_dir() else []

    def emissions(self, arch: str) -> list[dict[str, str]]:
        path = self.layout.arch(arch).emissions
        return read_csv(path) if path.is_file() else []

    def eval_results(self) -> dict | None:
        return read_json(self.layout.eval / "results.json")

    def bench(self, kind: str) -> dict | None:
        return read_json(self.layout.bench / f"{kind}.json")


def read_json(path: Path) -> dict | None:
    """None for a file the run has not produced (or left half-written)."""
    try:
        return files.read_json(path)
    except (OSError, ValueError):
        return None


def _numbers(row: dict[str, str]) -> dict[str, float]:
    out = {}
    for key, value in row.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            pass
    return out
