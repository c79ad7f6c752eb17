"""count_parameters is exact; match_parameters lands within 1% or says why it cannot."""

import pytest
import torch

from retlab.models import (
    RetNetConfig,
    RetNetForCausalLM,
    TransformerConfig,
    TransformerForCausalLM,
    count_parameters,
    match_parameters,
)

SHARED = dict(vocab_size=101, max_position_embeddings=64)


def retnet(**fields) -> RetNetConfig:
    return RetNetConfig(**{**SHARED, "hidden_size": 32, "num_hidden_layers": 2, "num_heads": 4, **fields})


def transformer(**fields) -> TransformerConfig:
    return TransformerConfig(
        **{**SHARED, "hidden_size": 32, "num_hidden_layers": 2, "num_heads": 4, **fields}
    )


def actual(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a tied tensor is yielded once


@pytest.mark.parametrize(
    "config",
    [
        transformer(intermediate_size=48),
        transformer(intermediate_size=80, tie_word_embeddings=True),
        transformer(
            hidden_size=48, num_hidden_layers=3, num_heads=6, intermediate_size=128, positional="none"
        ),
        retnet(intermediate_size=48),
        retnet(intermediate_size=64, tie_word_embeddings=True),
        retnet(hidden_size=48, num_hidden_layers=3, num_heads=3, intermediate_size=96, value_dim=48),
    ],
    ids=lambda c: f"{c.model_type}-d{c.hidden_size}-L{c.num_hidden_layers}-tied{c.tie_word_embeddings}",
)
def test_analytic_count_equals_the_instantiated_model(config):
    model_class = RetNetForCausalLM if isinstance(config, RetNetConfig) else TransformerForCausalLM
    assert count_parameters(config) == actual(model_class(config))


def test_tying_saves_exactly_one_embedding_matrix():
    untied, tied = (
        transformer(intermediate_size=48),
        transformer(intermediate_size=48, tie_word_embeddings=True),
    )
    assert count_parameters(untied) - count_parameters(tied) == 101 * 32


@pytest.mark.parametrize(
    "reference, target",
    [
        (retnet(hidden_size=64, intermediate_size=128), transformer(hidden_size=64)),
        (transformer(hidden_size=64, intermediate_size=176), retnet(hidden_size=64)),
        (
            retnet(hidden_size=64, intermediate_size=128, tie_word_embeddings=True),
            transformer(hidden_size=64),
        ),
        (retnet(hidden_size=64, num_hidden_layers=3), transformer(hidden_size=64, num_hidden_layers=4)),
    ],
)
def test_match_parameters_lands_within_one_percent(reference, target):
    matched = match_parameters(reference, target)
    ref = count_parameters(reference)
    assert abs(count_parameters(matched) - ref) <= 0.01 * ref
    assert matched.hidden_size == target.hidden_size and matched.num_hidden_layers == target.num_hidden_layers
    model_class = RetNetForCausalLM if isinstance(matched, RetNetConfig) else TransformerForCausalLM
    assert abs(actual(model_class(matched)) - ref) <= 0.01 * ref


def test_match_parameters_prefers_a_multiple_of_16_and_leaves_the_target_alone():
    # exact solution 213.3; 1% of the reference spans 9.7 units of intermediate_size, so 208 fits
    target = transformer(hidden_size=64, intermediate_size=48, vocab_size=2000)
    matched = match_parameters(retnet(hidden_size=64, intermediate_size=128, vocab_size=2000), target)
    assert matched.intermediate_size == 208
    assert target.intermediate_size == 48  # a copy was changed, not the caller's config


def test_match_parameters_explains_an_impossible_match():
    reference = retnet(hidden_size=16, num_heads=2, intermediate_size=16)
    target = transformer(hidden_size=256, num_hidden_layers=8)
    with pytest.raises(ValueError, match="cannot match"):
        match_parameters(reference, target)


def test_torchscale_configs_are_counted_on_the_meta_device_and_can_be_matched():
    pytest.importorskip("torchscale")
    from retlab.models.torchscale import TorchScaleRetNetConfig, TorchScaleRetNetForCausalLM

    config = TorchScaleRetNetConfig(
        **SHARED, hidden_size=32, num_hidden_layers=2, num_heads=4, intermediate_size=64
    )
    assert count_parameters(config) == actual(TorchScaleRetNetForCausalLM(config))
    matched = match_parameters(config, transformer(hidden_size=32))
    assert abs(count_parameters(matched) - count_parameters(config)) <= 0.01 * count_parameters(config)
