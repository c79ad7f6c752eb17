"""Transformer++ as a Hugging Face causal LM: RoPE, RMSNorm pre-norm, SwiGLU, no biases, SDPA, KV cache.

Two KV caches decode it with the same outputs: transformers' `DynamicCache` (the default: concatenates each new
key/value onto the cache, so every step copies the whole cache) and `StaticCache` (pre-allocated, written in place:
`generate(..., cache_implementation="static")` or `model(ids, cache=StaticCache(config, max_cache_len=N))`).

Reads top-down: rotary, masks, attention, block, model, causal LM head (norm, MLP and head are in `layers.py`).
This file is copied next to exported checkpoints (trust_remote_code), so it imports only torch, transformers
and its sibling files (relatively)."""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast

from .configuration_transformer import TransformerConfig
from .layers import CausalLMHead, DecoderStack, GatedMLP, RMSNorm, pop_cache_alias

# ---------------------------------------------------------------------------------------------------- rotary


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype):
    """cos/sin of the rotary angles, (B, 1, T, head_dim). Angles are computed in float32 whatever the model dtype.

    Recomputed each call (no buffer) so that meta-device init and from_pretrained never leave it uninitialised."""
    inv_freq = 1.0 / theta ** (
        torch.arange(0, head_dim, 2, device=position_ids.device, dtype=torch.float32) / head_dim
    )
    angles = position_ids.float()[..., None] * inv_freq  # (B, T, head_dim / 2)
    angles = torch.cat((angles, angles), dim=-1)[:, None]  # (B, 1, T, head_dim), half-rotation layout
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


# ---------------------------------------------------------------------------------------------------- masks


def position_ids_from_mask(
    attention_mask: torch.Tensor | None, past_len: int, seq_len: int, device
) -> torch.Tensor:
    """(B|1, T) positions of the new tokens. With left padding the first real token gets position 0."""
    if attention_mask is None:
        return torch.arange(past_len, past_len + seq_len, device=device)[None]
    positions = attention_mask.long().cumsum(-1) - 1  # (B, past + T)
    return positions.clamp(min=0)[:, -seq_len:]


def attention_bias(attention_mask: torch.Tensor, past_len: int, seq_len: int) -> torch.Tensor:
    """Boolean (B, 1, T, past + T) mask, True = may attend: causal and not a padding key.

    Padding queries would see no key at all (and SDPA would return NaN), so every query may see its own key;
    real queries always see themselves anyway, so this changes nothing for them."""
    total = past_len + seq_len
    q_pos = torch.arange(past_len, total, device=attention_mask.device)[:, None]  # (T, 1)
    k_pos = torch.arange(total, device=attention_mask.device)[None]  # (1, S)
    causal = k_pos <= q_pos  # (T, S)
    allowed = causal[None] & attention_mask.bool()[:, None, :]  # (B, T, S)
    allowed = allowed | (k_pos == q_pos)[None]
    return allowed[:, None]  # (B, 1, T, S)


def full_attention_mask(
    attention_mask: torch.Tensor | None, past_len: int, seq_len: int
) -> torch.Tensor | None:
    """The (B, past + T) key mask. A mask covering only the new tokens means the cached ones were all real."""
    if attention_mask is None:
        return None
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be 2-D (batch, length), got shape {tuple(attention_mask.shape)}"
        )
    length = attention_mask.shape[-1]
    if length == past_len + seq_len:
        return attention_mask
    if length == seq_len:
        ones = attention_mask.new_ones(attention_mask.shape[0], past_len)
        return torch.cat((ones, attention_mask), dim=-1)
    raise ValueError(
        f"attention_mask has length {length}; expected {past_len + seq_len} (cached + new tokens) or {seq_len}"
    )


# ---------------------------------------------------------------------------------------------------- layers


class TransformerAttention(nn.Module):
    """Multi-head causal self-attention through `scaled_dot_product_attention`."""

    def __init__(self, config: TransformerConfig, layer_idx: int):
        super().__init__()
        d = config.hidden_size
        self.layer_idx = layer_idx
        self.num_heads = config.num_heads
        self.head_dim = d // config.num_heads
        self.dropout = config.dropout
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(
        self, x, rotary=None, mask=None, cache: Cache | None = None, past_len: int = 0
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = (
            p(x).view(B, T, self.num_heads, self.head_dim).transpose(1, 2) for p in self.qkv
        )  # (B, H, T, dh)
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if cache is not None:
            # (B, H, past + T, dh); a pre-allocated cache returns all its slots, (B, H, capacity, dh): attend to
            # the filled ones only (a view, no copy)
            k, v = cache.update(k, v, self.layer_idx)
            k, v = k[:, :, : past_len + T], v[:, :, : past_len + T]
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            # is_causal aligns the triangle top-left, which is only right without cached keys.
            is_causal=mask is None and past_len == 0 and T > 1,
        )  # (B, H, T, dh)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, -1))

    @property
    def qkv(self):
        return self.q_proj, self.k_proj, self.v_proj


class TransformerBlock(GradientCheckpointingLayer):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: TransformerConfig, layer_idx: int):
        super().__init__()
        self.input_norm = RMSNorm(config.hidden_size, config.norm_eps)
        self.attn = TransformerAttention(config, layer_idx)
        self.post_norm = RMSNorm(config.hidden_size, config.norm_eps)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, rotary=None, mask=None, cache: Cache | None = None, past_len: int = 0):
        x = x + self.drop(
            self.attn(self.input_norm(x), rotary=rotary, mask=mask, cache=cache, past_len=past_len)
        )
        return x + self.drop(self.mlp(self.post_norm(x)))


# ---------------------------------------------------------------------------------------------------- models


class TransformerPreTrainedModel(PreTrainedModel):
    config_class = TransformerConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["TransformerBlock"]
    _supports_sdpa = True


class TransformerModel(DecoderStack, TransformerPreTrainedModel):
    """Embedding, blocks and final norm; returns hidden states and the KV cache."""

    block_class = TransformerBlock

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        cache = pop_cache_alias(cache, kwargs)
        x = self.embed(input_ids, inputs_embeds)  # (B, T, d)
        B, T, _ = x.shape
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        past_len = int(cache.get_seq_length()) if cache is not None else 0  # a StaticCache counts in a tensor

        key_mask = full_attention_mask(attention_mask, past_len, T)  # (B, past + T) or None
        if position_ids is None:
            position_ids = position_ids_from_mask(key_mask, past_len, T, x.device)
        mask = None
        if key_mask is not None and not bool(key_mask.all()):
            mask = attention_bias(key_mask, past_len, T)
        elif past_len > 0 and T > 1:
            mask = attention_bias(torch.ones(B, past_len + T, dtype=torch.bool, device=x.device), past_len, T)

        rotary = None
        if self.config.positional == "rope":
            rotary = rotary_cos_sin(position_ids, self.config.head_dim, self.config.rope_theta, x.dtype)
        x = self.drop(x)
        for layer in self.layers:
            x = layer(x, rotary=rotary, mask=mask, cache=cache, past_len=past_len)
        return BaseModelOutputWithPast(last_hidden_state=self.norm(x), cache=cache)


class TransformerForCausalLM(CausalLMHead, TransformerPreTrainedModel, GenerationMixin):
    """Transformer++ language model (the head, forward and loss are `layers.CausalLMHead`'s)."""

    base_model_class = TransformerModel

    def create_masks_for_generate(self, attention_mask=None, **kwargs):
        """`generate` turns the 2-D padding mask into a 4-D one for pre-allocated caches; this model builds its
        causal and padding mask (and the positions) from the 2-D mask itself, so it is passed on unchanged."""
        return attention_mask
