"""retlab.data: download -> tokenizer -> tokenize and pack -> DataModule, and the built-in MQAR task.

Exports are imported lazily so that light users (the CLI's --help, the config loader) do not pay for torch."""

from ..lazy import lazy_getattr

_EXPORTS = {
    "DataInfo": "retlab.data.info",
    "prepare": "retlab.data.stages",
    "RetlabDataModule": "retlab.data.datamodule",
    "load_tokenizer": "retlab.data.tokenizer",
}

__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
