"""Configuration of the native RetNet (retentive network), TorchScale's architecture written for Hugging Face.

This file is copied next to exported checkpoints (trust_remote_code), so it imports only transformers."""

from transformers import PreTrainedConfig

DECAYS = ("torchscale", "linspace")
RETENTION_MODES = ("parallel", "chunkwise", "recurrent")
ACTIVATIONS = ("silu", "gelu")


class RetNetConfig(PreTrainedConfig):
    """Decoder-only RetNet: multi-scale retention with a fixed decay per head, xPos-style rotation of q and k,
    per-head RMS group norm, swish output gate, RMSNorm pre-norm blocks, GLU feed-forward, no biases.

    Field names are shared with `TransformerConfig` so that sweeps and tables line up."""

    model_type = "retlab-retnet"
    # HF utilities (pipelines, lm-eval) look for `num_attention_heads`.
    attribute_map = {"num_attention_heads": "num_heads"}

    vocab_size: int = 32000
    """Number of token ids."""
    hidden_size: int = 256
    """Model (embedding) dimension d; also the query/key width (d_k = hidden_size / num_heads per head)."""
    num_hidden_layers: int = 4
    """Number of blocks."""
    num_heads: int = 4
    """Retention heads, each with its own decay."""
    intermediate_size: int = 512
    """GLU hidden size (gate_proj/up_proj output)."""
    value_dim: int | None = None
    """Value/gate width (d_v = value_dim / num_heads per head); default 2 * hidden_size, as in the paper."""
    max_position_embeddings: int = 2048
    """Longest context the model is meant for (retention itself has no hard limit)."""
    norm_eps: float = 1e-6
    """Epsilon of the RMSNorms of the blocks and of the final norm."""
    groupnorm_eps: float | None = None
    """Epsilon of the per-head RMS group norm of the retention output; default: norm_eps."""
    dropout: float = 0.0
    """Dropout on the embeddings and on each residual branch."""
    tie_word_embeddings: bool = False
    """Share the input embedding and the output projection."""
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
    initializer_range: float = 0.02
    """Std of the normal init of linear and embedding weights."""
    use_cache: bool = True
    """Whether `generate` keeps the recurrent state."""
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.value_dim is None:
            self.value_dim = 2 * self.hidden_size
        if self.groupnorm_eps is None:
            self.groupnorm_eps = self.norm_eps
        problems = [
            f"{name} must be one of {choices}, got {value!r}"
            for name, value, choices in (
                ("decay", self.decay, DECAYS),
                ("retention_mode", self.retention_mode, RETENTION_MODES),
                ("hidden_act", self.hidden_act, ACTIVATIONS),
            )
            if value not in choices
        ]
        for name in ("hidden_size", "value_dim"):
            if getattr(self, name) % self.num_heads:
                problems.append(
                    f"{name} ({getattr(self, name)}) must be divisible by num_heads ({self.num_heads})"
                )
        if (self.hidden_size // self.num_heads) % 2:
            problems.append(
                f"the rotation needs an even key head dim, got {self.hidden_size // self.num_heads}"
            )
        if self.chunk_size < 1:
            problems.append(f"chunk_size must be >= 1, got {self.chunk_size}")
        if problems:
            raise ValueError("invalid RetNetConfig: " + "; ".join(problems))

    @property
    def key_head_dim(self) -> int:
        """d_k: query/key width per head."""
        return self.hidden_size // self.num_heads

    @property
    def value_head_dim(self) -> int:
        """d_v: value width per head."""
        return self.value_dim // self.num_heads
