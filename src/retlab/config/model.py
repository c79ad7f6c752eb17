"""The `model` section: architecture and size. Both architectures share the field names."""

from dataclasses import dataclass
from typing import Literal

Arch = Literal["retnet", "transformer", "torchscale-retnet", "torchscale-transformer"]


@dataclass
class ModelConfig:
    """Architecture hyperparameters; fields that do not apply to an architecture are ignored by it."""

    arch: Arch = "retnet"
    """Architecture trained by `retlab train` (`retlab run` trains every entry of `compare`)."""
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
    """When comparing architectures, size each one's intermediate_size to match the first one's parameter count."""
