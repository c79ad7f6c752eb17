"""The scaling-law fit on synthetic losses with known E, A, alpha: recovery, robustness, interval coverage,
crossovers and warnings (numpy only, no training)."""

import numpy as np
import pytest

from retlab.scaling.analysis import analyse
from retlab.scaling.fit import (
    ALPHA_BOUNDS,
    HUBER_K,
    Data,
    Law,
    bootstrap_fits,
    crossings,
    curves,
    draw_samples,
    fit_law,
    interval,
    law_warnings,
    noise_scale,
)

TRUE = Law(E=1.8, A=400.0, alpha=0.32)


def noisy(law: Law, sizes, seeds: int, rel_noise: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """One loss per (size, seed): the law times log-normal noise of `rel_noise` (about the seeds' spread)."""
    x = np.repeat(np.asarray(sizes, dtype=float), seeds)
    return x, law(x) * np.exp(rng.normal(0.0, rel_noise, x.shape))


def data_of(x, y) -> Data:
    return Data([f"{v:g}" for v in x], list(range(len(x))), np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("draw", range(5))
def test_fit_recovers_a_known_law(draw):
    """8 sizes over 3 decades x 3 seeds at 0.5% noise: the estimator's spread over 60 draws is 0.028 (E),
    3% (A) and 0.003 (alpha); the tolerances are about 4 of those."""
    x, y = noisy(TRUE, np.geomspace(1e5, 1e8, 8), 3, 0.005, np.random.default_rng(draw))
    fit = fit_law(x, y)
    assert fit.E == pytest.approx(TRUE.E, abs=0.12)
    assert fit.A == pytest.approx(TRUE.A, rel=0.15)
    assert fit.alpha == pytest.approx(TRUE.alpha, abs=0.015)


def test_a_diverged_trial_does_not_drag_the_robust_fit():
    rng = np.random.default_rng(3)
    x, y = noisy(TRUE, np.geomspace(1e5, 1e8, 8), 3, 0.005, rng)
    y[-1] *= 1.4  # one seed of the largest size diverged
    robust = fit_law(x, y)
    plain = fit_law(x, y, scale=1e6)  # Huber with a huge scale is plain least squares
    assert robust.alpha == pytest.approx(TRUE.alpha, abs=0.015)
    assert abs(plain.alpha - TRUE.alpha) > 3 * abs(robust.alpha - TRUE.alpha)


def test_noise_scale_is_the_seeds_spread():
    x, y = noisy(TRUE, np.geomspace(1e5, 1e8, 8), 4, 0.01, np.random.default_rng(0))
    assert noise_scale(x, y) == pytest.approx(0.01, rel=0.3)
    one_seed = noise_scale(*noisy(TRUE, np.geomspace(1e5, 1e8, 12), 1, 0.01, np.random.default_rng(1)))
    assert 0.003 < one_seed < 0.03  # from the residuals of a plain fit


def test_intervals_cover_the_truth_at_about_the_nominal_rate():
    """Repeated studies of 5 sizes x 2 seeds (the shipped small config's design) at 1% noise: how often the
    95% intervals of E, alpha and the loss at 10x the largest size contain the truth, and how wide they are
    against the spread of the point estimates over the studies (an exact 95% interval of a normal estimate is
    3.9 of its standard deviations wide).

    Measured with more draws (scripts in the issue-14 report): coverage 0.99 over 150 studies x 100 samples at
    5 sizes x 2 seeds, 0.98-0.99 at 8 sizes x 2 seeds: conservative, because resampling sizes also varies the
    design (residual bootstraps covered only 0.78-0.89 here: 2 degrees of freedom cannot estimate the noise).
    Kept fast with 30 studies of 50 samples; fails intervals that are too narrow (coverage below 0.8, which 30
    draws of a true 0.95 reach with probability 0.1%), degenerate, or inflated beyond that (over 10 sd wide)."""
    rng = np.random.default_rng(11)
    law = Law(2.0, 60.0, 0.3)
    sizes = np.geomspace(1e5, 3e6, 5)
    target = np.array([3e7])
    truth = np.array([law.E, law.alpha, law(target)[0]])
    hits, widths, estimates = [], [], []
    for _ in range(30):
        x, y = noisy(law, sizes, 2, 0.01, rng)
        scale = HUBER_K * noise_scale(x, y)
        fit = fit_law(x, y, scale=scale)
        d = data_of(x, y)  # sizes group the seeds
        thetas = bootstrap_fits(d, fit, scale, [s["a"] for s in draw_samples({"a": d}, 50, rng)])
        thetas = thetas[np.all(np.isfinite(thetas), axis=1)]
        lo, hi = interval(np.column_stack([thetas[:, 0], thetas[:, 2], curves(thetas, target)[:, 0]]))
        hits.append((lo <= truth) & (truth <= hi))
        widths.append(hi - lo)
        estimates.append([fit.E, fit.alpha, fit(target)[0]])
    coverage = np.mean(hits, axis=0)
    width_in_sd = np.median(widths, axis=0) / np.std(estimates, axis=0)
    assert np.all(coverage >= 0.8), coverage
    assert np.all((2.5 < width_in_sd) & (width_in_sd < 10)), width_in_sd


def test_bootstrap_samples_are_paired_and_keep_three_sizes():
    x = np.repeat([1e5, 1e6, 1e7, 1e8], 2)
    d = data_of(x, TRUE(x))
    rng = np.random.default_rng(0)
    samples = draw_samples({"a": d, "b": d}, 200, rng)
    for s in samples:
        assert len({d.size[i] for i in s["a"]}) >= 3
        assert np.array_equal(s["a"], s["b"])  # same trials for architectures with the same trials
    assert len({tuple(s["a"]) for s in samples}) > 100  # and they do vary


def test_crossings_found_where_curves_cross_and_not_elsewhere():
    grid = np.geomspace(1e5, 1e10, 400)
    steep, flat = Law(1.5, 400.0, 0.32), Law(2.0, 30.0, 0.25)
    cross = crossings(steep(grid) - flat(grid), grid)
    assert len(cross) == 1
    assert steep(cross[0]) == pytest.approx(flat(cross[0]), rel=1e-3)
    assert crossings(steep(grid) - (steep(grid) + 0.1), grid) == []  # parallel: never


def _study(laws: dict[str, Law], sizes, seeds=2, noise=0.003, rng_seed=0) -> list[dict]:
    rng = np.random.default_rng(rng_seed)
    rows = []
    for arch, law in laws.items():
        for i, n in enumerate(sizes):
            for seed in range(seeds):
                loss = float(law(n) * np.exp(rng.normal(0, noise)))
                rows.append(
                    {
                        "arch": arch,
                        "size": i + 1,
                        "seed": seed,
                        "fit_parameters": n,
                        "train_flops": 6 * n * 1e6,
                    }
                    | {"test_loss": loss}
                )
    return rows


def test_analysis_finds_the_crossover_and_the_winner_at_the_target():
    """A steeper law with a lower floor (a) starts above a flatter one (b) and crosses it near 4e6."""
    a, b = Law(1.5, 400.0, 0.32), Law(2.0, 30.0, 0.25)
    grid = np.geomspace(1e5, 1e9, 4000)
    true_cross = crossings(a(grid) - b(grid), grid)[0]
    sizes = np.geomspace(1e5, 3e6, 6)
    targets = [{"parameters": 1e9, "flops": 6e15}]
    fit = analyse(_study({"a": a, "b": b}, sizes), ["a", "b"], targets, n_boot=200, seed=0)
    c = fit["crossovers"]["parameters"]["a-b"]
    assert len(c["crossings"]) == 1 and c["crossings"][0] == pytest.approx(true_cross, rel=0.5)
    assert c["ci95"][0] <= true_cross <= c["ci95"][1]
    assert c["lower_below"] == "b" and c["lower_above"] == "a"
    assert "cross at" in c["statement"]
    at = fit["targets"][0]["predictions"]["parameters"]
    assert at["lower"] == "a" and at["p_lower"] > 0.8  # 0.9 at 333x the largest size, 0.3% noise
    for arch, law in (("a", a), ("b", b)):
        lo, hi = at["loss_ci95"][arch]
        assert lo <= law(1e9) <= hi
        assert at["loss"][arch] == pytest.approx(law(1e9), rel=0.05)


def test_analysis_says_plainly_when_curves_do_not_cross():
    a, b = Law(1.6, 300.0, 0.3), Law(1.8, 300.0, 0.3)  # b is a above by 0.2 everywhere
    sizes = np.geomspace(1e5, 3e6, 5)
    fit = analyse(_study({"a": a, "b": b}, sizes), ["a", "b"], [{"parameters": 1e8, "flops": 6e14}], 200, 0)
    c = fit["crossovers"]["parameters"]["a-b"]
    assert c["crossings"] == [] and c["statement"].startswith("no crossover in range")
    assert "a is predicted lower throughout" in c["statement"]
    assert c["p_cross"] < 0.2
    assert fit["targets"][0]["predictions"]["parameters"]["p_lower"] > 0.95


def test_warnings_when_the_data_cannot_support_the_fit():
    x = np.array([1e5, 1e6, 1e7])
    few = law_warnings(data_of(x, TRUE(x)), fit_law(x, TRUE(x)))
    assert any("only 3 sizes" in w for w in few)
    x = np.geomspace(1e5, 1e8, 5)
    y = np.array([3.0, 2.9, 2.95, 2.8, 2.85])  # rises twice
    warn = law_warnings(data_of(x, y), fit_law(x, y))
    assert any("does not fall with size" in w for w in warn)
    flat = Law(2.0, 0.05, ALPHA_BOUNDS[0])
    assert any("sits at its bound" in w for w in law_warnings(data_of(x, flat(x) + 0.01), flat))
    x, y = noisy(TRUE, np.geomspace(1e5, 1e8, 6), 2, 0.003, np.random.default_rng(0))
    assert law_warnings(data_of(x, y), fit_law(x, y)) == []


def test_an_architecture_with_fewer_than_three_sizes_is_not_fitted():
    rows = _study({"a": TRUE, "b": TRUE}, np.geomspace(1e5, 1e7, 4))
    rows = [r for r in rows if not (r["arch"] == "b" and r["size"] > 2)]  # b finished only 2 sizes
    fit = analyse(rows, ["a", "b"], [{"parameters": 1e8, "flops": 1e15}], 100, 0)
    assert fit["fitted"] == ["a"]
    assert any("b: fewer than 3 sizes" in w for w in fit["warnings"])
    assert fit["crossovers"]["parameters"] == {}


def test_goodness_of_fit_against_the_seed_noise():
    from retlab.scaling.fit import goodness

    rng = np.random.default_rng(5)
    x, y = noisy(TRUE, np.geomspace(1e5, 1e8, 8), 3, 0.005, rng)
    g = goodness(data_of(x, y), fit_law(x, y), HUBER_K * noise_scale(x, y))
    assert 0.2 < g["chi2_per_dof"] < 3 and g["r2"] > 0.99  # the true law fits within the noise
    assert abs(g["holdout_largest"]["error"]) < 0.04  # the largest size from the 7 others: within 2%
    bent = y * np.where(x > 1e7, 1.05, 1.0)  # the 3 largest sizes 5% off the law: far beyond 0.5% noise
    g = goodness(data_of(x, bent), fit_law(x, bent), HUBER_K * noise_scale(x, bent))
    assert g["chi2_per_dof"] > 10 and abs(g["holdout_largest"]["error"]) > 0.04
    one = x[::3], y[::3]  # one seed per size: no noise to compare with
    assert goodness(data_of(*one), fit_law(*one), HUBER_K * noise_scale(*one))["chi2_per_dof"] is None
