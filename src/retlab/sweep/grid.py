"""The sweep grid: dotted config fields -> values, expanded to grid points with readable folder names.

The grid's keys are checked with the config (`SweepConfig.grid_problems`); its values are typed by the loader, as
every config value is, both here (one value at a time, so that an error names the key) and when each trial's
config is built from the base config plus its point."""

import itertools
import operator
from typing import Any

from ..config import SweepConfig
from ..config.loader import load_config
from ..errors import ConfigError


def validate_grid(grid: dict[str, Any]) -> dict[str, list[Any]]:
    """The grid with every value typed as its field ('1e-3' -> 0.001 for a float field); ConfigError naming
    `sweep.grid.<key>` and the fix for a bad key, an empty or repeated value list, or a value of the wrong type."""
    problems = SweepConfig(grid=grid).grid_problems()
    if problems:
        raise ConfigError(*problems[0])
    typed = {key: [typed_value(key, v) for v in values] for key, values in grid.items()}
    for key, values in typed.items():
        if len({repr(v) for v in values}) != len(values):
            raise ConfigError(f"sweep.grid.{key}", f"has repeated values {grid[key]}", "list each value once")
    return typed


def typed_value(key: str, value: Any) -> Any:
    """`value` as the loader types the field `key`."""
    try:
        return operator.attrgetter(key)(load_config(overrides={key: value}, check=False))
    except ConfigError as e:
        raise ConfigError(f"sweep.grid.{key}", e.problem, "fix the value in the grid") from None


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


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "-".join(_fmt(x) for x in v)
    return str(v).replace("/", "-").replace(" ", "")
