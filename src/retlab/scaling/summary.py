"""`scaling/summary.md` (also what `retlab scaling` prints): the predictions at the target sizes (which
architecture is lower and how sure that is), the crossovers, the fits with their goodness and warnings, and the
trials behind them."""

import math
from typing import Any

from ..report import format as fmt
from ..report.sections import md_table
from .analysis import AXIS_NAMES


def sections(title: str, fit: dict, rows: list[dict[str, Any]], count: str) -> dict[str, list[str]]:
    """The summary's parts by name: header, predictions, crossovers, fits, warnings, trials."""
    archs = fit["archs"]
    done = sum(r["status"] == "done" for r in rows)
    sizes = len({r["size"] for r in rows})
    seeds = len({r["seed"] for r in rows})
    header = [
        f"# Scaling study `{title}`",
        "",
        f"{sizes} sizes x {len(archs)} architectures ({', '.join(archs)}) x {seeds} seeds = {len(rows)} trials, "
        f"{done} done. Per architecture, L(x) = E + A x^-alpha is fitted by robust least squares to the test "
        f"losses, against N = {count.replace('_', '-')} parameters and against training FLOPs C; intervals are "
        f"95% percentile intervals of {fit['bootstrap']} bootstrap samples over sizes and seeds.",
        "",
    ]
    return {
        "header": header,
        "predictions": _predictions(fit),
        "crossovers": _crossovers(fit),
        "fits": _fits(fit),
        "warnings": _warnings(fit),
        "trials": _trials(rows, archs),
    }


def summary_markdown(title: str, fit: dict, rows: list[dict[str, Any]], count: str) -> str:
    parts = sections(title, fit, rows, count)
    order = ("header", "predictions", "crossovers", "fits", "warnings", "trials")
    return "\n".join(line for name in order for line in parts[name]) + "\n"


def console_text(title: str, fit: dict, rows: list[dict[str, Any]], count: str) -> str:
    """The same parts with the answer last, where a terminal leaves it in view."""
    parts = sections(title, fit, rows, count)
    order = ("trials", "fits", "warnings", "crossovers", "predictions")
    return "\n".join(line for name in order for line in parts[name])


def _predictions(fit: dict) -> list[str]:
    archs = fit["fitted"]
    out = ["## Predictions at the target sizes", ""]
    if not archs:
        return [*out, "None: no architecture has 3 or more finished sizes to fit.", ""]
    if not fit["targets"]:
        return [*out, "No targets (`scaling.targets`).", ""]
    for axis in ("parameters", "flops"):
        flops = axis == "flops"
        headers = ["target N", *(["target C"] if flops else []), "x largest trained"]
        headers += [f"{a} loss [95%]" for a in archs] + ["predicted lower", "how sure"]
        rows = []
        for t in fit["targets"]:
            p = t["predictions"].get(axis)
            if p:
                rows.append(
                    [
                        fmt.magnitude(t["parameters"]),
                        *([fmt.magnitude(t["flops"])] if flops else []),
                        fmt.ratio(p["beyond_largest"]),
                    ]
                    + [_interval(p["loss"][a], p["loss_ci95"][a], fmt.loss) for a in archs]
                    + [
                        f"**{p['lower']}**",
                        how_sure(p),
                    ]
                )
        what = "C = the FLOPs of training the reference at that size" if flops else "N"
        out += [f"Against {AXIS_NAMES[axis]} ({what}):", "", md_table(headers, rows), ""]
    return [
        *out,
        "_P = the share of paired bootstrap samples in which that architecture's predicted loss is the lowest._",
        "",
    ]


def how_sure(prediction: dict) -> str:
    """The bootstrap's share for the predicted winner, in words; a fit that carries warnings (losses that do not
    fall with size, a parameter at its bound) makes any share meaningless, and the words say so instead."""
    share = f"P({prediction['lower']} lower) = {fmt.percent(prediction['p_lower'])}"
    unreliable = prediction.get("unreliable", [])
    if unreliable:
        fits = "fit carries" if len(unreliable) == 1 else "fits carry"
        return f"{share} (not to be trusted: the {' and '.join(unreliable)} {fits} warnings)"
    return f"{share} ({certainty(prediction['p_lower'])})"


