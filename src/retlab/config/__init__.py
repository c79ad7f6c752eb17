"""retlab's configuration: typed dataclasses, one per section. One definition gives the YAML schema,
the `--help` text (the field docstrings), the defaults and the checks: each section's `problems()` returns
every (field, problem, fix) of its own, and `loader.validate` reports them all at once."""

import dataclasses
from dataclasses import dataclass, field

from .bench import BenchConfig
from .checks import Problem, arch_problems, path_field, require
from .data import DataConfig, MQARConfig, TokenizerConfig
from .evaluation import EvalConfig, GenerateConfig
from .model import ModelConfig
from .scaling import ScalingConfig
from .sweep import SweepConfig
from .train import TrainConfig


@dataclass
class RetlabConfig:
    """One run: data, tokenizer, model(s), training, evaluation, benchmarks, sweeps and scaling studies."""

    name: str = "quickstart"
    """Run name; outputs go to `<output_dir>/<name>/`."""
    output_dir: str = path_field("runs", kind="output")
    """Parent folder of run folders."""
    seed: int = 0
    """Seed for data splits, initialisation, data order and sampling."""
    num_threads: int | None = None
    """torch intra-op threads of every command (training, evaluation, generation, benchmarks; default: torch's,
    one per core). Tiny models run fastest on 1; on a shared CPU a second thread can make each step 8x slower."""
    compare: list[str] = field(default_factory=lambda: ["retnet", "transformer"])
    """Architectures `retlab run` trains and compares (parameter-matched to the first)."""
    data: DataConfig = field(default_factory=DataConfig)
    """Data source, splits and packing."""
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    """Tokenizer."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Model architecture and size."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Evaluation."""
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    """Text generation."""
    bench: BenchConfig = field(default_factory=BenchConfig)
    """Benchmarks."""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    """Grid search (and how `retlab scaling` runs its trials: backend, concurrency, resources)."""
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    """Scaling study: sizes, token budgets, seeds and target sizes of `retlab scaling`."""

    def problems(self) -> list[Problem]:
        """This run's own fields, then every section's `problems()`."""
        bad = require(
            bool(self.name) and "/" not in self.name,
            "name",
            f"invalid run name {self.name!r}",
            "use a non-empty name without '/'",
        )
        bad += require(
            0 <= self.seed < 2**32, "seed", f"must be in [0, 2^32), got {self.seed}", "use e.g. 0"
        )  # numpy's seeding range
        bad += require(
            self.num_threads is None or self.num_threads >= 1,
            "num_threads",
            f"must be >= 1, got {self.num_threads}",
            "or null for torch's default",
        )
        bad += arch_problems(self.compare, "compare")
        for f in dataclasses.fields(self):
            check = getattr(getattr(self, f.name), "problems", None)  # a section; nested ones are its own
            if callable(check):
                bad += check()
        return bad


__all__ = [
    "BenchConfig",
    "DataConfig",
    "EvalConfig",
    "GenerateConfig",
    "MQARConfig",
    "ModelConfig",
    "RetlabConfig",
    "ScalingConfig",
    "SweepConfig",
    "TokenizerConfig",
    "TrainConfig",
]
