"""RetNet as a Hugging Face causal LM: multi-scale retention (parallel, chunkwise, recurrent), RMSNorm pre-norm
blocks, GLU feed-forward, no biases; the recurrent state is the generation cache.

Reads top-down: cache, retention, block, model, causal LM head (norm, MLP and head are in `layers.py`). The retention forms themselves are in
`retention.py`. This file is copied next to exported checkpoints (trust_remote_code), so it imports only torch,
transformers and its siblings (relatively)."""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast

from .configuration_retnet import RETENTION_MODES, RetNetConfig
from .layers import CausalLMHead, DecoderStack, GatedMLP, RMSNorm, pop_cache_alias
from .retention import (
    Decay,
    chunkwise_retention,
    group_norm,
    log_gammas,
    parallel_retention,
    recurrent_retention,
    rotate,
    rotation_angles,
    rotation_cos_sin,
)
from .retention_fla import fla_chunkwise_retention, fla_usable

# ---------------------------------------------------------------------------------------------------- cache


class RetentionLayerState:
    """One layer's recurrent state S, (B, H, d_k, d_v); None until the first forward with the cache."""

    is_compileable = False
    is_croppable = False
    supports_early_init = False

    def __init__(self):
        self.state: torch.Tensor | None = None

    def __repr__(self):
        return f"RetentionLayerState({None if self.state is None else tuple(self.state.shape)})"

    @property
    def batch_size(self) -> int:
        return -1 if self.state is None else self.state.shape[0]

    def get_max_length(self) -> int:
        return -1  # no sequence axis: the state has the same size after any number of tokens

    def _map(self, fn) -> None:
        if self.state is not None:
            self.state = fn(self.state)

    def reset(self) -> None:
        self._map(torch.zeros_like)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._map(lambda s: s.index_select(0, beam_idx.to(s.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._map(lambda s: s.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._map(lambda s: s[indices])

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("a recurrent state cannot be rolled back")

    def offload(self) -> None:
        pass

    def prefetch(self) -> None:
        pass


class RetNetCache(Cache):
    """RetNet's generation cache: per layer the recurrent state S (B, H, d_k, d_v), plus the number of tokens seen
    (the position offset of the next token's rotation). Its size does not grow with the context."""

    def __init__(self, num_layers: int):
        super().__init__(layers=[RetentionLayerState() for _ in range(num_layers)])
        self.seen_tokens = 0

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    def get_query_offset(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    @property
    def is_linear(self) -> list[bool]:
        return [True] * len(self.layers)

    @property
    def states(self) -> list[torch.Tensor | None]:
        return [layer.state for layer in self.layers]

    def nbytes(self) -> int:
        """Bytes held by the states: L * B * H * d_k * d_v values, whatever the context length."""
        return sum(s.numel() * s.element_size() for s in self.states if s is not None)

    def reset(self):
        super().reset()
        self.seen_tokens = 0

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("a recurrent state cannot be rolled back")


def as_retnet_cache(cache):
    """A RetNetCache or None. An empty foreign cache (e.g. a DynamicCache some tool made) means "start one"."""
    if cache is None or isinstance(cache, RetNetCache):
        return cache
    if isinstance(cache, Cache) and cache.get_seq_length() == 0:
        return None
    raise TypeError(f"RetNet continues only from a RetNetCache, got {type(cache).__name__}")


# ---------------------------------------------------------------------------------------------------- retention


class RetentionContext:
    """What every layer of one forward shares: the form, the decay terms and the rotation (built once, not per
    layer), and the key mask. Rotation terms are memoised per dtype (autocast may change it inside layers)."""

    def __init__(self, config: RetNetConfig, form: str, offset: int, length: int, key_mask, device):
        self.form = form
        self.chunk_size = config.chunk_size
        self.decay = Decay(log_gammas(config.num_heads, config.decay, device))
        self.angles = rotation_angles(config.key_head_dim, config.rope_base, device)
        self.offset, self.length = offset, length
        self.key_mask = key_mask  # (B, 1, T, 1) with 0 at padding, or None
        self._rotation: dict[torch.dtype, tuple] = {}

    def rotation(self, dtype: torch.dtype):
        if dtype not in self._rotation:
            self._rotation[dtype] = rotation_cos_sin(self.angles, self.offset, self.length, dtype)
        return self._rotation[dtype]

    def retention(self, q, k, v, state, output_final_state: bool):
        if self.form == "parallel":
            return parallel_retention(q, k, v, self.decay, state, output_final_state)
        if self.form == "chunkwise":
            if fla_usable(q):
                return fla_chunkwise_retention(q, k, v, self.decay, state, output_final_state)
            return chunkwise_retention(q, k, v, self.decay, self.chunk_size, state, output_final_state)
        return recurrent_retention(q, k, v, self.decay, state, output_final_state)


class RetNetRetention(nn.Module):
    """Multi-scale retention: o = GroupNorm_head(retention(rot(q), rot(k) / sqrt(d_k), v)), then
    o_proj(swish(g_proj(x)) * o)."""

    def __init__(self, config: RetNetConfig):
        super().__init__()
        d, dv = config.hidden_size, config.value_dim
        self.num_heads = config.num_heads
        self.key_head_dim, self.value_head_dim = config.key_head_dim, config.value_head_dim
        self.scaling = self.key_head_dim**-0.5
        self.groupnorm_eps = config.groupnorm_eps
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, dv, bias=False)
        self.g_proj = nn.Linear(d, dv, bias=False)
        self.o_proj = nn.Linear(dv, d, bias=False)

    def forward(self, x: torch.Tensor, ctx: RetentionContext, cache: RetentionLayerState | None = None):
        B, T, _ = x.shape
        H = self.num_heads
        q = self.q_proj(x).view(B, T, H, self.key_head_dim).transpose(1, 2)  # (B, H, T, d_k)
        k = (self.k_proj(x) * self.scaling).view(B, T, H, self.key_head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, H, self.value_head_dim).transpose(1, 2)  # (B, H, T, d_v)
        cos, sin = ctx.rotation(q.dtype)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if ctx.key_mask is not None:  # a padding token contributes nothing to any later position
            mask = ctx.key_mask.to(k.dtype)
            k, v = k * mask, v * mask
        state = None if cache is None else cache.state
        out, new_state = ctx.retention(q, k, v, state, output_final_state=cache is not None)
        if cache is not None:
            cache.state = new_state
        out = group_norm(out, self.groupnorm_eps).transpose(1, 2).reshape(B, T, -1)  # (B, T, value_dim)
        return self.o_proj(F.silu(self.g_proj(x)) * out)


class RetNetBlock(GradientCheckpointingLayer):
    """Pre-norm residual block: x + retention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: RetNetConfig, layer_idx: int = 0):
        super().__init__()
        self.input_norm = RMSNorm(config.hidden_size, config.norm_eps)
        self.retention = RetNetRetention(config)
        self.post_norm = RMSNorm(config.hidden_size, config.norm_eps)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, ctx: RetentionContext, cache: RetentionLayerState | None = None):
        x = x + self.drop(self.retention(self.input_norm(x), ctx, cache))
        return x + self.drop(self.mlp(self.post_norm(x)))


# ---------------------------------------------------------------------------------------------------- models


class RetNetPreTrainedModel(PreTrainedModel):
    config_class = RetNetConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["RetNetBlock"]
    _is_stateful = True  # the cache cannot be rolled back (no assisted generation)


class RetNetModel(DecoderStack, RetNetPreTrainedModel):
    """Embedding, blocks and final norm; returns hidden states and, with use_cache, the recurrent state."""

    block_class = RetNetBlock

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: RetNetCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        cache = as_retnet_cache(pop_cache_alias(cache, kwargs))
        x = self.embed(input_ids, inputs_embeds)  # (B, T, d)
        x = x * self.config.embed_scale if self.config.embed_scale != 1.0 else x
        T = x.shape[1]
        if use_cache is None:
            use_cache = cache is not None
        if use_cache and cache is None:
            cache = RetNetCache(self.config.num_hidden_layers)
        elif not use_cache:
            cache = None
        offset = cache.seen_tokens if cache is not None else 0

        ctx = RetentionContext(
            self.config, self.form(offset, T), offset, T, key_mask_of(attention_mask, T), x.device
        )
        x = self.drop(x)
        for i, layer in enumerate(self.layers):
            x = layer(x, ctx, cache=None if cache is None else cache.layers[i])
        if cache is not None:
            cache.seen_tokens += T
        return BaseModelOutputWithPast(last_hidden_state=self.norm(x), cache=cache)

    def form(self, offset: int, length: int) -> str:
        """The configured form; a single token continuing a state is always one recurrent step (O(1))."""
        mode = self.config.retention_mode
        if mode not in RETENTION_MODES:
            raise ValueError(f"retention_mode must be one of {RETENTION_MODES}, got {mode!r}")
        return "recurrent" if offset > 0 and length == 1 else mode


def key_mask_of(attention_mask: torch.Tensor | None, length: int) -> torch.Tensor | None:
    """(B, 1, T, 1) mask of the new tokens (0 = padding), or None when there is no padding.

    `generate` passes the mask of cached + new tokens; only the new tokens' part matters, the cached ones are
    already folded into the state."""
    if attention_mask is None:
        return None
    if attention_mask.dim() != 2 or attention_mask.shape[-1] < length:
        raise ValueError(
            f"attention_mask must be (batch, length >= {length}), got shape {tuple(attention_mask.shape)}"
        )
    mask = attention_mask[:, -length:]
    if bool(mask.all()):
        return None
    return mask[:, None, :, None]


class RetNetForCausalLM(CausalLMHead, RetNetPreTrainedModel, GenerationMixin):
    """RetNet language model (the head, forward and loss are `layers.CausalLMHead`'s)."""

    base_model_class = RetNetModel

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # generate must not make a KV cache; the first forward returns a RetNetCache

    def set_retention_mode(self, mode: str) -> None:
        """Switch the form of full-sequence forwards (`parallel`, `chunkwise`, `recurrent`); weights are shared."""
        if mode not in RETENTION_MODES:
            raise ValueError(f"retention_mode must be one of {RETENTION_MODES}, got {mode!r}")
        self.config.retention_mode = mode
