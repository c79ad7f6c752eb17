"""retlab.data: download -> tokenizer -> tokenize and pack -> DataModule, and the built-in MQAR task.

Exports are imported lazily so that light users (the CLI's --help, the config loader) do not pay for torch."""

from importlib import import_module

_EXPORTS = {
    "DataInfo": "retlab.data.info",
    "prepare": "retlab.data.stages",
    "RetlabDataModule": "retlab.data.datamodule",
    "load_tokenizer": "retlab.data.tokenizer",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'retlab.data' has no attribute {name!r}")
