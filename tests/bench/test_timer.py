"""The one timer: spreads from known samples, contenders interleaved in rotating order, warm-up untimed,
ratios per round."""

import pytest

from retlab.bench.timer import per_round_ratios, summarize, time_rounds


def test_summary_of_known_samples():
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert s == {"median": 3.0, "q1": 2.0, "q3": 4.0, "iqr": 2.0, "min": 1.0, "max": 5.0, "n": 5}
    assert summarize([1.0, 2.0])["q1"] == 1.25  # linear interpolation, as numpy's percentile
    one = summarize([7.0])
    assert one["median"] == one["q1"] == one["q3"] == 7.0 and one["iqr"] == 0 and one["n"] == 1
    with pytest.raises(ValueError):
        summarize([])


def test_rounds_interleave_the_contenders_in_rotating_order_after_untimed_warmup():
    calls, freed = [], []
    contenders = {name: (lambda n=name: calls.append(n)) for name in "abc"}
    times = time_rounds(contenders, rounds=3, warmup=1, before=freed.append)
    assert calls == list("abcbcacababc")  # the warm-up round, then each round starts one further on
    assert freed == calls  # before() runs ahead of every call
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}  # warm-up not recorded
    assert all(t >= 0 for v in times.values() for t in v)
    with pytest.raises(ValueError):
        time_rounds(contenders, rounds=0)


def test_ratios_are_taken_within_each_round():
    slow, fast = [2.0, 4.0, 9.0], [1.0, 4.0, 3.0]
    assert per_round_ratios(slow, fast) == [2.0, 1.0, 3.0]
    # the median of per-round ratios, not the ratio of medians (4 / 3): what a round shares cancels within it
    assert summarize(per_round_ratios(slow, fast))["median"] == 2.0
    with pytest.raises(ValueError):
        per_round_ratios([1.0], [1.0, 2.0])
