"""Scaling laws L(x) = E + A * x^-alpha (x = parameters N, or training FLOPs C): the fit, its bootstrap and what
follows from both (predictions with intervals, crossovers, probabilities, warnings). numpy and scipy only.

The fit is robust least squares (`scipy.optimize.least_squares`, bounded, Huber loss) on log losses, so a residual is a
relative error and a diverged or unlucky trial cannot drag the curve. Huber's scale is 1.345 x the seeds' own
noise (`noise_scale`: the spread of log loss between seeds of a size, or without repeated seeds of a plain fit's
residuals, both by their median absolute deviation): residuals within the seed noise count squared, larger ones only linearly. Bounds: 0 <= E <= the
smallest observed loss (the law approaches E from above), 0 <= A, 0.01 <= alpha <= 2. The start is the best of
a grid of alphas with (E, A) solved linearly for each, so the local solver starts in the right basin.

Intervals are percentile intervals of a bootstrap over sizes and seeds: a sample draws the sizes with
replacement, and for each drawn size its seeds with replacement (samples with fewer than 3 distinct sizes are
drawn again), then refits. The draws are shared by the architectures (a sample keeps or drops a size and a seed
for all of them), so differences and probabilities between architectures come from paired samples. With few
sizes these intervals are conservative: over repeated synthetic studies of 5 or 8 sizes x 2 seeds, the 95%
intervals of E, alpha and an extrapolated loss held the truth 98-99% of the time (resampling sizes also varies
the design); residual bootstraps held it only 78-89% of the time there, since 2-5 degrees of freedom cannot
estimate the noise, and a wrong "sure" is worse than a cautious one."""

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

ALPHA_BOUNDS = (0.01, 2.0)
HUBER_K = 1.345  # Huber's tuning constant: 95% efficiency when the noise is Gaussian
CONFIDENCE = 0.95
MIN_DISTINCT = 3  # sizes a (bootstrap) sample needs: the law has 3 free parameters
NOISE_FLOOR = 1e-4  # log-loss noise assumed when the data show none (identical seeds)
AT_BOUND = 1e-3  # relative distance to a bound that counts as "at the bound"


@dataclass(frozen=True)
class Law:
    """L(x) = E + A * x^-alpha."""

    E: float
    A: float
    alpha: float

    def __call__(self, x):
        return self.E + self.A * np.power(np.asarray(x, dtype=float), -self.alpha)

    def as_dict(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "alpha": self.alpha}


def curves(thetas: np.ndarray, x: np.ndarray) -> np.ndarray:
    """L at `x` (n,) for every row (E, A, alpha) of `thetas` (B, 3): shape (B, n); NaN rows stay NaN."""
    E, A, alpha = (thetas[:, i : i + 1] for i in range(3))
    return E + A * np.power(np.asarray(x, dtype=float)[None, :], -alpha)


# ---------------------------------------------------------------------------------------------------- the fit


def fit_law(x, y, scale: float | None = None, start: Law | None = None) -> Law:
    """The robust least-squares fit of E + A x^-alpha to losses `y` at sizes `x` (one entry per trial).

    `scale` is the Huber scale in log-loss units (default: from the data, see the module docstring); `start`
    skips the grid of starting alphas (the bootstrap starts from the full data's fit)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x0 = math.exp(np.log(x).mean())  # work in x / x0 so that A stays O(loss) whatever the units of x
    u, ly = x / x0, np.log(y)
    if scale is None:
        scale = HUBER_K * noise_scale(x, y)
    lower, upper = [0.0, 0.0, ALPHA_BOUNDS[0]], [y.min(), 10.0 * y.max(), ALPHA_BOUNDS[1]]
    if start is None:
        theta0 = _grid_start(u, y)
    else:
        theta0 = np.array([start.E, start.A * x0 ** (-start.alpha), start.alpha])
    theta0 = np.clip(theta0, np.array(lower) + 1e-12, np.array(upper) - 1e-12)
    lu = np.log(u)

    def residuals(t):
        return np.log(t[0] + t[1] * np.exp(-t[2] * lu)) - ly

    def jacobian(t):
        p = np.exp(-t[2] * lu)
        f = t[0] + t[1] * p
        return np.stack([1 / f, p / f, -t[1] * p * lu / f], axis=1)

    res = least_squares(
        residuals, theta0, jac=jacobian, bounds=(lower, upper), method="dogbox", loss="huber", f_scale=scale
    )
    E, a, alpha = res.x
    return Law(float(E), float(a * x0**alpha), float(alpha))


def _grid_start(u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(E, a, alpha) in units of x / x0: for each alpha of a grid, (E, a) by least squares on relative errors,
    clipped into the bounds; the alpha whose curve fits the log losses best."""
    best, best_cost = None, math.inf
    for alpha in np.geomspace(0.02, 1.9, 25):
        X = np.stack([np.ones_like(u), u**-alpha], axis=1) / y[:, None]
        (E, a), *_ = np.linalg.lstsq(X, np.ones_like(y), rcond=None)
        E, a = min(max(E, 0.0), 0.999 * y.min()), max(a, 1e-9)
        cost = float(np.sum((np.log(E + a * u**-alpha) - np.log(y)) ** 2))
        if cost < best_cost:
            best, best_cost = np.array([E, a, alpha]), cost
    return best


