"""Fair sizing: count parameters (in closed form where the spec gives one) and size a model's width to match
another's count.

Dispatch is on `config.model_type` (through the architecture's spec), not the class, so configs loaded from
exported checkpoints (whose classes come from trust_remote_code modules) are counted the same way."""

import copy
import math
from collections.abc import Callable

import torch
from transformers import PreTrainedConfig

from .specs import spec_for

TOLERANCE = 0.01  # match_parameters: |target - reference| / reference


def count_parameters(config: PreTrainedConfig, embeddings: bool = True) -> int:
    """Number of distinct parameters of the causal LM that `config` describes (tied embeddings counted once);
    without the vocabulary matrices (`embedding_parameters`) when `embeddings` is False.

    Closed form where the architecture's spec has a per-layer count (the native models); other models (the
    TorchScale backends, `hf:` types) are instantiated on the `meta` device, which allocates nothing."""
    per_layer = spec_for(config).layer_parameters
    if per_layer is None:
        total = count_on_meta(config)
    else:
        layers = config.num_hidden_layers * per_layer(config) + config.hidden_size  # + final norm
        total = embedding_parameters(config) + layers
    return total if embeddings else total - embedding_parameters(config)


def embedding_parameters(config: PreTrainedConfig) -> int:
    """The vocabulary matrices: the input embedding, and the output projection unless it is tied to it."""
    V, d = config.vocab_size, config.hidden_size
    return V * d if config.tie_word_embeddings else 2 * V * d


def count_on_meta(config: PreTrainedConfig) -> int:
    model_class = spec_for(config).classes()[1]
    with torch.device("meta"):
        model = model_class(config)
    return sum(p.numel() for p in model.parameters())  # parameters() yields a shared tensor once


def match_parameters(
    reference_config: PreTrainedConfig, target_config: PreTrainedConfig, field: str | None = None
) -> PreTrainedConfig:
    """A copy of `target_config` whose width `field` (default: its spec's `width_field`, intermediate_size for
    every retlab architecture) brings its count within 1% of the reference's.

    The count is solved for as an affine function of the width (two probes), then rounded to a multiple of 16
    (or 8) when that still lands within 1%; every candidate is checked on its real count, and where the count is
    not affine in the width a bisection on the real counts takes over. Raises ValueError when no positive width
    can match."""
    field = field or spec_for(target_config).width_field
    reference = count_parameters(reference_config)
    target = target_config.model_type

    def count(width: int) -> int:
        return count_parameters(with_width(target_config, field, width))

    def fits(width: int) -> bool:
        return abs(count(width) - reference) <= TOLERANCE * reference

    # Two probe widths give the affine law (probing 0 would build empty layers, which some backends reject).
    at_16, at_32 = count(16), count(32)
    slope = (at_32 - at_16) / 16
    if slope <= 0:
        raise ValueError(f"{target} {field} does not change its parameter count; choose another width field")
    if at_16 - 15 * slope > reference:  # the count at width 1
        raise ValueError(
            f"cannot match {reference:,} parameters ({reference_config.model_type}): "
            f"{target} already has {round(at_16 - 15 * slope):,} with {field}=1; "
            "make it smaller (hidden_size, num_hidden_layers) or the reference larger"
        )
    exact = 16 + (reference - at_16) / slope
    size = next((s for s in candidate_sizes(exact) if fits(s)), None) or bisect_width(count, reference, exact)
    if size is not None and fits(size):
        return with_width(target_config, field, size)
    raise ValueError(
        f"cannot match {reference:,} parameters ({reference_config.model_type}) within {TOLERANCE:.0%}: "
        f"each unit of {target} {field} adds about {round(slope):,} parameters; "
        "use a larger reference or a smaller target hidden_size / num_hidden_layers"
    )


def bisect_width(count, reference: int, guess: float) -> int | None:
    """The positive width whose count (increasing in it) is nearest `reference`, for counts that are not
    affine in the width; None when even a huge width stays below it."""
    high = max(2, math.ceil(guess))
    while count(high) < reference:
        if high > 2**24:
            return None
        high *= 2
    low = 1  # count(low) may already exceed: then 1 is the nearest
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < reference else (low, middle)
    return min((low, high), key=lambda w: abs(count(w) - reference))


def shape_for_parameters(
    target: float, count_at: Callable[[int, int], int], aspect_ratio: float, multiple: int
) -> tuple[int, int]:
    """(width, depth) of a model with about `target` parameters, `count_at(width, depth)` counting them; widths
    are multiples of `multiple` (a head's width). The aspect-ratio rule:

    1. the depth is the L at which the aspect-ratio shape, width = aspect_ratio x L (to the nearest multiple),
       comes closest to the target (in ratio: |log(count / target)|);
    2. the width is then the multiple that comes closest to the target at that depth.

    Counts grow with width and depth, so both searches walk downhill from a start and stop."""

    def gap(width: int, depth: int) -> float:
        return abs(math.log(count_at(width, depth) / target))

    def aspect_width(depth: int) -> int:
        return max(multiple, round(aspect_ratio * depth / multiple) * multiple)

    depth = _walk(1, lambda L: gap(aspect_width(L), L))
    width = multiple * _walk(aspect_width(depth) // multiple, lambda k: gap(k * multiple, depth))
    return width, depth


def _walk(start: int, cost: Callable[[int], float]) -> int:
    """The positive integer nearest `start` where the unimodal `cost` is least, found by stepping downhill."""
    best = start
    for step in (1, -1):
        while best + step >= 1 and cost(best + step) < cost(best):
            best += step
    return best


def candidate_sizes(exact: float) -> list[int]:
    """Nearest multiples of 16, then of 8, then the nearest integer(s) — all positive."""
    sizes = []
    for multiple in (16, 8, 1):
        low = math.floor(exact / multiple) * multiple
        near = sorted((low, low + multiple), key=lambda s: abs(s - exact))
        sizes += [s for s in near if s >= 1]
    return sizes


def with_width(config: PreTrainedConfig, field: str, width: int) -> PreTrainedConfig:
    new = copy.deepcopy(config)
    setattr(new, field, int(width))
    return new
