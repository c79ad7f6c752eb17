"""The `model` section: architecture and size. Every architecture shares the field names."""

from dataclasses import dataclass, field
from typing import Any, Literal

from .checks import Problem, arch_problems, hf_problems, positive, require


@dataclass
class ModelConfig:
    """Architecture hyperparameters; fields that do not apply to an architecture are ignored by it."""

    arch: str = "retnet"
    """Architecture trained by `retlab train` (`retlab run` trains every entry of `compare`): `retnet`,
    `transformer` (Transformer++), the original study's `torchscale-retnet` / `torchscale-transformer`, or any
    causal LM that transformers ships as `hf:<model_type>` (`hf:llama`, `hf:mamba`, ...)."""
    hidden_size: int = 256
    """Model (embedding) dimension."""
    num_hidden_layers: int = 4
    """Number of blocks."""
    num_heads: int = 4
    """Retention or attention heads."""
    intermediate_size: int | None = None
    """Feed-forward hidden size (default: chosen by `match_parameters`, else about 8/3 x hidden_size)."""
    value_dim: int | None = None
    """RetNet value dimension (default: 2 x hidden_size)."""
    decay: Literal["torchscale", "linspace"] = "torchscale"
    """RetNet per-head decay: `torchscale` = 1 - 2^(-5-h) (paper Eq. 8), `linspace` = the paper's experiments."""
    retention_mode: Literal["parallel", "chunkwise", "recurrent"] = "chunkwise"
    """RetNet form used for full-sequence forward passes (all three compute the same function)."""
    chunk_size: int = 64
    """Chunk length of the chunkwise retention form."""
    positional: Literal["rope", "none"] = "rope"
    """Transformer positions: `rope`, or `none` for the original study's position-free Transformer."""
    norm_eps: float = 1e-6
    """Epsilon of the RMS norms."""
    dropout: float = 0.0
    """Dropout probability."""
    tie_word_embeddings: bool = False
    """Share the input embedding and output projection."""
    match_parameters: bool = True
    """When comparing architectures, size each one's intermediate_size (an `hf:` type's width field) to match
    the first one's parameter count."""
    hf_overrides: dict[str, Any] = field(default_factory=dict)
    """Config fields of `hf:<model_type>` architectures beyond this section's, by model type, e.g.
    `{mamba: {state_size: 8, use_mambapy: true}}`; they win over the fields mapped from this section."""
    hf_width_field: dict[str, str] = field(default_factory=dict)
    """The config field that `match_parameters` sizes for an `hf:` architecture, by model type, e.g.
    `{mamba2: expand}` (default: its feed-forward width, e.g. intermediate_size; Mamba-2: state_size)."""

    def problems(self) -> list[Problem]:
        bad = arch_problems([self.arch], "model.arch")
        bad += positive(
            self, "model", "hidden_size", "num_hidden_layers", "num_heads", "chunk_size", "norm_eps"
        )
        bad += positive(self, "model", "intermediate_size", "value_dim", optional=True)
        if self.hidden_size > 0 and self.num_heads > 0:
            bad += require(
                self.hidden_size % self.num_heads == 0,
                "model.hidden_size",
                f"{self.hidden_size} is not divisible by model.num_heads={self.num_heads}",
                "pick sizes with hidden_size % num_heads == 0",
            )
            bad += require(
                not self.value_dim or self.value_dim % self.num_heads == 0,
                "model.value_dim",
                f"{self.value_dim} is not divisible by model.num_heads={self.num_heads}",
                "pick a multiple of num_heads",
            )
        bad += hf_problems(self.hf_overrides, self.hf_width_field)
        return bad + require(
            0 <= self.dropout < 1, "model.dropout", f"must be in [0, 1), got {self.dropout}", "use e.g. 0.1"
        )
