"""build_config maps the `model` section onto each architecture's HF config; build_model instantiates it."""

import pytest
import torch

from retlab.config.model import ModelConfig
from retlab.errors import ConfigError
from retlab.models import (
    ARCHS,
    DataShape,
    RetNetForCausalLM,
    TransformerForCausalLM,
    build_config,
    build_model,
)

DATA = DataShape(vocab_size=67, max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def small(**fields) -> ModelConfig:
    return ModelConfig(**{"hidden_size": 48, "num_hidden_layers": 2, "num_heads": 4, **fields})


def test_archs_are_the_four_documented_ones():
    assert set(ARCHS) == {"retnet", "transformer", "torchscale-retnet", "torchscale-transformer"}


@pytest.mark.parametrize("arch", ["retnet", "transformer"])
def test_shared_fields_reach_the_native_configs(arch):
    cfg = small(norm_eps=1e-5, dropout=0.1, tie_word_embeddings=True, intermediate_size=96)
    config = build_config(cfg, arch, DATA)
    assert config.model_type == f"retlab-{arch}"
    for name in ("hidden_size", "num_hidden_layers", "num_heads", "intermediate_size", "norm_eps", "dropout"):
        assert getattr(config, name) == getattr(cfg, name), name
    assert config.tie_word_embeddings is True
    assert (config.vocab_size, config.max_position_embeddings) == (67, 128)
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (0, 1, 2)


def test_architecture_specific_fields():
    retnet = build_config(
        small(value_dim=96, decay="linspace", retention_mode="parallel", chunk_size=8), "retnet", DATA
    )
    assert (retnet.value_dim, retnet.decay, retnet.retention_mode, retnet.chunk_size) == (
        96,
        "linspace",
        "parallel",
        8,
    )
    assert build_config(small(positional="none"), "transformer", DATA).positional == "none"


def test_default_intermediate_size_is_about_8_3_of_hidden_in_multiples_of_16():
    for arch in ("retnet", "transformer"):
        config = build_config(small(hidden_size=96, intermediate_size=None), arch, DATA)
        assert config.intermediate_size == 256  # 8/3 x 96 = 256


def test_build_model_picks_the_class_and_seed_fixes_the_weights():
    config = build_config(small(), "transformer", DATA)
    assert type(build_model(build_config(small(), "retnet", DATA))) is RetNetForCausalLM
    first, again, other = (
        build_model(config, seed=3),
        build_model(config, seed=3),
        build_model(config, seed=4),
    )
    assert type(first) is TransformerForCausalLM
    for (name, a), b in zip(first.named_parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(first.lm_head.weight, other.lm_head.weight)


def test_seeded_build_leaves_the_callers_rng_alone():
    config = build_config(small(), "transformer", DATA)
    torch.manual_seed(0)
    build_model(config, seed=5)
    after_build = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), after_build)


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown architecture"):
        build_config(small(), "mamba", DATA)
    with pytest.raises(ConfigError, match="divisible"):
        build_config(small(hidden_size=50, num_heads=4), "transformer", DATA)


def test_torchscale_configs_map_the_shared_fields():
    pytest.importorskip("torchscale")
    retnet = build_config(small(retention_mode="chunkwise", chunk_size=16), "torchscale-retnet", DATA)
    assert retnet.model_type == "retlab-torchscale-retnet"
    assert (retnet.hidden_size, retnet.retention_mode, retnet.chunk_size) == (48, "chunkwise", 16)
    transformer = build_config(small(positional="rope"), "torchscale-transformer", DATA)
    assert (
        transformer.positional == "none"
    )  # TorchScale's Decoder has no rotary: the original study's setting
    assert transformer.intermediate_size == 4 * 48  # plain (non-GLU) FFN
