"""From the finished trials to `scaling/fit.json`: per architecture and per axis (parameters N, training FLOPs C)
the law with 95% intervals, its goodness of fit and warnings, the curve with its band for the plots, the
predictions at the target sizes, which architecture is lower there and how sure that is, and the crossovers."""

import math
from typing import Any

import numpy as np

from ..report import format as fmt
from .fit import (
    CONFIDENCE,
    HUBER_K,
    MIN_DISTINCT,
    Data,
    Law,
    bootstrap_fits,
    crossings,
    curves,
    draw_samples,
    first_crossings,
    fit_law,
    goodness,
    interval,
    law_warnings,
    noise_scale,
)

AXES = {"parameters": "fit_parameters", "flops": "train_flops"}
"""Axis of a fit -> the results.csv column it reads."""
AXIS_NAMES = {"parameters": "parameters", "flops": "training FLOPs"}
CURVE_POINTS = 80
GRID_POINTS = 400  # crossover search resolution: 400 points over a few decades, under 2% apart


def analyse(
    rows: list[dict[str, Any]], archs: list[str], targets: list[dict[str, float]], n_boot: int, seed: int
):
    """fit.json's content from finished trial rows (`arch`, `size`, `seed`, `test_loss` and the AXES columns).

    `targets` are {"parameters": N, "flops": C} (C: the compute of training the reference architecture at that
    size under the study's token budget); the bootstrap draws `n_boot` samples with a generator seeded by `seed`."""
    data = {axis: _data(rows, archs, column) for axis, column in AXES.items()}
    fitted = [
        a for a in archs if a in data["parameters"] and len(set(data["parameters"][a].size)) >= MIN_DISTINCT
    ]
    out: dict[str, Any] = {
        "law": "L(x) = E + A * x^(-alpha), x = parameters or training FLOPs",
        "confidence": CONFIDENCE,
        "bootstrap": n_boot,
        "archs": archs,
        "fitted": fitted,
        "warnings": [
            f"{a}: fewer than {MIN_DISTINCT} sizes finished, so no law is fitted"
            for a in archs
            if a not in fitted
        ],
        "fits": {},
        "targets": [],
        "crossovers": {},
    }
    if not fitted:
        return out
    rng = np.random.default_rng(seed)
    samples = draw_samples({a: data["parameters"][a] for a in fitted}, n_boot, rng)
    thetas = {}
    for axis in AXES:
        fits, thetas[axis] = {}, {}
        for arch in fitted:
            d = data[axis][arch]
            fits[arch], thetas[axis][arch] = _fit_one(d, [s[arch] for s in samples])
        out["fits"][axis] = fits
    out["targets"] = [_target(t, fitted, out["fits"], thetas, data) for t in targets]
    out["warnings"] += _outside_interval(out["targets"]) + [
        f"target {fmt.magnitude(t['parameters'])} is below the smallest size {a} finished: that is no extrapolation upwards"
        for t in out["targets"]
        for a in t["predictions"].get("parameters", {}).get("below_range", [])
    ]
    _add_curves(out, data, thetas, targets)
    for axis in AXES:
        out["crossovers"][axis] = {
            f"{fitted[0]}-{other}": _crossover(axis, fitted[0], other, out, thetas[axis], data, targets)
            for other in fitted[1:]
        }
    return out


def _data(rows: list[dict[str, Any]], archs: list[str], column: str) -> dict[str, Data]:
    out = {}
    for arch in archs:
        mine = [
            r for r in rows if r["arch"] == arch and _finite(r.get("test_loss")) and _finite(r.get(column))
        ]
        if mine:
            out[arch] = Data(
                size=[str(r["size"]) for r in mine],
                seed=[int(r["seed"]) for r in mine],
                x=np.array([float(r[column]) for r in mine]),
                y=np.array([float(r["test_loss"]) for r in mine]),
            )
    return out


def _fit_one(d: Data, samples: list[np.ndarray]) -> tuple[dict, np.ndarray]:
    scale = HUBER_K * noise_scale(d.x, d.y, d.size)
    law = fit_law(d.x, d.y, scale=scale)
    thetas = bootstrap_fits(d, law, scale, samples)
    valid = np.all(np.isfinite(thetas), axis=1)
    ci = interval(thetas[valid]) if valid.any() else np.full((2, 3), np.nan)
    fit = law.as_dict() | {
        f"{name}_ci95": [float(ci[0, i]), float(ci[1, i])] for i, name in enumerate(("E", "A", "alpha"))
    }
    fit |= {
        "sizes": len(set(d.size)),
        "trials": len(d.y),
        "range": [float(d.x.min()), float(d.x.max())],
        "bootstrap_valid": int(valid.sum()),
        "goodness": goodness(d, law, scale),
        "warnings": law_warnings(d, law),
    }
    if valid.mean() < 0.95:
        fit["warnings"].append(f"{(~valid).sum()} of {len(valid)} bootstrap refits failed")
    return fit, thetas


def _law(fit: dict) -> Law:
    return Law(fit["E"], fit["A"], fit["alpha"])


