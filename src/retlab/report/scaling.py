"""The scaling study's plots (loss against parameters and against training FLOPs) and its report section, drawn
from `scaling/fit.json` and `scaling/results.csv` alone.

On log-log axes, per architecture (in its colour from palette.py): every trial as a faint dot, each size's mean over seeds with
a bar from its lowest to its highest seed, the fitted law solid over the trained sizes and dashed beyond them, its
95% bootstrap band shaded, and at each target the prediction with its interval."""

from pathlib import Path

from ..layout import RunLayout
from ..utils.files import read_json
from . import format as fmt
from .palette import REFERENCE, color
from .plots import _save

AXES = {
    "parameters": ("fit_parameters", "loss_vs_parameters.png", "parameters N"),
    "flops": ("train_flops", "loss_vs_flops.png", "training FLOPs C"),
}


def scaling_plots(fit: dict, rows: list[dict], out_dir: Path) -> list[Path]:
    """Both plots into `out_dir`; returns their paths."""
    return [_plot(fit, rows, axis, out_dir) for axis in AXES]


def _plot(fit: dict, rows: list[dict], axis: str, out_dir: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    column, name, label = AXES[axis]
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=110)
    for arch in fit["archs"]:
        hue = color(arch)
        mine = [r for r in rows if r["arch"] == arch and r["status"] == "done" and r["test_loss"] is not None]
        ax.scatter([r[column] for r in mine], [r["test_loss"] for r in mine], s=10, color=hue, alpha=0.35)
        for x, losses in _by_size(mine, column):
            mean = sum(losses) / len(losses)
            ax.errorbar(
                x,
                mean,
                yerr=[[mean - min(losses)], [max(losses) - mean]],
                fmt="o",
                color=hue,
                ms=5,
                capsize=3,
            )
        f = fit["fits"].get(axis, {}).get(arch)
        if f is None:
            ax.plot([], [], "o", color=hue, label=f"{arch} (not fitted)")
            continue
        law = f"L = {fmt.number(f['E'])} + {fmt.number(f['A'])} x^-{fmt.number(f['alpha'])}"
        _curve(ax, f, hue, f"{arch}: {law}")
        for t in fit["targets"]:
            p = t["predictions"].get(axis)
            if p and arch in p["loss"]:
                lo, hi = p["loss_ci95"][arch]
                mid = p["loss"][arch]
                bar = [[max(mid - lo, 0.0)], [max(hi - mid, 0.0)]]  # a biased bootstrap can miss the fit
                ax.errorbar(t[axis], mid, yerr=bar, fmt="D", color=hue, ms=5, capsize=3)
    for t in fit["targets"]:
        if t.get(axis):
            ax.axvline(t[axis], color=REFERENCE, ls=":", lw=1)
            ax.annotate(
                f"target {fmt.magnitude(t['parameters'])}",
                (t[axis], 0.02),
                xycoords=("data", "axes fraction"),
                xytext=(-6, 0),  # beside the line, clear of the prediction's bar
                textcoords="offset points",
                rotation=90,
                va="bottom",
                ha="right",
                fontsize=7,
                color=REFERENCE,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.tick(v, "loss")))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: fmt.tick(v, "loss")))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    count = fit.get("count", "total").replace("_", "-")
    ax.set_xlabel(label + (f" ({count})" if axis == "parameters" else ""))
    ax.set_ylabel("test loss (nats/token)")
    ax.set_title(f"test loss vs {label}: fit (solid), extrapolation (dashed), 95% band", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, out_dir / name)


def _curve(ax, f: dict, hue: str, label: str) -> None:
    """The law solid up to the largest trained size and dashed beyond it, over its shaded band."""
    c = f["curve"]
    top = f["range"][1]
    inside = [i for i, x in enumerate(c["x"]) if x <= top * (1 + 1e-9)]
    beyond = (
        [i for i, x in enumerate(c["x"]) if x >= c["x"][inside[-1]]] if inside else list(range(len(c["x"])))
    )
    ax.fill_between(c["x"], c["lo"], c["hi"], color=hue, alpha=0.15, lw=0)
    ax.plot([c["x"][i] for i in inside], [c["loss"][i] for i in inside], "-", color=hue, label=label)
    if len(beyond) > 1:
        ax.plot([c["x"][i] for i in beyond], [c["loss"][i] for i in beyond], "--", color=hue)


def _by_size(rows: list[dict], column: str) -> list[tuple[float, list[float]]]:
    """(mean x, the seeds' losses) per size."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["size"], []).append(r)
    return [(sum(r[column] for r in rs) / len(rs), [r["test_loss"] for r in rs]) for rs in out.values()]


def scaling_section(run_dir: str | Path, out_dir: str | Path) -> tuple[str, list[Path]]:
    """(markdown, PNG paths) for the scaling study in `run_dir`; ("", []) when it has no fit.json. The plots
    are redrawn into `out_dir` and linked by file name."""
    from ..scaling.results import read_trials

    layout = RunLayout(Path(run_dir))
    fit_path, csv_path = layout.scaling / "fit.json", layout.scaling / "results.csv"
    if not (fit_path.is_file() and csv_path.is_file()):
        return "", []
    out_dir = Path(out_dir)
    pngs = scaling_plots(read_json(fit_path), read_trials(csv_path), out_dir)
    lines = [
        "## Scaling",
        "",
        "Full results: `scaling/results.csv` (one row per trial), `scaling/fit.json` (laws, intervals, predictions).",
        "",
    ]
    summary = layout.scaling / "summary.md"
    if summary.is_file():  # its tables, one heading level down
        body = summary.read_text().split("\n", 1)[1]
        lines += [("#" + ln if ln.startswith("#") else ln) for ln in body.splitlines()]
    lines += ["", *[f"![{p.stem}]({p.name})" for p in pngs]]
    return "\n".join(lines) + "\n", pngs
