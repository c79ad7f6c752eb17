"""Statistics over seeds: mean, standard error and Student-t 95% confidence intervals, and the
architecture comparison `evaluate_models` of the original study, made precise."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def t_quantile(df: int, confidence: float = 0.95) -> float:
    """Two-sided Student-t critical value, e.g. t_quantile(2) = 4.303 (df = n - 1 seeds)."""
    from scipy.stats import t  # scipy comes with lm-eval (scikit-learn); imported lazily

    return float(t.ppf(0.5 + confidence / 2, df))


@dataclass(frozen=True)
class Summary:
    """Mean of n values with its standard error and the half-width of the 95% confidence interval
    (mean +- ci95). With one value stderr and ci95 are NaN: one seed says nothing about the spread."""

    n: int
    mean: float
    std: float
    stderr: float
    ci95: float


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = sum(xs) / n
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))  # sample std (Bessel)
    stderr = std / math.sqrt(n)
    return Summary(n, mean, std, stderr, t_quantile(n - 1, confidence) * stderr)


@dataclass(frozen=True)
class Comparison:
    """How two architectures compare at one grid point (see `evaluate_models`)."""

    model1: str
    model2: str
    loss_diff: float
    """mean(model1 loss) - mean(model2 loss): the original study's score; negative = model1 is better."""
    rel_diff: float
    """loss_diff / mean(model2 loss)."""
    diff_ci95: float
    """Half-width of the 95% CI of the seed-paired differences (NaN with fewer than 2 paired seeds)."""
    significant: bool | None
    """|loss_diff| > diff_ci95, i.e. the CI of the difference excludes 0; None when the CI is undefined."""
    better: str
    """The architecture with the lower mean loss ('tie' when equal)."""


def evaluate_models(
    model1: str,
    model2: str,
    model1_loss: Mapping[int, float] | Sequence[float] | float,
    model2_loss: Mapping[int, float] | Sequence[float] | float,
) -> Comparison:
    """Compare two architectures by test loss: {seed: loss} mappings, equal-length lists (paired by position)
    or a single float each.

    The original study's `evaluate_models` returned the signed difference model1_loss - model2_loss; we keep it
    (`loss_diff`, on the seed means) and add the relative difference and whether the difference is larger than
    the seeds' noise: seeds pair the runs (same seed = same data order), so the 95% CI is the Student-t interval
    of the per-seed differences d_i = loss1_i - loss2_i, and the difference counts as significant when that
    interval excludes zero. A seed present in only one mapping (e.g. a failed trial) is left out of the pairing
    but still counts in that architecture's mean."""
    d1, d2 = _by_seed(model1_loss), _by_seed(model2_loss)
    m1, m2 = summarize(list(d1.values())).mean, summarize(list(d2.values())).mean
    diff = m1 - m2
    paired = summarize([d1[s] - d2[s] for s in d1 if s in d2])
    ci = paired.ci95
    return Comparison(
        model1=model1,
        model2=model2,
        loss_diff=diff,
        rel_diff=diff / m2 if m2 else math.nan,
        diff_ci95=ci,
        significant=None if math.isnan(ci) else abs(paired.mean) > ci,
        better=model1 if diff < 0 else model2 if diff > 0 else "tie",
    )


def _by_seed(x: Mapping[int, float] | Sequence[float] | float) -> dict[int, float]:
    if isinstance(x, int | float):
        return {0: float(x)}
    if isinstance(x, Mapping):
        return {k: float(v) for k, v in x.items()}
    return {i: float(v) for i, v in enumerate(x)}
