"""Exact state bytes of every cache kind, and the peak tensor memory of a piece of work."""

import torch
from transformers import DynamicCache

from retlab.bench.memory import MIB, cache_bytes, peak_tensor_bytes

CPU = torch.device("cpu")


def test_cache_bytes_counts_each_tensor_once_through_any_nesting():
    a, b = torch.zeros(10, dtype=torch.float32), torch.zeros(4, 4, dtype=torch.bfloat16)

    class State:
        def __init__(self):
            self.layers = [{"s": a, "again": a}, (b, None, 3)]
            self.step = 7
            self.length = torch.tensor(5)  # integer bookkeeping, not cache content

    assert cache_bytes(State()) == 10 * 4 + 16 * 2


def test_cache_bytes_of_a_dynamic_cache():
    cache = DynamicCache()
    k = torch.zeros(2, 4, 5, 8)  # (B, H, T, dh)
    for layer in range(3):
        cache.update(k.clone(), k.clone(), layer)
    assert cache_bytes(cache) == 3 * 2 * k.numel() * 4


def test_peak_follows_allocations_and_frees_in_order():
    def work():
        a = torch.ones(MIB)  # 4 MiB
        b = torch.ones(2 * MIB)  # 8 MiB: 12 MiB held here
        del a
        c = torch.ones(MIB // 4)  # 1 MiB: 9 MiB held
        return b.sum() + c.sum()

    peak, result = peak_tensor_bytes(CPU, work)
    assert peak == 12 * MIB  # the sums' small results come after `a` was freed
    assert result.item() == 2 * MIB + MIB // 4


def test_peak_is_above_what_was_held_and_counts_frees_of_tensors_made_before():
    held = [torch.ones(MIB), torch.ones(MIB)]  # 4 MiB each, held before: not part of the peak

    def grow_both():  # what a DynamicCache does with each layer's keys on every step
        for i in range(2):
            held[i] = torch.cat([held[i], torch.ones(MIB // 4)])

    # `before` runs inside the recording, so the step's frees of what it made are seen: per tensor, the 1 MiB
    # piece and the 6 MiB copy exist with the other's 1 MiB net growth: 1 + 1 + 6 MiB, not both copies at once
    peak, _ = peak_tensor_bytes(CPU, grow_both, before=grow_both)
    assert peak == 8 * MIB
    peak, _ = peak_tensor_bytes(CPU, lambda: held[0].add_(1))  # in place: nothing new
    assert peak < 1024  # (a few bytes of bookkeeping)
