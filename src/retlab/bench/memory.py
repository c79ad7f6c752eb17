"""Memory, in two separately named kinds:

* what a decoder keeps between tokens (its state): the bytes of the KV cache or recurrent state, counted exactly from
  its tensors (`cache_bytes`) and from a formula (`analytic_cache_bytes`), which must agree;
* what a piece of work needs while it runs: the peak tensor memory of one prefill or one decode step above what was
  held before it (`peak_tensor_bytes`), measured at PyTorch's allocator, the same way on CPU and GPU."""

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from ..models.specs import spec_for

MIB = 2**20


# ---------------------------------------------------------------------------------------------------- cache size


def cache_bytes(cache) -> int:
    """Bytes of every distinct floating-point tensor reachable from `cache` (a DynamicCache, a StaticCache, a
    recurrent-state object, or nested lists/tuples/dicts of tensors): the cached keys, values or states; integer
    bookkeeping such as a StaticCache's length counter is not cache content."""
    seen_objects: set[int] = set()
    seen_tensors: set[tuple[int, int]] = set()
    total = 0
    for t in _tensors(cache, seen_objects):
        if not t.is_floating_point():
            continue
        key = (t.data_ptr(), t.numel())
        if key not in seen_tensors:
            seen_tensors.add(key)
            total += t.numel() * t.element_size()
    return total


def cache_dtype(cache) -> torch.dtype | None:
    """The dtype of the cache's first floating-point tensor (None for an empty cache)."""
    return next((t.dtype for t in _tensors(cache, set()) if t.is_floating_point()), None)


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


def analytic_cache_bytes(config, context: int, batch_size: int, bytes_per_value: int) -> int | None:
    """The cache size the architecture needs in theory after `context` tokens (None where the formulas do not
    describe its cache: an `hf:` type's is only measured)."""
    spec = spec_for(config)
    if not spec.cache_formula:
        return None
    if spec.mixer == "retention":
        return retention_state_bytes(config, batch_size, bytes_per_value)
    return kv_cache_bytes(config, context, batch_size, bytes_per_value)


# ---------------------------------------------------------------------------------------------------- peak memory


def peak_tensor_bytes(
    device: torch.device, fn: Callable[[], object], before: Callable[[], object] | None = None
) -> tuple[int | None, object]:
    """(peak, fn's result): the most bytes of tensor memory held at once while `fn()` ran, above what was held
    when it started; frees count, so a decode step that replaces its cache by a grown copy shows old and new only
    for as long as both exist. None where it cannot be measured.

    CUDA: the caching allocator's peak counter. CPU: the profiler's allocation and free events, in order, summed
    (the bytes PyTorch's allocator hands out, unlike the process's RSS, which the C library's caching and other
    threads blur). The CPU profiler does not see the free of a tensor allocated before it started, so `before`
    (e.g. one more of the same step) runs first inside the recording: what it allocates and `fn` frees counts."""
    if device.type == "cuda":
        if before:
            before()
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start, result
    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr():  # the profiler's C++ side announces every start and stop on stderr
        prof.start()
    try:
        if before:
            with _quiet_stderr():  # and warns when it sees the free of a tensor older than itself
                before()
        with record_function(_MEASURED):
            result = fn()
    finally:
        with _quiet_stderr():
            prof.stop()
    return _peak_of_memory_events(prof), result


_MEASURED = "retlab.bench.measured"


def _peak_of_memory_events(prof) -> int | None:
    """The highest running sum of CPU allocations (+) and frees (-) inside the measured span, above the sum at
    its start."""
    try:
        events = sorted(prof.profiler.kineto_results.events(), key=lambda e: e.start_ns())
    except AttributeError:  # a torch whose profiler keeps its raw events elsewhere
        return None
    span = next((e for e in events if e.name() == _MEASURED), None)
    if span is None:
        return None
    live = base = peak = 0
    for e in events:
        if e.name() != "[memory]" or e.device_type() != torch.autograd.DeviceType.CPU:
            continue
        if e.start_ns() > span.end_ns():
            break
        live += e.nbytes()
        if e.start_ns() >= span.start_ns():
            peak = max(peak, live - base)
        else:
            base = live
    return peak


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def memory_budget_bytes(device: torch.device, limit_gib: float | None) -> int:
    """Largest estimated footprint a point may have before it is skipped."""
    if limit_gib is not None:  # checked positive with the config (BenchConfig.problems)
        return int(limit_gib * 2**30)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(0.9 * free)
    return meminfo_kib("MemAvailable") * 1024 // 2


def meminfo_kib(key: str) -> int:
    text = Path("/proc/meminfo").read_text()
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 8 * 2**20
