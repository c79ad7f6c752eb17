"""The `bench` section: decoding and training speed and memory."""

from dataclasses import dataclass, field
from typing import Literal

from .checks import Problem, arch_problems, device_problems, non_negative, positive, require


@dataclass
class BenchConfig:
    """Settings of `retlab bench infer` and `retlab bench train`."""

    enabled: bool = False
    """Also run `bench infer` as a stage of `retlab run` (before the report)."""
    archs: list[str] = field(default_factory=list)
    """Architectures to benchmark (default: `compare`); parameter-matched to the first when
    `model.match_parameters`."""
    use_trained: bool = True
    """Benchmark the trained `<arch>/best/` exports when they exist (else a random init of the config's size)."""
    vocab_size: int | None = None
    """Vocabulary of random-init models (default: the data's: MQAR vocabulary or `tokenizer.vocab_size`)."""
    contexts: list[int] = field(default_factory=lambda: [512, 1024, 2048, 4096, 8192, 16384])
    """Context lengths for decoding benchmarks."""
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8])
    """Batch sizes for decoding benchmarks."""
    decode_steps: int = 32
    """Timed decode rounds per point; each round times one step of every decoder (RetNet, the Transformer with a
    dynamic and with a static KV cache), interleaved. Median and IQR over the rounds are reported."""
    warmup_steps: int = 4
    """Untimed decode rounds before timing."""
    prefill_rounds: int = 3
    """Timed prefill rounds per point (each architecture once per round, interleaved), after one untimed prefill
    that measures its memory."""
    train_seq_lens: list[int] = field(default_factory=lambda: [512, 1024, 2048, 4096, 8192])
    """Sequence lengths for training-step benchmarks."""
    train_batch_size: int = 1
    """Sequences per training step in `bench train`."""
    train_steps: int = 3
    """Timed training rounds per length; each round times one step of every variant, interleaved (after one
    untimed step each). Median and IQR over the rounds are reported."""
    memory_limit_gib: float | None = None
    """Skip points whose estimated memory exceeds this (default: half the available RAM, or 90% of the free
    GPU memory), instead of letting the operating system kill the run."""
    device: str = "auto"
    """`auto` (cuda when available), `cpu`, `cuda` or `cuda:N`."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """`float32` or `bfloat16`."""
    gemm_size: int = 2048
    """Side of the square matmul timed at the start of a CPU benchmark, on the same threads and in `dtype`: its
    FLOP/s are the peak that MFU is measured against (a GPU's peak comes from its spec sheet)."""

    def problems(self) -> list[Problem]:
        bad = arch_problems(self.archs, "bench.archs", allow_empty=True)
        for name in ("contexts", "batch_sizes", "train_seq_lens"):
            values = getattr(self, name)
            bad += require(
                bool(values) and all(x > 0 for x in values),
                f"bench.{name}",
                f"needs positive values, got {values}",
                "e.g. [256, 512]",
            )
        bad += positive(self, "bench", "decode_steps", "train_steps", "train_batch_size", "prefill_rounds")
        bad += positive(self, "bench", "gemm_size")
        bad += positive(self, "bench", "vocab_size", "memory_limit_gib", optional=True)
        return (
            bad + non_negative(self, "bench", "warmup_steps") + device_problems(self.device, "bench.device")
        )
