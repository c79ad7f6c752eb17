"""Model layer: RetNet and Transformer++ as Hugging Face causal LMs, fair sizing, the config/model factory
and self-contained HF export.

Importing it registers every model with the transformers Auto classes: the native `retlab-retnet` and
`retlab-transformer`, and the TorchScale backends `retlab-torchscale-retnet` / `retlab-torchscale-transformer`
(registration needs only their configs and wrappers; torchscale itself is imported when such a model is built).
"""

from . import torchscale  # noqa: F401  (registration; never imports the torchscale library)
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
