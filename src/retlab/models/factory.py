"""From the config's `model` section and the data's shape to Hugging Face configs and models, and back from
exported checkpoints.

`contender_configs` is the one place where the contenders get their sizes: `retlab train`, `run`, `sweep`,
`bench` and the benchmark scripts all call it, so one config builds the same models everywhere."""

import dataclasses
import json
import os
from pathlib import Path

import torch
from transformers import PreTrainedConfig, PreTrainedModel

from ..errors import ConfigError, first_line
from .sizing import count_parameters, match_parameters, shape_for_parameters
from .specs import BY_MODEL_TYPE, DataShape, spec_for, spec_of


def contender_configs(model, compare: list[str], shape: DataShape, archs=None) -> dict[str, PreTrainedConfig]:
    """{arch: Hugging Face config} for every architecture of `archs` (default: `compare`), all built from the
    `model` section and the data `shape`. `compare[0]` is the reference: with `model.match_parameters`, every
    other architecture gets the width (its spec's width field: intermediate_size, or an `hf:` type's own) that
    brings its parameter count within 1% of the reference's, whether or not the reference is among `archs`."""
    reference_arch = compare[0]
    reference = build_config(model, reference_arch, shape)
    configs = {}
    for arch in archs or compare:
        config = build_config(model, arch, shape)
        if model.match_parameters and arch != reference_arch:
            field = spec_of(arch).width_field_of(model)
            try:
                config = match_parameters(reference, config, field)
            except ValueError as err:
                raise ConfigError(
                    "model.match_parameters", str(err), "or set --model.match_parameters false"
                ) from None
        configs[arch] = config
    return configs


def shaped_model(model, width: int, depth: int, head_dim: int, **fields):
    """A copy of the `model` section with that width and depth, width / head_dim heads, and the feed-forward and
    value widths that follow the width (the architecture's defaults) unless `fields` set them."""
    size = {"intermediate_size": None, "value_dim": None, "num_heads": max(1, width // head_dim)} | fields
    return dataclasses.replace(model, hidden_size=width, num_hidden_layers=depth, **size)


def model_for_parameters(
    model,
    arch: str,
    shape: DataShape,
    target: float,
    aspect_ratio: float,
    head_dim: int,
    embeddings: bool = True,
):
    """The `model` section reshaped to about `target` parameters of `arch` (without the vocabulary matrices when
    `embeddings` is False) by sizing's aspect-ratio rule (`shape_for_parameters`), widths a multiple of head_dim."""

    def count_at(width: int, depth: int) -> int:
        at = shaped_model(model, width, depth, head_dim)
        return count_parameters(build_config(at, arch, shape), embeddings)

    width, depth = shape_for_parameters(target, count_at, aspect_ratio, head_dim)
    return shaped_model(model, width, depth, head_dim)


def build_config(model, arch: str, shape: DataShape) -> PreTrainedConfig:
    """The Hugging Face config of `arch` from the `model` section and the data shape, unmatched."""
    from huggingface_hub.errors import StrictDataclassError

    spec = spec_of(arch)
    config_class, _ = spec.classes()
    try:
        return config_class(**spec.config_fields(model, shape))
    except (ValueError, TypeError, StrictDataclassError) as err:  # the config's own validation
        fix = f"fix the model section or model.hf_overrides.{spec.model_type}" if spec.is_hf else ""
        cause = err.__cause__ if isinstance(err, StrictDataclassError) and err.__cause__ else err
        raise ConfigError(f"model ({arch})", first_line(cause), fix or "fix the model section") from err


def build_model(config: PreTrainedConfig, seed: int | None = None) -> PreTrainedModel:
    """Instantiate the causal LM for `config`; with `seed`, the initial weights depend on nothing else."""
    model_class = causal_lm_class(config)
    if seed is None:
        return model_class(config)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
        torch.manual_seed(seed)
        return model_class(config)


def causal_lm_class(config: PreTrainedConfig) -> type[PreTrainedModel]:
    return spec_for(config).classes()[1]


def config_from_dict(config: PreTrainedConfig | dict) -> PreTrainedConfig:
    """A model config from itself or from its `to_dict()` (as stored in checkpoint hyperparameters)."""
    if isinstance(config, PreTrainedConfig):
        return config
    return spec_for(config).classes()[0].from_dict(config)


# ---------------------------------------------------------------------------------------------------- exports


def has_weights(export: str | os.PathLike) -> bool:
    """Whether `export` holds a Hugging Face checkpoint with weights (not only a config)."""
    export = Path(export)
    files = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
    return (export / "config.json").is_file() and any((export / f).is_file() for f in files)


def load_config(path: str | os.PathLike) -> PreTrainedConfig:
    """The config of an exported checkpoint: retlab's own config class for retlab model types."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path)  # retlab's types are registered when retlab.models is imported


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> PreTrainedModel:
    """The causal LM exported in `path`, in eval mode on `device`: retlab's own classes for retlab checkpoints
    (never their copied code), transformers' Auto classes for anything else; weights from safetensors only,
    never from a pickle (retlab.preflight.check_export checks an export before anything loads it)."""
    from transformers import AutoModelForCausalLM

    model_type = json.loads((Path(path) / "config.json").read_text(encoding="utf-8")).get("model_type")
    if model_type in BY_MODEL_TYPE:
        model = BY_MODEL_TYPE[model_type].classes()[1].from_pretrained(path, use_safetensors=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True)
    return model.to(device).eval()
