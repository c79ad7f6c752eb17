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
        """The whole training history from the Lightning CSV logs, numbers only, in step order of logging.

        A resumed run keeps one append-only `metrics.csv` across its sessions. Runs from before that kept each
        earlier session's log as `metrics-before-resume-<N>.csv`: those come first, and where a later session
        logged a step again (it resumed from an earlier checkpoint), its rows replace the earlier ones from that
        step on. Several `version_<N>/metrics.csv` are read in version order the same way."""
        csv_dir = self.layout.arch(arch).csv
        if not csv_dir.is_dir():
            return []
        earlier = sorted(csv_dir.glob("metrics-before-resume-*.csv"), key=_resume_key)
        history: list[dict[str, float]] = []
        for path in earlier + sorted(csv_dir.rglob("metrics.csv"), key=_version_key):
            rows = [_numbers(r) for r in read_csv(path)]
            first = min((r["step"] for r in rows if "step" in r), default=None)
            if first is not None:
                history = [r for r in history if r.get("step", -1) < first]
            history += rows
        return history

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


def _resume_key(path: Path) -> int:
    number = path.stem.rsplit("-", 1)[-1]
    return int(number) if number.isdigit() else 0


def _version_key(path: Path) -> tuple:
    """version_2 before version_10; a metrics.csv directly under logs/csv first."""
    name = path.parent.name
    number = name.rsplit("_", 1)[-1]
    return (int(number) if number.isdigit() else -1, str(path))
