"""What both native models are made of besides their sequence mixer: RMSNorm, the gated feed-forward, the stack
of embedding, blocks and final norm, the causal-LM head with its loss, and the cache argument's two names.

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


class DecoderStack:
    """Embedding, blocks and final norm of a native base model: `block_class(config, layer_idx)` per layer. A
    mixin listed first among the base model's bases; its `forward` starts with `embed`."""

    block_class: type

    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(self.block_class(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.norm_eps)
        self.drop = nn.Dropout(config.dropout)
        self.post_init()

    def embed(self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None) -> torch.Tensor:
        """(B, T, d) input vectors: the embedding of `input_ids`, or `inputs_embeds` as given."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        return self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds


def pop_cache_alias(cache, kwargs: dict):
    """`past_key_values` is the deprecated name of `cache` in transformers 5.x; accept either, not both."""
    legacy = kwargs.pop("past_key_values", None)
    if legacy is not None and cache is not None:
        raise ValueError("pass the cache as `cache` or `past_key_values`, not both")
    return cache if legacy is None else legacy


class CausalLMHead:
    """The language-model head over a base model (embedding, blocks, final norm): `lm_head`, optionally tied to
    the embedding. `labels` follow Hugging Face: equal to the inputs, shifted inside; the loss is transformers'
    causal-LM loss (float32, labels == -100 ignored). The embedding accessors are PreTrainedModel's defaults.

    A mixin listed first among a causal-LM class's bases (so that its `_tied_weights_keys` is not shadowed by
    PreTrainedModel's), with GenerationMixin also named there (transformers looks for it to allow `generate`);
    the class sets `base_model_class`."""

    base_model_class: type
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.model = self.base_model_class(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """Logits (B, T, V), the loss against `labels` and the cache. `position_ids` go to base models that take
        them (the Transformer's; RetNet's positions come from its cache); `past_key_values` is `cache`'s old name."""
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=pop_cache_alias(cache, kwargs),
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size)
        result = CausalLMOutputWithPast(loss=loss, logits=logits, cache=out.cache)
        return result if return_dict is not False else result.to_tuple()
