"""Memory: the bytes a cache holds (measured from its tensors and from a formula) and peak memory per point.

Peak memory on CPU is the process's resident set (RSS). Each point resets the kernel's high-water mark
(`/proc/self/clear_refs`) and reports the peak above the RSS it started from, so points do not see each other's
peaks. glibc would keep freed buffers resident and hide later allocations from the delta; a fixed mmap threshold
makes large buffers go back to the kernel when freed. On CUDA the allocator's own peak counter is used."""

import ctypes
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ..models.specs import spec_for

MIB = 2**20
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (glibc malloc.h)


# ---------------------------------------------------------------------------------------------------- cache size


def cache_bytes(cache) -> int:
    """Bytes of every distinct tensor reachable from `cache` (a DynamicCache, a recurrent-state object, or
    nested lists/tuples/dicts of tensors)."""
    seen_objects: set[int] = set()
    seen_tensors: set[tuple[int, int]] = set()
    total = 0
    for t in _tensors(cache, seen_objects):
        key = (t.data_ptr(), t.numel())
        if key not in seen_tensors:
            seen_tensors.add(key)
            total += t.numel() * t.element_size()
    return total


def cache_dtype(cache) -> torch.dtype | None:
    """The dtype of the cache's first tensor (None for an empty cache)."""
    return next((t.dtype for t in _tensors(cache, set())), None)


def _tensors(obj, seen: set[int], depth: int = 0) -> Iterator[torch.Tensor]:
    if obj is None or id(obj) in seen or depth > 8 or isinstance(obj, (str, bytes, int, float, bool)):
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, torch.nn.Module):
        return  # a model reachable from a cache is not part of the cache
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v, seen, depth + 1)
    elif isinstance(obj, (list, tuple, set)):
        for v in obj:
            yield from _tensors(v, seen, depth + 1)
    elif hasattr(obj, "__dict__"):
        for v in vars(obj).values():
            yield from _tensors(v, seen, depth + 1)


def kv_cache_bytes(config, context: int, batch_size: int, bytes_per_value: int) -> int:
    """A Transformer's KV cache: keys and values of every layer, 2 * L * T * d values per sequence."""
    return 2 * config.num_hidden_layers * context * config.hidden_size * bytes_per_value * batch_size


def retention_state_bytes(config, batch_size: int, bytes_per_value: int) -> int:
    """RetNet's recurrent state: one d_k x d_v matrix per head and layer, L * H * d_k * d_v values per
    sequence, whatever the context length."""
    heads = config.num_heads
    d_k = config.hidden_size // heads
    d_v = (getattr(config, "value_dim", None) or 2 * config.hidden_size) // heads
    return config.num_hidden_layers * heads * d_k * d_v * bytes_per_value * batch_size


def analytic_cache_bytes(config, context: int, batch_size: int, bytes_per_value: int) -> int:
    """The cache size the architecture needs in theory after `context` tokens."""
    if spec_for(config).mixer == "retention":
        return retention_state_bytes(config, batch_size, bytes_per_value)
    return kv_cache_bytes(config, context, batch_size, bytes_per_value)


# ---------------------------------------------------------------------------------------------------- peak memory


def rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def _status_kib(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _return_freed_memory() -> None:
    gc.collect(1)  # young generations: cheap, and what a finished point leaves behind
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 * 1024)  # fixed threshold: big buffers are unmapped on free
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the delta may then under-count reused memory
        pass


class PeakMemory:
    """Peak memory of a code block in bytes above the memory in use when it started, overall
    (`peak_delta_bytes`, `peak_bytes` in total) and per phase: `phase()` closes one phase (its peak goes to
    `phase_delta_bytes`) and restarts the peak counter, keeping the same starting point."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes = 0
        self.peak_delta_bytes = 0
        self.phase_delta_bytes: list[int] = []
        self.exact = True  # False where the CPU peak could not be reset (the delta is then an upper bound)
        self._start = 0

    @contextmanager
    def measure(self) -> Iterator["PeakMemory"]:
        _return_freed_memory()
        self._reset()
        self._start = torch.cuda.memory_allocated(self.device) if self._cuda else rss_bytes()
        self.phase_delta_bytes = []
        yield self
        self.phase()
        self.peak_delta_bytes = max(self.phase_delta_bytes)
        self.peak_bytes = self._start + self.peak_delta_bytes

    def phase(self) -> None:
        self.phase_delta_bytes.append(max(0, self._peak() - self._start))
        self._reset()

    @property
    def _cuda(self) -> bool:
        return self.device.type == "cuda"

    def _reset(self) -> None:
        if self._cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.exact = _reset_rss_peak() and self.exact

    def _peak(self) -> int:
        if self._cuda:
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device)
        return _status_kib("VmHWM") * 1024


def memory_budget_bytes(device: torch.device, limit_gib: float | None) -> int:
    """Largest estimated footprint a point may have before it is skipped."""
    if limit_gib is not None:  # checked positive with the config (BenchConfig.problems)
        return int(limit_gib * 2**30)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(0.9 * free)
    return _meminfo_kib("MemAvailable") * 1024 // 2


def _meminfo_kib(key: str) -> int:
    text = Path("/proc/meminfo").read_text()
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 8 * 2**20
