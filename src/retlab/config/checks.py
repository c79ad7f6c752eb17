"""What the sections' `problems()` methods share. A problem is a (field, problem, fix) tuple; the loader
reports every one of them at once, in one line."""

import re
from typing import Any

Problem = tuple[str, str, str]

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


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
