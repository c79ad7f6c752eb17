"""Decoding through a model's own cache, one token at a time: the one place that knows how each architecture
takes its cache and returns it (its spec's `cache_argument`: `cache` for retlab's models and transformers'
DynamicCache, RWKV's `state`), and how a model whose cache cannot decode step by step (spec `cache: none`)
produces the next token instead (a forward over everything so far).

    decoder = Decoder(model)
    logits = decoder.prefill(ids)          # (B, V): the last position's logits; the cache now holds `ids`
    logits = decoder.step(next_ids)        # (B, V) after one more token (B, 1)
    decoder.cache                          # what decoding keeps (None without a step-by-step cache)

A prefill that is timed on its own (bench infer) runs `decoder.forward(ids, last_only=True)` and hands its
output to one or more decoders with `adopt`.
"""

import torch

from .specs import spec_for


def output_cache(out, argument: str = "cache"):
    """The cache of a model output: the spec's field (`cache` in transformers >= 5.2x, `past_key_values`
    before, RWKV's `state`)."""
    cache = getattr(out, argument, None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


class Decoder:
    """The decoding state of one model: feed it the prompt, then one token per step (the caller picks them)."""

    def __init__(self, model):
        self.model = model
        spec = spec_for(model.config)
        self.argument = spec.cache_argument
        self.stepwise = spec.cache != "none"
        self.cache = None
        self.ids: torch.Tensor | None = None  # everything so far, for a model that recomputes it

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Read the prompt `ids` (B, T); the logits of its last position (B, V)."""
        self.cache = None
        out = self.forward(ids, last_only=True)
        self.adopt(out, ids)
        return out.logits[:, -1]

    def adopt(self, out, ids: torch.Tensor) -> None:
        """Continue from `out`, the output of `forward(ids)` from an empty cache."""
        self.ids = ids
        self.cache = output_cache(out, self.argument) if self.stepwise else None

    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """Read one more token per sequence, `ids` (B, 1); the logits of that position (B, V)."""
        if not self.stepwise:
            self.ids = torch.cat([self.ids, ids], dim=1)
            return self.forward(self.ids, last_only=True).logits[:, -1]
        out = self.forward(ids)
        self.cache = output_cache(out, self.argument)
        return out.logits[:, -1]

    def forward(self, ids: torch.Tensor, last_only: bool = False):
        """The model's output for `ids` after what the cache holds (nothing is kept: see `adopt`)."""
        kwargs = {self.argument: self.cache} if self.stepwise and self.cache is not None else {}
        if last_only:  # the full (B, T, V) logits would dominate memory and are not needed to decode
            kwargs["logits_to_keep"] = 1
        try:
            return self.model(ids, use_cache=self.stepwise, **kwargs)
        except TypeError:  # a model without logits_to_keep
            kwargs.pop("logits_to_keep", None)
            return self.model(ids, use_cache=self.stepwise, **kwargs)
