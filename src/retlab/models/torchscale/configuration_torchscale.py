"""Configurations of the TorchScale backends: the original study's exact RetNet and Transformer.

Field names are shared with the native `RetNetConfig` / `TransformerConfig`; the TorchScale-only fields
default to what TorchScale (and therefore the original study) used. This file is copied next to exported
checkpoints (trust_remote_code), so it imports only transformers."""

from transformers import PreTrainedConfig

TORCHSCALE_RETENTION_MODES = ("parallel", "chunkwise")
TORCHSCALE_ACTIVATIONS = ("gelu", "swish", "relu")
TORCHSCALE_POSITIONAL = ("none", "learned")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


class TorchScaleDecoderConfig(PreTrainedConfig):
    """Fields both TorchScale decoders share (a base class only: it has no model type of its own)."""

    attribute_map = {"num_attention_heads": "num_heads"}

    vocab_size: int = 32000
    """Number of token ids."""
    hidden_size: int = 256
    """Model (embedding) dimension; TorchScale's `decoder_embed_dim`."""
    num_hidden_layers: int = 4
    """Number of blocks; TorchScale's `decoder_layers`."""
    num_heads: int = 4
    """Retention or attention heads; TorchScale's `decoder_retention_heads` / `decoder_attention_heads`."""
    intermediate_size: int = 1024
    """Feed-forward hidden size; TorchScale's `decoder_ffn_embed_dim`."""
    max_position_embeddings: int = 2048
    """Longest context the model is meant for."""
    norm_eps: float = 1e-5
    """Epsilon of the norms; TorchScale's `layernorm_eps`."""
    dropout: float = 0.0
    """Dropout on the embedding and each residual branch."""
    activation_dropout: float = 0.0
    """Dropout inside the feed-forward network."""
    activation_fn: str = "gelu"
    """Feed-forward activation: `gelu` (TorchScale's default, kept by the original study), `swish` or `relu`."""
    scale_embedding: bool = False
    """Multiply embeddings by sqrt(hidden_size) (TorchScale's default `no_scale_embedding=True` does not)."""
    tie_word_embeddings: bool = False
    """Share the input embedding and the output projection."""
    use_cache: bool = False
    """TorchScale backends keep no cache: generation recomputes the whole prefix each token."""
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        check_choice("activation_fn", self.activation_fn, TORCHSCALE_ACTIVATIONS)
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})"
            )


class TorchScaleRetNetConfig(TorchScaleDecoderConfig):
    """TorchScale's `RetNetDecoder` with a token embedding and an output projection (no bias)."""

    model_type = "retlab-torchscale-retnet"

    intermediate_size: int = 512
    """GLU feed-forward hidden size; TorchScale's `decoder_ffn_embed_dim`."""
    value_dim: int | None = None
    """Value dimension of retention (default 2 x hidden_size); TorchScale's `decoder_value_embed_dim`."""
    norm_eps: float = 1e-6
    """Epsilon of every RMS norm, the per-head group norm included; TorchScale's `layernorm_eps`."""
    decay: str = "torchscale"
    """Per-head decay; TorchScale has only its own, 1 - 2^(-5-h) (shared with the native config for sweeps)."""
    retention_mode: str = "parallel"
    """TorchScale's form: `parallel` (its default) or `chunkwise` (`chunkwise_recurrent=True`)."""
    chunk_size: int = 64
    """Chunk length of the chunkwise form; TorchScale's `recurrent_chunk_size`."""

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.value_dim is None:
            self.value_dim = 2 * self.hidden_size
        check_choice("retention_mode", self.retention_mode, TORCHSCALE_RETENTION_MODES)
        check_choice("decay", self.decay, ("torchscale",))
        if self.value_dim % self.num_heads:
            raise ValueError(
                f"value_dim ({self.value_dim}) must be divisible by num_heads ({self.num_heads})"
            )
        if (self.hidden_size // self.num_heads) % 2:
            raise ValueError(
                f"the rotation needs an even key head dim, got {self.hidden_size // self.num_heads}"
            )


class TorchScaleTransformerConfig(TorchScaleDecoderConfig):
    """TorchScale's `Decoder`: the "Magneto" Transformer (sub-LayerNorm), biases, plain two-matrix MLP.

    The original study gave it no positional encoding at all; `positional="learned"` adds TorchScale's
    learned absolute positions (fairseq-style, offset by 2)."""

    model_type = "retlab-torchscale-transformer"

    attention_dropout: float = 0.0
    """Dropout on attention probabilities."""
    subln: bool = True
    """Sub-LayerNorm inside attention and MLP (TorchScale's default, Magneto); False = plain pre-norm."""
    positional: str = "none"
    """`none` (the original study: no positional encoding) or `learned` (a hard limit at max_position_embeddings)."""

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        check_choice("positional", self.positional, TORCHSCALE_POSITIONAL)
