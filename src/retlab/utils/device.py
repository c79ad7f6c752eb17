"""Where code runs: the torch device a config setting names, and whether this process is the main one."""

import os

import torch

from ..errors import ConfigError


def resolve_device(name: str, field: str = "device") -> torch.device:
    """`auto` (cuda when available, else cpu), `cpu`, `mps`, `cuda` or `cuda:N` as a torch device. The names
    themselves are checked with the config (`config.checks.device_problems`); a GPU asked for but not visible
    is a ConfigError naming `field`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(field, f"{name} requested but no GPU is visible", f"use --{field} cpu")
    return device


def use_threads(num_threads: int | None) -> None:
    """torch's intra-op threads for this process: the config's `num_threads`, which every command honours (the
    command line sets it before dispatching; training and the benchmarks set it too, for callers from Python).
    None keeps torch's default."""
    if num_threads:
        torch.set_num_threads(num_threads)


def is_main_process() -> bool:
    """Rank 0 before the Trainer exists (Lightning's launchers set these variables in the other processes)."""
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0
