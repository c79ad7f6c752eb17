"""The machine a benchmark ran on: kept in its results, and part of the fingerprint that decides whether a cached
result still stands (other hardware, thread count or library versions re-measure; the load at the time does not,
it is recorded beside the figures instead)."""

import os
import platform
import re
from pathlib import Path

import torch


def machine_description(device: torch.device) -> dict:
    """What the figures depend on: processor, cores and threads, memory, GPU, and the library versions."""
    import transformers

    from .memory import meminfo_kib
    from .models import device_name

    return {
        "device": device_name(device),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(meminfo_kib("MemTotal") / 2**20, 1),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "os": f"{platform.system()} {platform.machine()}",
    }


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), or None where the OS does not say."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
