"""What both native models are made of besides their sequence mixer: RMSNorm, the gated feed-forward, the
causal-LM head with its loss, and the cache argument's two names.

This file is copied next to exported checkpoints with the modeling files that import it (trust_remote_code follows
relative imports of sibling files), so it imports only torch and transformers."""

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import CausalLMOutputWithPast

ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu}


class RMSNorm(nn.Module):
    """RMSNorm with a learned gain, normalised in float32 (TorchScale's formula)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class GatedMLP(nn.Module):
    """GLU feed-forward, no biases: down(act(gate(x)) * up(x)); `silu` makes it SwiGLU."""

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str = "silu"):
        super().__init__()
        self.act = ACTIVATIONS[activation]
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


def pop_cache_alias(cache, kwargs: dict):
    """`past_key_values` is the deprecated name of `cache` in transformers 5.x; accept either, not both."""
    legacy = kwargs.pop("past_key_values", None)
    if legacy is not None and cache is not None:
        raise ValueError("pass the cache as `cache` or `past_key_values`, not both")
    return cache if legacy is None else legacy


class CausalLMHead:
    """The language-model head over `self.model` (embedding, blocks, final norm): `lm_head`, optionally tied to
    the embedding. `labels` follow Hugging Face: equal to the inputs, shifted inside; the loss is transformers'
    causal-LM loss (float32, labels == -100 ignored). The embedding accessors are PreTrainedModel's defaults.
    A mixin listed first among a causal-LM class's bases (so that its `_tied_weights_keys` is not shadowed by
    PreTrainedModel's), with GenerationMixin also named there (transformers looks for it to allow `generate`)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def lm_output(self, out, labels, logits_to_keep: int, return_dict: bool | None):
        """Logits (B, T, V) of the base model's output `out`, the loss against `labels`, and the cache."""
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size)
        result = CausalLMOutputWithPast(loss=loss, logits=logits, cache=out.cache)
        return result if return_dict is not False else result.to_tuple()