def certainty(p: float) -> str:
    """Words for a probability that the predicted winner wins."""
    if p >= 0.95:
        return "confident"
    if p >= 0.8:
        return "likely"
    return "uncertain"


def _crossovers(fit: dict) -> list[str]:
    out = ["## Crossover", ""]
    pairs = [(axis, c) for axis, by_pair in _by_axis(fit["crossovers"]) for c in by_pair.values()]
    if not pairs:
        return [*out, "Needs two fitted architectures.", ""]
    out += [f"- Against {AXIS_NAMES[axis]}: {c['statement']}." for axis, c in pairs]
    return [*out, ""]


def _fits(fit: dict) -> list[str]:
    headers = ["arch", "axis", "E [95%]", "A [95%]", "alpha [95%]", "sizes", "R^2", "chi^2/dof"]
    headers.append("largest size from the others")
    rows = []
    for axis, fits in _by_axis(fit["fits"]):
        for arch, f in fits.items():
            g = f["goodness"]
            held = g["holdout_largest"]
            rows.append(
                [
                    arch,
                    axis,
                    _interval(f["E"], f["E_ci95"], fmt.loss),
                    _interval(f["A"], f["A_ci95"], fmt.magnitude),  # its interval can span decades
                    _interval(f["alpha"], f["alpha_ci95"], fmt.number),
                    f["sizes"],
                    _num(g["r2"]),
                    _num(g["chi2_per_dof"]),
                    f"{fmt.loss(held['predicted'])} vs {fmt.loss(held['observed'])} "
                    f"({'+' if held['error'] >= 0 else ''}{fmt.loss(held['error'])})"
                    if held
                    else fmt.MISSING,
                ]
            )
    return [
        "## Fits",
        "",
        md_table(headers, rows),
        "",
        "_chi^2/dof compares the misfit of the size means with the seeds' own noise (about 1: the law fits within "
        "the noise; – with one seed per size); the last column fits all sizes but the largest and predicts it._",
        "",
    ]


def _warnings(fit: dict) -> list[str]:
    lines = [f"- {w}" for w in fit["warnings"]]
    for axis, fits in _by_axis(fit["fits"]):
        lines += [f"- {arch} ({AXIS_NAMES[axis]}): {w}" for arch, f in fits.items() for w in f["warnings"]]
    if not lines:
        return [
            "## Warnings",
            "",
            "None: every fit has 4 or more sizes, falling losses and parameters inside their bounds.",
            "",
        ]
    return ["## Warnings", "", *lines, ""]


def _trials(rows: list[dict[str, Any]], archs: list[str]) -> list[str]:
    headers = ["size", "shape (d x L, heads)", "N", "tokens", *[f"{a} test loss (seeds)" for a in archs]]
    table = []
    for size in sorted({r["size"] for r in rows}, key=lambda s: (str(type(s)), s)):
        mine = [r for r in rows if r["size"] == size]
        ref = next((r for r in mine if r["arch"] == archs[0]), mine[0])
        cells = [
            size,
            f"{ref['hidden_size']} x {ref['num_hidden_layers']}, {ref['num_heads']}",
            fmt.count(ref["fit_parameters"]),
            fmt.count(ref["tokens"]),
        ]
        for arch in archs:
            losses = [r["test_loss"] for r in mine if r["arch"] == arch and _ok(r["test_loss"])]
            cells.append(
                f"{fmt.loss(sum(losses) / len(losses))} ({', '.join(fmt.loss(v) for v in losses)})"
                if losses
                else fmt.MISSING
            )
        table.append(cells)
    note = (
        "_N and the shape are the reference architecture's; the others are matched to its parameter count._"
    )
    return ["## Trials", "", md_table(headers, table), "", note, ""]


def _by_axis(per_axis: dict) -> list[tuple[str, Any]]:
    """(axis, entry) in AXIS_NAMES' order (parameters first), whether the fit is fresh or read back from
    fit.json (whose keys are sorted)."""
    return [(axis, per_axis[axis]) for axis in AXIS_NAMES if axis in per_axis]


def _num(v: Any) -> str:
    return fmt.number(float(v)) if _ok(v) else fmt.MISSING


def _interval(value: float, ci: list[float], show) -> str:
    """`value [lo, hi]`, each in `show`'s format (a 95% interval)."""
    return f"{show(value)} [{show(ci[0])}, {show(ci[1])}]"


def _ok(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
