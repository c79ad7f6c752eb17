"""The sweep grid: dotted config fields -> values, checked against RetlabConfig, expanded to grid points."""

import itertools
import types
import typing
from typing import Any, Literal, Union

from ..config.loader import describe_type, leaf_fields, suggest
from ..errors import ConfigError

# Fields a grid may not set: they name the run, or are set per trial by the sweep itself
# (architecture from sweep.compare, seed from sweep.seeds).
RESERVED = {"name", "output_dir", "seed", "compare", "model.arch"}


def validate_grid(grid: dict[str, Any]) -> dict[str, list[Any]]:
    """Check every key names a config field and every value has its type; return the grid with values coerced
    (ints to float fields, '1e-3' strings to floats). Raises ConfigError naming the field and the fix."""
    if not isinstance(grid, dict):
        raise ConfigError("sweep.grid", f"must be a mapping of dotted fields to lists, got {grid!r}")
    fields = leaf_fields()
    checked: dict[str, list[Any]] = {}
    for key, values in grid.items():
        where = f"sweep.grid.{key}"
        if key in RESERVED or key.startswith("sweep."):
            raise ConfigError(where, "cannot be swept", _reserved_fix(key))
        if key not in fields:
            raise ConfigError(where, "no such config field", suggest(key))
        if not isinstance(values, list) or not values:
            raise ConfigError(
                where, f"needs a non-empty list of values, got {values!r}", f"e.g. {key}: [a, b]"
            )
        coerced = [coerce(v, fields[key], where) for v in values]
        if len({repr(v) for v in coerced}) != len(coerced):
            raise ConfigError(where, f"has repeated values {values}", "list each value once")
        checked[key] = coerced
    return checked


def expand_grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The Cartesian product of the grid, in declaration order (last key varies fastest); {} gives one point."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def point_id(point: dict[str, Any]) -> str:
    """A readable, stable folder name for a grid point, e.g. `lr=0.001_hidden_size=768`."""
    if not point:
        return "default"
    short = [k.rsplit(".", 1)[-1] for k in point]
    names = [s if short.count(s) == 1 else k for s, k in zip(short, point, strict=True)]
    return "_".join(f"{n}={_fmt(v)}" for n, v in zip(names, point.values(), strict=True))


def set_dotted(obj: Any, key: str, value: Any) -> None:
    """Set `a.b.c` on a config object (`retlab.config.loader.set_dotted` is its twin for raw YAML dicts)."""
    *parents, last = key.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, last, value)


def coerce(value: Any, hint: Any, where: str) -> Any:
    """`value` as a valid value of type `hint`, or ConfigError."""
    ok, out = _coerce(value, hint)
    if not ok:
        raise ConfigError(where, f"value {value!r} is not {describe_type(hint)}", "fix the value in the grid")
    return out


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True, value
    if hint is type(None):
        return value is None, value
    if origin is Literal:
        return value in args, value
    if origin in (Union, types.UnionType):
        for arg in args:
            ok, out = _coerce(value, arg)
            if ok:
                return True, out
        return False, value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        items = [_coerce(v, args[0] if args else Any) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if origin is dict:
        return isinstance(value, dict), value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        return _to_float(value)
    if hint is str:
        return isinstance(value, str), value
    return False, value


def _to_float(value: Any) -> tuple[bool, Any]:
    # PyYAML reads `1e-3` (no dot) as a string; accept it as the number it obviously is.
    if isinstance(value, bool):
        return False, value
    if isinstance(value, int | float):
        return True, float(value)
    if isinstance(value, str):
        try:
            return True, float(value)
        except ValueError:
            return False, value
    return False, value


def _reserved_fix(key: str) -> str:
    if key == "model.arch" or key == "compare":
        return "list architectures in sweep.compare"
    if key == "seed":
        return "list seeds in sweep.seeds"
    return "set it outside the grid"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "-".join(_fmt(x) for x in v)
    return str(v).replace("/", "-").replace(" ", "")
