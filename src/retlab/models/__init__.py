"""Model layer: RetNet and Transformer++ as Hugging Face causal LMs, fair sizing, the config/model factory
and self-contained HF export.

Importing it registers the native models with the transformers Auto classes (model types `retlab-retnet`,
`retlab-transformer`). The TorchScale backends (`retlab.models.torchscale`) are imported only on demand, so
importing retlab never imports torchscale."""

from .export import export_hf
from .factory import ARCHS, build_config, build_model
from .retnet import RetNetConfig, RetNetForCausalLM
from .sizing import count_parameters, match_parameters
from .transformer import TransformerConfig, TransformerForCausalLM

__all__ = [
    "ARCHS",
    "RetNetConfig",
    "RetNetForCausalLM",
    "TransformerConfig",
    "TransformerForCausalLM",
    "build_config",
    "build_model",
    "count_parameters",
    "export_hf",
    "match_parameters",
]