def noise_scale(x, y, groups=None) -> float:
    """The standard deviation of one trial's log loss around its size's mean, estimated robustly (1.4826 x the
    median absolute deviation, so one diverged seed does not inflate it): from the seeds' deviations from their
    size's mean where sizes repeat seeds, else from the residuals of a plain least-squares fit. At least
    NOISE_FLOOR. `groups` labels each trial's size (default: equal x, equal size)."""
    x, ly = np.asarray(x, dtype=float), np.log(np.asarray(y, dtype=float))
    groups = np.asarray(x if groups is None else groups)
    deviations = []
    for size in np.unique(groups):
        group = ly[groups == size]
        if len(group) > 1:  # a deviation from a mean of n has variance (n - 1) / n of one trial's
            deviations += list((group - group.mean()) * math.sqrt(len(group) / (len(group) - 1)))
    if not deviations:
        plain = fit_law(x, np.exp(ly), scale=1e6)  # Huber with a huge scale = plain least squares
        deviations = list(np.log(plain(x)) - ly)
    deviations = np.asarray(deviations)
    return max(1.4826 * float(np.median(np.abs(deviations - np.median(deviations)))), NOISE_FLOOR)


# ---------------------------------------------------------------------------------------------------- bootstrap


@dataclass
class Data:
    """One architecture's trials: size label (the trained shape), seed, x (N or C) and loss, one entry each."""

    size: list[str]
    seed: list[int]
    x: np.ndarray
    y: np.ndarray


def draw_samples(data: dict[str, Data], n: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """`n` bootstrap samples as trial indices per architecture, paired across architectures: each sample draws
    sizes (from every size any architecture trained) with replacement, then for each drawn size a seed position
    per seed (a uniform draw that each architecture maps onto its own seeds of that size, so architectures with
    the same seeds get the same ones). A sample in which an architecture keeps fewer than 3 distinct sizes is
    drawn again."""
    sizes = sorted({s for d in data.values() for s in d.size})
    index = {arch: _by_size(d) for arch, d in data.items()}
    seeds_per_size = max(len(v) for idx in index.values() for v in idx.values())
    samples, tries = [], 0
    while len(samples) < n:
        tries += 1
        if tries > 100 * n + 1000:  # only when an architecture has fewer than 3 sizes, which callers exclude
            raise ValueError(f"cannot draw samples with {MIN_DISTINCT} distinct sizes for every architecture")
        picked = rng.integers(0, len(sizes), len(sizes))
        u = rng.random((len(sizes), seeds_per_size))
        sample = {}
        for arch, idx in index.items():
            rows = [
                np.asarray(idx[sizes[p]])[(u[k] * len(idx[sizes[p]])).astype(int)]
                for k, p in enumerate(picked)
                if sizes[p] in idx
            ]
            sample[arch] = np.concatenate(rows) if rows else np.array([], dtype=int)
        if all(len({data[a].size[i] for i in rows}) >= MIN_DISTINCT for a, rows in sample.items()):
            samples.append(sample)
    return samples


def _by_size(d: Data) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, s in enumerate(d.size):
        out.setdefault(s, []).append(i)
    return out


def bootstrap_fits(d: Data, law: Law, scale: float, samples: list[np.ndarray]) -> np.ndarray:
    """(B, 3) rows (E, A, alpha) refitted on each sample of trial indices (same Huber scale, started from
    `law`); a row of NaN where the solver failed."""
    out = np.full((len(samples), 3), np.nan)
    for b, rows in enumerate(samples):
        try:
            fit = fit_law(d.x[rows], d.y[rows], scale=scale, start=law)
        except (ValueError, np.linalg.LinAlgError):
            continue
        out[b] = (fit.E, fit.A, fit.alpha)
    return out


def interval(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """The percentile interval (2.5%, 97.5%) over finite values along `axis`."""
    tail = 100 * (1 - CONFIDENCE) / 2
    return np.nanpercentile(values, [tail, 100 - tail], axis=axis)


# ---------------------------------------------------------------------------------------------------- crossovers


def crossings(diff: np.ndarray, grid: np.ndarray) -> list[float]:
    """Where a difference of two curves, sampled at the increasing `grid`, changes sign (log-linear
    interpolation between grid points)."""
    out = []
    for i in np.flatnonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) < 0):
        t = diff[i] / (diff[i] - diff[i + 1])
        out.append(float(np.exp(np.log(grid[i]) + t * (np.log(grid[i + 1]) - np.log(grid[i])))))
    return out


