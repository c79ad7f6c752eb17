"""Configuration of Transformer++: the modern attention baseline retlab compares RetNet against.

This file is copied next to exported checkpoints (trust_remote_code), so it imports only transformers."""

from transformers import PreTrainedConfig

POSITIONAL = ("rope", "none")


class TransformerConfig(PreTrainedConfig):
    """Decoder-only Transformer++: RoPE, RMSNorm pre-norm, SwiGLU feed-forward, no biases.

    Field names are shared with `RetNetConfig` so that sweeps and tables line up."""

    model_type = "retlab-transformer"
    # HF utilities (caches, pipelines, lm-eval) look for `num_attention_heads`.
    attribute_map = {"num_attention_heads": "num_heads"}

    vocab_size: int = 32000
    """Number of token ids."""
    hidden_size: int = 256
    """Model (embedding) dimension."""
    num_hidden_layers: int = 4
    """Number of blocks."""
    num_heads: int = 4
    """Attention heads; head_dim = hidden_size / num_heads."""
    intermediate_size: int = 688
    """SwiGLU hidden size (gate_proj/up_proj output)."""
    max_position_embeddings: int = 2048
    """Longest context the model is meant for (RoPE itself has no hard limit)."""
    norm_eps: float = 1e-6
    """Epsilon of the RMS norms."""
    dropout: float = 0.0
    """Dropout on attention probabilities and on each residual branch."""
    tie_word_embeddings: bool = False
    """Share the input embedding and the output projection."""
    positional: str = "rope"
    """`rope` (rotary positions) or `none` (the original study's position-free Transformer)."""
    rope_theta: float = 10000.0
    """RoPE base."""
    initializer_range: float = 0.02
    """Std of the normal init of linear and embedding weights."""
    use_cache: bool = True
    """Whether `generate` keeps a KV cache."""
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.positional not in POSITIONAL:
            raise ValueError(f"positional must be one of {POSITIONAL}, got {self.positional!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.positional == "rope" and (self.hidden_size // self.num_heads) % 2:
            raise ValueError(f"RoPE needs an even head_dim, got {self.hidden_size // self.num_heads}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads
