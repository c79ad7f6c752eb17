"""Model layer: RetNet and Transformer++ as Hugging Face causal LMs, one spec per architecture, fair sizing,
the factory of matched configs and models, and self-contained HF export.

    specs.py      what each architecture is (classes, fields, FFN kind, cache, forms, how it is counted)
    factory.py    model section + data shape -> one matched config per architecture; models; loading exports
    sizing.py     parameter counts and matching
    native/       RetNet and Transformer++ (and the layers they share), exported with their code
    torchscale/   the original study's TorchScale models as HF causal LMs, and weight conversion

Importing it registers every model with the transformers Auto classes: the native `retlab-retnet` and
`retlab-transformer`, and the TorchScale backends `retlab-torchscale-retnet` / `retlab-torchscale-transformer`
(registration needs only their configs and wrappers; torchscale itself is imported when such a model is built).
"""

from . import torchscale  # noqa: F401  (registration; never imports the torchscale library)
from .export import export_hf
from .factory import DataShape, build_config, build_model, contender_configs
from .native import RetNetConfig, RetNetForCausalLM, TransformerConfig, TransformerForCausalLM
from .sizing import count_parameters, match_parameters
from .specs import ARCHS, SPECS, ArchSpec

__all__ = [
    "ARCHS",
    "SPECS",
    "ArchSpec",
    "DataShape",
    "RetNetConfig",
    "RetNetForCausalLM",
    "TransformerConfig",
    "TransformerForCausalLM",
    "build_config",
    "build_model",
    "contender_configs",
    "count_parameters",
    "export_hf",
    "match_parameters",
]
