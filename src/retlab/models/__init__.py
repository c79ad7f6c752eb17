"""Model layer: RetNet and Transformer++ as Hugging Face causal LMs, one spec per architecture, fair sizing,
the factory of matched configs and models, and self-contained HF export.

    specs.py      what each architecture is (classes, fields, FFN kind, cache, forms, how it is counted)
    factory.py    model section + data shape -> one matched config per architecture; models; loading exports
    sizing.py     parameter counts and matching
    native/       RetNet and Transformer++ (and the layers they share), exported with their code
    torchscale/   the original study's TorchScale models as HF causal LMs, and weight conversion

Every model is registered with the transformers Auto classes (the native `retlab-retnet` and
`retlab-transformer`, and the TorchScale backends `retlab-torchscale-retnet` / `retlab-torchscale-transformer`;
torchscale itself is imported when such a model is built) as soon as transformers is imported
(`retlab.registration`). The names below load on first use, so `retlab.models.specs` costs no torch (the config
sections read it to check architecture names).
"""

import importlib

# public name -> the submodule that defines it
_HOMES = {
    "ARCHS": "specs",
    "SPECS": "specs",
    "ArchSpec": "specs",
    "DataShape": "factory",
    "RetNetConfig": "native",
    "RetNetForCausalLM": "native",
    "TransformerConfig": "native",
    "TransformerForCausalLM": "native",
    "build_config": "factory",
    "build_model": "factory",
    "contender_configs": "factory",
    "count_parameters": "sizing",
    "export_hf": "export",
    "match_parameters": "sizing",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
