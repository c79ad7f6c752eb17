"""The run folder layout, in one place:

runs/<name>/
  config.yaml                 resolved config
  data/                       splits (download) and packed memmaps (tokenize)
  tokenizer/                  PreTrainedTokenizerFast directory
  <arch>/                     one folder per trained architecture
  previous/<arch>/            what a retrain (new config, --force) displaced, until the retrain finishes
    checkpoints/              Lightning checkpoints (top-k by val/loss, last)
    best/  final/             Hugging Face exports (config, safetensors, tokenizer, modeling code)
    logs/tensorboard/  logs/csv/
    metrics.json              test metrics of the best checkpoint, params, throughput, wall time
    emissions.csv             CodeCarbon (when train.track_emissions)
  eval/results.json           evaluation of every architecture
  bench/infer.json bench/train.json (+ PNG plots)
  report/index.html report/README.md
  sweep/results.csv sweep/summary.md
  scaling/results.csv scaling/fit.json scaling/summary.md (+ PNG plots); scaling/trials.csv while it runs
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @classmethod
    def of(cls, cfg) -> "RunLayout":
        return cls(Path(cfg.output_dir) / cfg.name)

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer"

    def arch(self, arch: str) -> "ArchLayout":
        return ArchLayout(self.root / arch)

    @property
    def previous(self) -> Path:
        return self.root / "previous"

    @property
    def eval(self) -> Path:
        return self.root / "eval"

    @property
    def bench(self) -> Path:
        return self.root / "bench"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def sweep(self) -> Path:
        return self.root / "sweep"

    @property
    def scaling(self) -> Path:
        return self.root / "scaling"


@dataclass(frozen=True)
class ArchLayout:
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def final(self) -> Path:
        return self.root / "final"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tensorboard(self) -> Path:
        return self.logs / "tensorboard"

    @property
    def csv(self) -> Path:
        return self.logs / "csv"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def emissions(self) -> Path:
        return self.root / "emissions.csv"
