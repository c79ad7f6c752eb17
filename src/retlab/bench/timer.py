"""The one timer of retlab's benchmarks: repeated rounds with the contenders interleaved within each round, every
timing kept as a distribution (median, IQR, min) and ratios taken per round before they are summarised.

Why: on a shared machine load comes and goes. Timing contender A for a while and then contender B lets a burst of
load fall on one of them only. Running one call of each contender per round, in an order that rotates from round to
round, makes the load fall on all of them alike; a ratio taken within a round cancels what that round had in common,
and its spread over the rounds says how far the ratio can be trusted."""

import statistics
import time
from collections.abc import Callable, Mapping, Sequence


def summarize(samples: Sequence[float]) -> dict:
    """{"median", "q1", "q3", "iqr", "min", "max", "n"} of `samples`; quartiles interpolate linearly between order
    statistics (numpy's default), so one sample gives q1 == median == q3."""
    values = sorted(samples)
    if not values:
        raise ValueError("no samples to summarize")
    if len(values) == 1:
        q1 = q3 = values[0]
    else:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {
        "median": statistics.median(values),
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "min": values[0],
        "max": values[-1],
        "n": len(values),
    }


def time_call(fn: Callable[[], object], sync: Callable[[], None] | None = None) -> float:
    """Seconds of `fn()`; `sync` (e.g. torch.cuda.synchronize) runs on both sides of the clock so that queued
    device work is counted where it belongs."""
    if sync:
        sync()
    start = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - start


def time_rounds(
    contenders: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int = 0,
    sync: Callable[[], None] | None = None,
    before: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds of every timed call, per contender: `warmup` untimed rounds, then `rounds` timed ones. Each round
    calls every contender once, starting one further along each round (A B C, B C A, C A B, ...) so that no one
    always runs first or right after the same neighbour. `before(name)` runs outside the clock before each call
    (e.g. to free the previous call's result)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if before:
                before(name)
            seconds = time_call(contenders[name], sync)
            if r >= warmup:
                times[name].append(seconds)
    return times


def per_round_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """numerator[i] / denominator[i] for every round i (both timed in the same rounds)."""
    if len(numerator) != len(denominator):
        raise ValueError("ratios need timings of the same rounds")
    return [a / b for a, b in zip(numerator, denominator, strict=True)]
