"""Configuration of the native RetNet (retentive network), TorchScale's architecture written for Hugging Face.

This file is copied next to exported checkpoints (trust_remote_code), so it imports only transformers (through
its sibling configuration_native.py)."""

from .configuration_native import NativeConfig, choice_problems, divisible_by_heads

DECAYS = ("torchscale", "linspace")
RETENTION_MODES = ("parallel", "chunkwise", "recurrent")
ACTIVATIONS = ("silu", "gelu")


class RetNetConfig(NativeConfig):
    """Decoder-only RetNet: multi-scale retention with a fixed decay per head, xPos-style rotation of q and k,
    per-head RMS group norm, swish output gate, RMSNorm pre-norm blocks, GLU feed-forward, no biases.

    The fields every retlab architecture shares are in `NativeConfig`."""

    model_type = "retlab-retnet"

    value_dim: int | None = None
    """Value/gate width (d_v = value_dim / num_heads per head); default 2 * hidden_size, as in the paper."""
    groupnorm_eps: float | None = None
    """Epsilon of the per-head RMS group norm of the retention output; default: norm_eps."""
    decay: str = "torchscale"
    """Per-head decay gamma_h: `torchscale` = 1 - 2^(-5-h) (paper Eq. 8), `linspace` = 1 - exp(linspace(log 1/32,
    log 1/512, H)) (the paper's experiments)."""
    retention_mode: str = "chunkwise"
    """Form of a full-sequence forward: `parallel`, `chunkwise` or `recurrent` (all compute the same function);
    may be changed at run time (`model.config.retention_mode = ...`)."""
    chunk_size: int = 64
    """Tokens per chunk of the chunkwise form."""
    hidden_act: str = "silu"
    """Activation of the GLU feed-forward: `silu` (SwiGLU) or `gelu`."""
    embed_scale: float = 1.0
    """Multiplier of the token embeddings (TorchScale uses sqrt(hidden_size) unless no_scale_embedding)."""
    rope_base: float = 10000.0
    """Base of the xPos-style rotation: angle_i = 1 / rope_base ** linspace(0, 1, d_k / 2)."""

    def __post_init__(self, **kwargs):
        if self.value_dim is None:
            self.value_dim = 2 * self.hidden_size
        if self.groupnorm_eps is None:
            self.groupnorm_eps = self.norm_eps
        super().__post_init__(**kwargs)

    def problems(self) -> list[str]:
        problems = choice_problems(
            ("decay", self.decay, DECAYS),
            ("retention_mode", self.retention_mode, RETENTION_MODES),
            ("hidden_act", self.hidden_act, ACTIVATIONS),
        )
        problems += super().problems() + divisible_by_heads(self, "value_dim")
        if (self.hidden_size // self.num_heads) % 2:
            problems.append(
                f"the rotation needs an even key head dim, got {self.hidden_size // self.num_heads}"
            )
        if self.chunk_size < 1:
            problems.append(f"chunk_size must be >= 1, got {self.chunk_size}")
        return problems

    @property
    def key_head_dim(self) -> int:
        """d_k: query/key width per head."""
        return self.hidden_size // self.num_heads

    @property
    def value_head_dim(self) -> int:
        """d_v: value width per head."""
        return self.value_dim // self.num_heads