def first_crossings(diffs: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The first sign change of each row of `diffs` (B, n) on `grid`, NaN where a row never changes sign."""
    out = np.full(len(diffs), np.nan)
    for b, row in enumerate(diffs):
        if np.all(np.isfinite(row)):
            found = crossings(row, grid)
            if found:
                out[b] = found[0]
    return out


# ---------------------------------------------------------------------------------------------------- warnings


def law_warnings(d: Data, law: Law) -> list[str]:
    """What the data cannot support: too few sizes, losses that do not fall with size, parameters at bounds."""
    sizes = sorted(set(d.size), key=lambda s: d.x[d.size.index(s)])
    means = [float(np.mean(d.y[[i for i, s in enumerate(d.size) if s == size]])) for size in sizes]
    xs = [float(d.x[d.size.index(s)]) for s in sizes]
    warn = []
    if len(sizes) < 4:
        warn.append(
            f"only {len(sizes)} sizes for 3 free parameters: the curve passes through them and its intervals "
            "say little; train 4 or more sizes (5+ to judge the fit)"
        )
    rises = [(xs[i], xs[i + 1]) for i in range(len(xs) - 1) if means[i + 1] >= means[i]]
    if rises:
        pairs = ", ".join(f"{a:.3g} -> {b:.3g}" for a, b in rises)
        warn.append(
            f"the mean loss does not fall with size ({pairs}): a power law cannot follow that; more training "
            "tokens or a tuned learning rate for the larger sizes usually fix it"
        )
    lo, hi = ALPHA_BOUNDS
    if law.alpha <= lo * (1 + AT_BOUND) or law.alpha >= hi * (1 - AT_BOUND):
        warn.append(
            f"alpha = {law.alpha:.3g} sits at its bound [{lo}, {hi}]: the sizes do not pin the exponent, and "
            "extrapolations are not to be trusted"
        )
    if law.E >= d.y.min() * (1 - AT_BOUND):
        warn.append(
            f"E = {law.E:.4g} sits at the smallest observed loss: the losses show no curvature towards an "
            "irreducible loss"
        )
    return warn


def goodness(d: Data, law: Law, scale: float) -> dict:
    """How well the law follows the sizes' mean losses: RMSE and R^2 of the means, chi^2 per degree of freedom
    against the seed noise (about 1 when the law fits within the noise; only with repeated seeds, since a noise
    taken from the fit's own residuals would make it circular), and the error of predicting the largest size from
    a fit to the others (the extrapolation the targets rely on)."""
    sizes = sorted(set(d.size), key=lambda s: d.x[d.size.index(s)])
    groups = [np.array([i for i, s in enumerate(d.size) if s == size]) for size in sizes]
    xs = np.array([d.x[g[0]] for g in groups])
    means = np.array([d.y[g].mean() for g in groups])
    counts = np.array([len(g) for g in groups])
    resid = means - law(xs)
    total = float(np.sum((means - means.mean()) ** 2))
    noise = scale / HUBER_K if counts.max() > 1 else None  # log-loss noise of one trial, from the seeds
    dof = len(sizes) - 3
    chi2 = float(np.sum(np.log(means / law(xs)) ** 2 * counts / noise**2)) if dof > 0 and noise else None
    out = {
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "r2": 1 - float(np.sum(resid**2)) / total if total > 0 else None,
        "chi2_per_dof": chi2 / dof if chi2 is not None else None,
        "seed_noise_rel": noise,
        "holdout_largest": None,
    }
    if len(sizes) >= 4:
        rest = np.concatenate(groups[:-1])
        held = fit_law(d.x[rest], d.y[rest], scale=scale)
        predicted = float(held(xs[-1]))
        out["holdout_largest"] = {
            "x": float(xs[-1]),
            "observed": float(means[-1]),
            "predicted": predicted,
            "error": predicted - float(means[-1]),
        }
    return out
