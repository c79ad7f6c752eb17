"""Fair sizing: count parameters in closed form and size a model's feed-forward to match another's count.

Dispatch is on `config.model_type`, not the class, so configs loaded from exported checkpoints (whose classes
come from trust_remote_code modules) are counted the same way."""

import copy
import math

import torch
from transformers import PreTrainedConfig

TOLERANCE = 0.01  # match_parameters: |target - reference| / reference


def count_parameters(config: PreTrainedConfig) -> int:
    """Number of distinct parameters of the causal LM that `config` describes (tied embeddings counted once).

    Closed form for the native RetNet and Transformer++; other models (TorchScale backends) are instantiated on
    the `meta` device, which allocates nothing."""
    per_layer = LAYER_COUNTERS.get(config.model_type)
    if per_layer is None:
        return count_on_meta(config)
    V, d = config.vocab_size, config.hidden_size
    embeddings = V * d if config.tie_word_embeddings else 2 * V * d
    return embeddings + config.num_hidden_layers * per_layer(config) + d  # + final norm


def retnet_layer(config) -> int:
    """input_norm, q, k (d x d), v, g (d x dv), o (dv x d), group norm (no affine), post_norm, GLU (3 d ffn)."""
    d, dv = config.hidden_size, config.value_dim or 2 * config.hidden_size
    return d + 2 * d * d + 3 * d * dv + d + 3 * d * config.intermediate_size


def transformer_layer(config) -> int:
    """input_norm, q, k, v, o (d x d), post_norm, SwiGLU (3 d ffn)."""
    d = config.hidden_size
    return 2 * d + 4 * d * d + 3 * d * config.intermediate_size


LAYER_COUNTERS = {"retlab-retnet": retnet_layer, "retlab-transformer": transformer_layer}


def count_on_meta(config: PreTrainedConfig) -> int:
    from .factory import causal_lm_class  # the factory imports this module

    with torch.device("meta"):
        model = causal_lm_class(config)(config)
    return sum(p.numel() for p in model.parameters())  # parameters() yields a shared tensor once


def match_parameters(reference_config: PreTrainedConfig, target_config: PreTrainedConfig) -> PreTrainedConfig:
    """A copy of `target_config` whose `intermediate_size` brings its count within 1% of the reference's.

    The count is affine in intermediate_size, so the size is solved for, then rounded to a multiple of 16 (or 8)
    when that still lands within 1%. Raises ValueError when no positive size can match."""
    reference = count_parameters(reference_config)
    # Two probe sizes give the affine law (probing 0 would build empty layers, which some backends reject).
    at_16, at_32 = (count_parameters(with_ffn(target_config, s)) for s in (16, 32))
    slope = (at_32 - at_16) // 16
    base = at_16 - 16 * slope
    exact = (reference - base) / slope
    if exact < 1:
        raise ValueError(
            f"cannot match {reference:,} parameters ({reference_config.model_type}): "
            f"{target_config.model_type} already has {base + slope:,} with intermediate_size=1; "
            "make it smaller (hidden_size, num_hidden_layers) or the reference larger"
        )
    for size in candidate_sizes(exact):
        if abs(base + slope * size - reference) <= TOLERANCE * reference:
            return with_ffn(target_config, size)
    raise ValueError(
        f"cannot match {reference:,} parameters ({reference_config.model_type}) within {TOLERANCE:.0%}: "
        f"each unit of {target_config.model_type} intermediate_size adds {slope:,} parameters; "
        "use a larger reference or a smaller target hidden_size / num_hidden_layers"
    )


def candidate_sizes(exact: float) -> list[int]:
    """Nearest multiples of 16, then of 8, then the nearest integer(s) — all positive."""
    sizes = []
    for multiple in (16, 8, 1):
        low = math.floor(exact / multiple) * multiple
        near = sorted((low, low + multiple), key=lambda s: abs(s - exact))
        sizes += [s for s in near if s >= 1]
    return sizes


def with_ffn(config: PreTrainedConfig, intermediate_size: int) -> PreTrainedConfig:
    new = copy.deepcopy(config)
    new.intermediate_size = int(intermediate_size)
    return new
