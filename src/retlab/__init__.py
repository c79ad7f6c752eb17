"""retlab: train, evaluate and compare Retentive Networks and Transformers as language models.

Importing retlab registers its models with the transformers Auto classes, without importing torch or transformers
itself: at once when transformers is already imported, else the moment it is (see `registration`). So
`import retlab; AutoModelForCausalLM.from_pretrained(export)` works, and `retlab --help` stays instant.
Subpackages (`retlab.models`, `retlab.config`, ...) load on first use."""

import importlib

from .registration import register_when_transformers_loads

__version__ = "0.1.0"

register_when_transformers_loads()


def __getattr__(name: str):
    """`retlab.models` and the other subpackages, imported on first attribute access."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
