"""Cache byte counting and per-block peak memory."""

import torch
from transformers import DynamicCache

from retlab.bench.memory import MIB, PeakMemory, cache_bytes


def test_cache_bytes_counts_each_tensor_once_through_any_nesting():
    a, b = torch.zeros(10, dtype=torch.float32), torch.zeros(4, 4, dtype=torch.bfloat16)

    class State:
        def __init__(self):
            self.layers = [{"s": a, "again": a}, (b, None, 3)]
            self.step = 7

    assert cache_bytes(State()) == 10 * 4 + 16 * 2


def test_cache_bytes_of_a_dynamic_cache():
    cache = DynamicCache()
    k = torch.zeros(2, 4, 5, 8)  # (B, H, T, dh)
    for layer in range(3):
        cache.update(k.clone(), k.clone(), layer)
    assert cache_bytes(cache) == 3 * 2 * k.numel() * 4


def test_peak_memory_sees_a_freed_allocation_and_resets_between_blocks():
    peak = PeakMemory(torch.device("cpu"))
    with peak.measure():
        x = torch.ones(64 * MIB // 4)  # 64 MiB, touched
        del x
    assert peak.peak_delta_bytes >= 60 * MIB
    with peak.measure():
        y = torch.ones(MIB // 4)
        del y
    assert peak.peak_delta_bytes < 16 * MIB  # the previous block's peak is not carried over


def test_phases_keep_the_start_and_restart_the_peak():
    peak = PeakMemory(torch.device("cpu"))
    with peak.measure():
        x = torch.ones(48 * MIB // 4)  # phase 1 peaks at 48 MiB, then frees it
        del x
        peak.phase()
        kept = torch.ones(8 * MIB // 4)  # phase 2 holds 8 MiB
    assert peak.phase_delta_bytes[0] >= 44 * MIB
    assert 6 * MIB <= peak.phase_delta_bytes[1] < 24 * MIB
    assert peak.peak_delta_bytes == peak.phase_delta_bytes[0]
    del kept
