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

from ..lazy import lazy_getattr

# public name -> the module that defines it
_HOMES = {
    name: f"{__name__}.{module}"
    for module, names in {
        "specs": ("ARCHS", "SPECS", "ArchSpec"),
        "factory": ("DataShape", "build_config", "build_model", "contender_configs"),
        "native": ("RetNetConfig", "RetNetForCausalLM", "TransformerConfig", "TransformerForCausalLM"),
        "sizing": ("count_parameters", "match_parameters"),
        "export": ("export_hf",),
    }.items()
    for name in names
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_getattr(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
