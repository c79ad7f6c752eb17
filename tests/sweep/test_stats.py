import math

import pytest

from retlab.sweep.stats import evaluate_models, summarize, t_quantile


def test_t_quantiles_match_tables():
    # two-sided 95% critical values of Student's t (any statistics table)
    for df, t in [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)]:
        assert t_quantile(df) == pytest.approx(t, abs=1e-4)


def test_summary_of_known_numbers():
    s = summarize([1.0, 2.0, 3.0])  # mean 2, sample std 1, stderr 1/sqrt(3)
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert s.stderr == pytest.approx(1 / math.sqrt(3))
    assert s.ci95 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # 2.4841
    one = summarize([3.5])
    assert one.mean == 3.5 and math.isnan(one.ci95) and math.isnan(one.stderr)


def test_evaluate_models_pairs_seeds():
    # differences per seed: 0.1, 0.2, 0.3 -> mean 0.2, sd 0.1, CI half-width 4.3027 * 0.1 / sqrt(3) = 0.2484
    c = evaluate_models("retnet", "transformer", {0: 3.1, 1: 3.2, 2: 3.3}, {0: 3.0, 1: 3.0, 2: 3.0})
    assert c.loss_diff == pytest.approx(0.2)
    assert c.rel_diff == pytest.approx(0.2 / 3.0)
    assert c.diff_ci95 == pytest.approx(0.248414, abs=1e-5)
    assert c.significant is False and c.better == "transformer"
    tight = evaluate_models("a", "b", [2.0, 2.1, 2.2], [2.5, 2.62, 2.69])
    assert tight.significant is True and tight.better == "a" and tight.loss_diff < 0


def test_evaluate_models_single_values_and_missing_seeds():
    c = evaluate_models("a", "b", 2.0, 2.5)  # as the original study: one loss each
    assert c.loss_diff == -0.5 and c.significant is None and math.isnan(c.diff_ci95)
    # seed 2 failed for b: it counts in a's mean but not in the pairing
    c = evaluate_models("a", "b", {0: 1.0, 1: 2.0, 2: 9.0}, {0: 1.5, 1: 2.5})
    assert c.loss_diff == pytest.approx(4.0 - 2.0)
    assert c.diff_ci95 == pytest.approx(0.0) and c.significant is True
