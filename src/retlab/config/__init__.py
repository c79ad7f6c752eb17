"""retlab's configuration: typed dataclasses, one per section. One definition gives the YAML schema,
the `--help` text (the field docstrings) and the defaults."""

from dataclasses import dataclass, field

from .bench import BenchConfig
from .data import DataConfig, MQARConfig, TokenizerConfig
from .evaluation import EvalConfig, GenerateConfig
from .model import Arch, ModelConfig
from .sweep import SweepConfig
from .train import TrainConfig


@dataclass
class RetlabConfig:
    """One run: data, tokenizer, model(s), training, evaluation, benchmarks and sweeps."""

    name: str = "quickstart"
    """Run name; outputs go to `<output_dir>/<name>/`."""
    output_dir: str = "runs"
    """Parent folder of run folders."""
    seed: int = 0
    """Seed for data splits, initialisation, data order and sampling."""
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
    """Grid search."""


__all__ = [
    "Arch",
    "BenchConfig",
    "DataConfig",
    "EvalConfig",
    "GenerateConfig",
    "MQARConfig",
    "ModelConfig",
    "RetlabConfig",
    "SweepConfig",
    "TokenizerConfig",
    "TrainConfig",
]
