"""What the config sections share: the helpers of their `problems()` methods (a problem is a (field, problem, fix)
tuple; the loader reports every one of them at once, in one line), and the marker of their path fields."""

import dataclasses
import re
from typing import Any

Problem = tuple[str, str, str]

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def path_field(default: Any = None, *, kind: str = "input", factory: Any = None) -> Any:
    """A dataclass field that holds a path (or a list of paths); `retlab.paths` says how each `kind` is read:
    `input` (a file or folder to read: relative in a config file means relative to that file's folder), `name`
    (an input or a name such as a Hub id or `auto`), `output` (where results go: relative to the current
    directory, as Lightning's default_root_dir)."""
    meta = {"path": kind}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def require(ok: bool, field: str, problem: str, fix: str) -> list[Problem]:
    """[] when `ok`, else the one problem."""
    return [] if ok else [(field, problem, fix)]


def positive(section: Any, prefix: str, *names: str, optional: bool = False) -> list[Problem]:
    """`prefix.name` > 0 for each name (None allowed when `optional`)."""
    bad = []
    for name in names:
        value = getattr(section, name)
        if not (optional and value is None):
            bad += require(value > 0, f"{prefix}.{name}", f"must be > 0, got {value}", "use a positive value")
    return bad


def non_negative(section: Any, prefix: str, *names: str) -> list[Problem]:
    """`prefix.name` >= 0 for each name."""
    bad = []
    for name in names:
        value = getattr(section, name)
        bad += require(value >= 0, f"{prefix}.{name}", f"must be >= 0, got {value}", "use 0 or more")
    return bad


def device_problems(device: str, field: str) -> list[Problem]:
    """A device setting: auto, cpu, mps, cuda or cuda:N (`utils.device.resolve_device` turns it into one)."""
    return require(
        bool(_DEVICE.fullmatch(device)), field, f"unknown device {device!r}", "use auto, cpu, cuda or cuda:N"
    )


def arch_problems(names: list[str], field: str, allow_empty: bool = False) -> list[Problem]:
    """Every entry of `names` is an architecture (`models.specs` owns the names)."""
    from ..models.specs import ARCHS, arch_problem

    bad = require(allow_empty or bool(names), field, "is empty", f"list one or more of {', '.join(ARCHS)}")
    for name in names:
        problem = arch_problem(name)
        if problem:
            bad.append((field, *problem))
    return bad


def hf_problems(overrides: dict, width_fields: dict) -> list[Problem]:
    """`model.hf_overrides` and `model.hf_width_field`: keyed by transformers model types, naming fields of
    that type's config (`models.specs` knows the types and their fields)."""
    from ..models.specs import HF_PREFIX, arch_problem, hf_field_problem, hf_width_problem

    bad = []
    for prefix, mapping in (("model.hf_overrides", overrides), ("model.hf_width_field", width_fields)):
        for model_type, value in mapping.items():
            problem = arch_problem(HF_PREFIX + str(model_type))
            if problem:
                example = "{mamba: {state_size: 8}}" if mapping is overrides else "{mamba: intermediate_size}"
                hint = problem[1].split("?")[0] + "? " if "?" in problem[1] else ""
                problem = f"{model_type!r} is not a model type of transformers' causal LMs"
                bad.append((f"{prefix}.{model_type}", problem, f"{hint}key it by model type, e.g. {example}"))
                continue
            if prefix == "model.hf_overrides" and not isinstance(value, dict):
                bad.append(
                    (f"{prefix}.{model_type}", f"must be a mapping, got {value!r}", "e.g. {state_size: 8}")
                )
                continue
            for name in value if isinstance(value, dict) else [value]:
                problem = hf_field_problem(model_type, str(name))
                if not problem and prefix == "model.hf_width_field":
                    problem = hf_width_problem(model_type, str(name))
                if problem:
                    bad.append(
                        (f"{prefix}.{model_type}" + (f".{name}" if isinstance(value, dict) else ""), *problem)
                    )
    return bad


def seeds_problems(seeds: list[int], field: str) -> list[Problem]:
    """A non-empty list of distinct seeds."""
    return require(
        bool(seeds) and len(set(seeds)) == len(seeds),
        field,
        f"needs distinct seeds, got {seeds}",
        "e.g. [0, 1, 2]",
    )
