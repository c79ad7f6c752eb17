"""Lazy package attributes (PEP 562), so that importing a package costs nothing until a name is used: the command
line's `--help` and the config loader must not pay for torch."""

from importlib import import_module


def lazy_getattr(package: str, homes: dict[str, str] | None = None):
    """A module-level `__getattr__` for `package`: a name in `homes` (name -> module) comes from that module, any
    other name is tried as a submodule (`retlab.models`, ...)."""
    homes = homes or {}

    def __getattr__(name: str):
        if name in homes:
            return getattr(import_module(homes[name]), name)
        try:
            return import_module(f"{package}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{package}.{name}":
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    return __getattr__
