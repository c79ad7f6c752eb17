"""From the `model` config section to a Hugging Face config and model, for every architecture retlab trains."""

import importlib
from typing import get_args

import torch
from transformers import PreTrainedConfig, PreTrainedModel

from ..config.model import Arch, ModelConfig
from ..errors import ConfigError

ARCHS: tuple[str, ...] = get_args(Arch)

# arch -> (module under retlab.models, config class, causal LM class). Imported on demand: the TorchScale
# backends must not import torchscale unless asked for.
CLASSES = {
    "retnet": ("retnet", "RetNetConfig", "RetNetForCausalLM"),
    "transformer": ("transformer", "TransformerConfig", "TransformerForCausalLM"),
    "torchscale-retnet": ("torchscale", "TorchScaleRetNetConfig", "TorchScaleRetNetForCausalLM"),
    "torchscale-transformer": (
        "torchscale",
        "TorchScaleTransformerConfig",
        "TorchScaleTransformerForCausalLM",
    ),
}
MODEL_TYPES = {f"retlab-{arch}": arch for arch in ARCHS}
GLU_ARCHS = ("retnet", "transformer", "torchscale-retnet")  # TorchScale's Decoder has a plain two-matrix FFN
# `model` fields beyond the shared ones that each arch takes; the rest do not apply to it and are ignored.
SPECIFIC_FIELDS = {
    "retnet": ("value_dim", "decay", "retention_mode", "chunk_size"),
    "transformer": ("positional",),
    "torchscale-retnet": ("value_dim", "retention_mode", "chunk_size"),  # TorchScale's decay is fixed
    "torchscale-transformer": (),  # no rotary in TorchScale's Decoder: position-free, as in the original study
}


def build_config(
    model_cfg: ModelConfig,
    arch: str,
    vocab_size: int,
    max_position_embeddings: int,
    pad_token_id: int | None = None,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
) -> PreTrainedConfig:
    """The Hugging Face config of `arch` from the `model` section and the data's vocabulary and context."""
    config_class, _ = load_classes(arch)
    fields = dict(
        vocab_size=vocab_size,
        hidden_size=model_cfg.hidden_size,
        num_hidden_layers=model_cfg.num_hidden_layers,
        num_heads=model_cfg.num_heads,
        intermediate_size=model_cfg.intermediate_size
        or default_intermediate_size(arch, model_cfg.hidden_size),
        max_position_embeddings=max_position_embeddings,
        norm_eps=model_cfg.norm_eps,
        dropout=model_cfg.dropout,
        tie_word_embeddings=model_cfg.tie_word_embeddings,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
    )
    for name in SPECIFIC_FIELDS[arch]:
        if getattr(model_cfg, name) is not None:
            fields[name] = getattr(model_cfg, name)
    try:
        return config_class(**fields)
    except ValueError as err:  # the config's own validation, e.g. heads not dividing hidden_size
        raise ConfigError("model", str(err), "fix the model section") from err


def default_intermediate_size(arch: str, hidden_size: int) -> int:
    """About 8/3 x hidden for gated (GLU) feed-forwards, 4 x hidden for plain ones; a multiple of 16."""
    if arch not in GLU_ARCHS:
        return 4 * hidden_size
    return max(16, round(8 * hidden_size / 3 / 16) * 16)


def build_model(config: PreTrainedConfig, seed: int | None = None) -> PreTrainedModel:
    """Instantiate the causal LM for `config`; with `seed`, the initial weights depend on nothing else."""
    model_class = causal_lm_class(config)
    if seed is None:
        return model_class(config)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
        torch.manual_seed(seed)
        return model_class(config)


def causal_lm_class(config: PreTrainedConfig) -> type[PreTrainedModel]:
    arch = MODEL_TYPES.get(config.model_type)
    if arch is None:
        raise ValueError(f"not a retlab model config: model_type {config.model_type!r}")
    return load_classes(arch)[1]


def load_classes(arch: str) -> tuple[type[PreTrainedConfig], type[PreTrainedModel]]:
    """(config class, causal LM class) of `arch`, importing its module on first use."""
    if arch not in CLASSES:
        raise ConfigError("model.arch", f"unknown architecture {arch!r}", f"use one of: {', '.join(ARCHS)}")
    module_name, config_name, model_name = CLASSES[arch]
    module = importlib.import_module(f"{__package__}.{module_name}")
    return getattr(module, config_name), getattr(module, model_name)
