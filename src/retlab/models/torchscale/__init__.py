"""TorchScale backends (`backend: torchscale`): the original study's exact RetNet and Transformer as HF causal LMs,
and conversion of TorchScale RetNet weights into retlab's native `RetNetForCausalLM`.

Importing this package registers model types `retlab-torchscale-retnet` / `retlab-torchscale-transformer` with the
Auto classes without importing torchscale; building a model imports it (ImportError names the install command)."""

from transformers import AutoConfig, AutoModelForCausalLM

from .configuration_torchscale import TorchScaleRetNetConfig, TorchScaleTransformerConfig
from .convert import convert_torchscale_retnet, native_config_from_torchscale
from .modeling_torchscale import (
    TorchScaleRetNetForCausalLM,
    TorchScaleTransformerForCausalLM,
    import_torchscale,
)

for _config, _model in (
    (TorchScaleRetNetConfig, TorchScaleRetNetForCausalLM),
    (TorchScaleTransformerConfig, TorchScaleTransformerForCausalLM),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForCausalLM.register(_config, _model, exist_ok=True)
    _config.register_for_auto_class()
    _model.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "TorchScaleRetNetConfig",
    "TorchScaleRetNetForCausalLM",
    "TorchScaleTransformerConfig",
    "TorchScaleTransformerForCausalLM",
    "convert_torchscale_retnet",
    "native_config_from_torchscale",
    "import_torchscale",
]
