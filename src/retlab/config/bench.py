"""The `bench` section: decoding and training speed and memory."""

from dataclasses import dataclass, field


@dataclass
class BenchConfig:
    """Settings of `retlab bench infer` and `retlab bench train`."""

    contexts: list[int] = field(default_factory=lambda: [256, 512, 1024, 2048, 4096, 8192])
    """Context lengths for decoding benchmarks."""
    batch_sizes: list[int] = field(default_factory=lambda: [1, 4])
    """Batch sizes for decoding benchmarks."""
    decode_steps: int = 32
    """Timed decode steps per point (median reported)."""
    warmup_steps: int = 4
    """Untimed decode steps before timing."""
    train_seq_lens: list[int] = field(default_factory=lambda: [512, 1024, 2048, 4096, 8192])
    """Sequence lengths for training-step benchmarks."""
    train_steps: int = 3
    """Timed training steps per point."""
    device: str = "auto"
    """`auto`, `cpu` or `cuda`."""
    dtype: str = "float32"
    """`float32` or `bfloat16`."""
