"""What the configurations of both native models share: the fields every retlab architecture names alike (so
that sweeps and tables line up) and their checks.

This file is copied next to exported checkpoints with the configuration files that import it (trust_remote_code),
so it imports only transformers."""

from transformers import PreTrainedConfig


class NativeConfig(PreTrainedConfig):
    """A decoder-only causal LM with RMSNorm pre-norm blocks and a gated feed-forward (a base class only: it has
    no model type of its own). Subclasses add their fields and their `problems()`."""

    # HF utilities (caches, pipelines, lm-eval) look for `num_attention_heads`.
    attribute_map = {"num_attention_heads": "num_heads"}

    vocab_size: int = 32000
    """Number of token ids."""
    hidden_size: int = 256
    """Model (embedding) dimension d; also the query/key width (hidden_size / num_heads per head)."""
    num_hidden_layers: int = 4
    """Number of blocks."""
    num_heads: int = 4
    """Attention or retention heads."""
    intermediate_size: int = 512
    """Gated feed-forward hidden size (gate_proj/up_proj output)."""
    max_position_embeddings: int = 2048
    """Longest context the model is meant for (neither rotation nor retention has a hard limit)."""
    norm_eps: float = 1e-6
    """Epsilon of the RMSNorms of the blocks and of the final norm."""
    dropout: float = 0.0
    """Dropout on the embeddings and on each residual branch (and on attention probabilities)."""
    tie_word_embeddings: bool = False
    """Share the input embedding and the output projection."""
    initializer_range: float = 0.02
    """Std of the normal init of linear and embedding weights."""
    use_cache: bool = True
    """Whether `generate` keeps a cache (the KV cache or the recurrent state)."""
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        problems = self.problems()
        if problems:
            raise ValueError(f"invalid {type(self).__name__}: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every problem of the config at once (subclasses extend it)."""
        return divisible_by_heads(self, "hidden_size")


def divisible_by_heads(config, *names: str) -> list[str]:
    return [
        f"{name} ({getattr(config, name)}) must be divisible by num_heads ({config.num_heads})"
        for name in names
        if getattr(config, name) % config.num_heads
    ]


def choice_problems(*checks: tuple[str, object, tuple]) -> list[str]:
    """(name, value, choices) -> a problem for each value not among its choices."""
    return [
        f"{name} must be one of {choices}, got {value!r}"
        for name, value, choices in checks
        if value not in choices
    ]