def _target(target: dict[str, float], archs: list[str], fits: dict, thetas: dict, data: dict) -> dict:
    """Predictions at one target on each axis: every architecture's loss with its interval, the lowest one and
    the share of bootstrap samples in which it is lowest, and (two or more) the reference minus each other."""
    out: dict[str, Any] = {
        "parameters": target["parameters"],
        "flops": target.get("flops"),
        "predictions": {},
    }
    for axis in AXES:
        x = target.get(axis)
        if x is None or not math.isfinite(x):
            continue
        point = {a: float(_law(fits[axis][a])(x)) for a in archs}
        boot = np.stack([curves(thetas[axis][a], np.array([x]))[:, 0] for a in archs], axis=1)  # (B, archs)
        valid = np.all(np.isfinite(boot), axis=1)
        lower = min(point, key=point.get)
        entry: dict[str, Any] = {
            "loss": point,
            "loss_ci95": {a: _pair(interval(boot[valid, i])) for i, a in enumerate(archs)},
            "lower": lower,
            "p_lower": float(np.mean(np.argmin(boot[valid], axis=1) == archs.index(lower))),
            "beyond_largest": x / max(data[axis][a].x.max() for a in archs),
            "below_range": [a for a in archs if x < data[axis][a].x.min()],
            "unreliable": [
                a for a in archs if fits[axis][a]["warnings"]
            ],  # fits whose data cannot support them
        }
        ref = archs[0]
        entry["difference"] = {
            f"{ref}-{o}": {
                "value": point[ref] - point[o],
                "ci95": _pair(interval(boot[valid, 0] - boot[valid, archs.index(o)])),
                f"p_{ref}_lower": float(np.mean(boot[valid, 0] < boot[valid, archs.index(o)])),
            }
            for o in archs[1:]
        }
        out["predictions"][axis] = entry
    return out


def _outside_interval(targets: list[dict]) -> list[str]:
    """Predictions outside their own bootstrap interval: the refits disagree with the full data's fit."""
    out = []
    for t in targets:
        for axis, p in t["predictions"].items():
            for arch, loss in p["loss"].items():
                lo, hi = p["loss_ci95"][arch]
                if not lo <= loss <= hi:
                    out.append(
                        f"{arch} at target {fmt.magnitude(t['parameters'])} ({AXIS_NAMES[axis]}): the fit's {fmt.loss(loss)} lies "
                        f"outside its bootstrap interval [{fmt.loss(lo)}, {fmt.loss(hi)}]; the fit hangs on a few sizes"
                    )
    return out


def _span(
    axis: str, data: dict, targets: list[dict[str, float]], archs: list[str], start=max
) -> tuple[float, float]:
    """From the smallest size of `archs` (`start=max`: the smallest size every one of them trained; `min`: any)
    to the largest size or target."""
    lo = start(data[axis][a].x.min() for a in archs)
    hi = max([data[axis][a].x.max() for a in archs] + [t[axis] for t in targets if t.get(axis)])
    return float(lo), float(hi)


def _add_curves(out: dict, data: dict, thetas: dict, targets: list[dict[str, float]]) -> None:
    """Each fit's curve with its 95% band, from its smallest size to the largest size or target (the plots draw
    the part beyond its largest size dashed)."""
    archs = out["fitted"]
    for axis in AXES:
        grid = np.geomspace(*_span(axis, data, targets, archs, start=min), CURVE_POINTS)
        for arch in archs:
            fit = out["fits"][axis][arch]
            boot = curves(thetas[axis][arch], grid)
            band = interval(boot[np.all(np.isfinite(boot), axis=1)])
            fit["curve"] = {
                "x": grid.tolist(),
                "loss": _law(fit)(grid).tolist(),
                "lo": band[0].tolist(),
                "hi": band[1].tolist(),
            }


def _crossover(axis: str, ref: str, other: str, out: dict, thetas: dict, data: dict, targets) -> dict:
    """Where the two curves cross between the larger of their smallest sizes and the largest size or target:
    the point estimate(s), the share of bootstrap samples that cross in that range, and the 95% interval of the
    first crossing among them; or a plain "no crossover in range"."""
    lo, hi = _span(axis, data, targets, [ref, other])
    grid = np.geomspace(lo, hi, GRID_POINTS)
    fits = out["fits"][axis]
    diff = _law(fits[ref])(grid) - _law(fits[other])(grid)
    found = crossings(diff, grid)
    boot = first_crossings(curves(thetas[ref], grid) - curves(thetas[other], grid), grid)
    valid = np.all(np.isfinite(thetas[ref]), axis=1) & np.all(np.isfinite(thetas[other]), axis=1)
    p_cross = float(np.mean(np.isfinite(boot[valid])))
    ci = _pair(interval(boot[valid & np.isfinite(boot)])) if np.isfinite(boot[valid]).any() else None
    below, above = (ref if diff[0] < 0 else other), (ref if diff[-1] < 0 else other)
    what = AXIS_NAMES[axis]
    if found:
        where = " and ".join(fmt.magnitude(c) for c in found)
        ci_text = f", 95% of those between {fmt.magnitude(ci[0])} and {fmt.magnitude(ci[1])}" if ci else ""
        sides = (
            f"{below} is lower below, {above} above"
            if below != above
            else f"{below} is lower outside that span, {other if below == ref else ref} inside it"
        )
        statement = (
            f"{ref} and {other} cross at {where} {what} ({fmt.percent(p_cross)} of bootstrap samples cross in range"
            f"{ci_text}): {sides}"
        )
    else:
        statement = (
            f"no crossover in range ({fmt.magnitude(lo)} to {fmt.magnitude(hi)} {what}): {below} is predicted lower throughout "
            f"({fmt.percent(p_cross)} of bootstrap samples cross somewhere in range)"
        )
    return {
        "range": [lo, hi],
        "crossings": found,
        "ci95": ci,
        "p_cross": p_cross,
        "lower_below": below,
        "lower_above": above,
        "statement": statement,
    }


def _pair(values) -> list[float]:
    return [float(values[0]), float(values[1])]


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
