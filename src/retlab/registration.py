"""When retlab's models are registered with the transformers Auto classes: as soon as transformers is imported.

Registering needs the model classes, hence torch and transformers (seconds to import). `import retlab` must not pay
for that (the command line imports retlab for `--help`), yet `import retlab` followed by any use of transformers'
Auto classes must find retlab's model types. So `import retlab` registers at once when transformers is already
imported, and otherwise leaves a one-shot import hook that registers right after transformers' own `__init__`
ran. Importing a model package (`retlab.models.native`, ...) registers its own types as well."""

import importlib.abc
import importlib.util
import sys

# The packages whose import registers their model types (each calls the Auto classes' `register`).
MODEL_PACKAGES = ("retlab.models.native", "retlab.models.torchscale")


def register() -> None:
    """Register every retlab model type."""
    for package in MODEL_PACKAGES:
        importlib.import_module(package)


class _RegisterAfter(importlib.abc.Loader):
    """Wraps transformers' loader: runs it, then registers retlab's models."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        register()


class _TransformersHook(importlib.abc.MetaPathFinder):
    """Finds `transformers` as the other finders would, with its loader wrapped by `_RegisterAfter`."""

    def find_spec(self, name, path=None, target=None):
        if name != "transformers":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps find_spec below from finding this hook again
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfter(spec.loader)
        return spec


def register_when_transformers_loads() -> None:
    """Register now if transformers is imported, else right after it is (idempotent)."""
    if "transformers" in sys.modules:
        register()
    elif not any(isinstance(f, _TransformersHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _TransformersHook())
