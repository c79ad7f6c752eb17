"""The report's grid-search section, from `runs/<name>/sweep/results.csv`: heatmaps of test loss over every
pair of swept fields for each architecture (and their difference), a parallel-coordinates plot of all points,
and the tables of `sweep/summary.md`.

Heatmaps show two swept fields at a time; the other swept fields are marginalised by the MINIMUM over them, so a
cell is the best mean test loss reachable with those two values (what someone choosing hyperparameters wants)."""

import itertools
import math
from pathlib import Path

from ..layout import RunLayout
from ..sweep.results import read_csv
from ..utils.files import atomic_savefig
from .format import loss as show_loss
from .palette import color

MAX_HEATMAPS = 10  # pairs of swept fields; the original study's 5 fields give exactly 10


def sweep_section(run_dir: str | Path, out_dir: str | Path | None = None) -> tuple[str, list[Path]]:
    """(markdown, PNG paths) for the sweep in `run_dir`; ("", []) when it has no sweep results.

    PNGs are written to `out_dir` (default `<run_dir>/report`) and the markdown links them by file name, so the
    markdown belongs in a file inside `out_dir`."""
    layout = RunLayout(Path(run_dir))
    csv_path = layout.sweep / "results.csv"
    if not csv_path.is_file():
        return "", []
    out_dir = Path(out_dir) if out_dir else layout.report
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = read_csv(csv_path)
    keys, archs = columns_of(rows)
    varying = [k for k in keys if len({r[k] for r in rows}) > 1]
    pngs = [
        heatmap(rows, kx, ky, archs, out_dir)
        for kx, ky in list(itertools.combinations(varying, 2))[:MAX_HEATMAPS]
    ]
    if len(varying) == 1:
        pngs.append(line_plot(rows, varying[0], archs, out_dir))
    if len(varying) >= 2:
        pngs.append(parallel_coordinates(rows, varying, archs, out_dir))
    return _markdown(layout.sweep, rows, archs, pngs), pngs


def columns_of(rows: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """(swept keys, architectures) from the results.csv header."""
    header = list(rows[0]) if rows else []
    archs = [c.split("/")[0] for c in header if c.endswith("/test_loss_mean")]
    keys = [c for c in header[1:] if "/" not in c]
    return keys, archs


def _markdown(sweep_dir: Path, rows: list[dict], archs: list[str], pngs: list[Path]) -> str:
    lines = [
        "## Grid search",
        "",
        f"{len(rows)} grid points, architectures: {', '.join(archs)}. "
        "Full results: `sweep/results.csv` (one row per point), `sweep/trials.csv` (one row per trial).",
        "",
    ]
    summary = sweep_dir / "summary.md"
    if summary.is_file():  # its tables, one heading level down
        body = summary.read_text().split("\n", 1)[1]
        lines += [("#" + ln if ln.startswith("#") else ln) for ln in body.splitlines()]
    if pngs:
        lines += [
            "",
            "Heatmaps: mean test loss over two swept fields, minimised over the other swept fields "
            "(the best loss reachable with those two values); the last panel is the difference.",
            "",
        ]
        lines += [f"![{p.stem}]({p.name})" for p in pngs]
    return "\n".join(lines) + "\n"


def heatmap(rows: list[dict], kx: str, ky: str, archs: list[str], out_dir: Path) -> Path:
    from matplotlib.figure import Figure

    xs, ys = _levels(rows, kx), _levels(rows, ky)
    grids = {a: _min_grid(rows, kx, ky, xs, ys, f"{a}/test_loss_mean") for a in archs}
    panels = [(a, grids[a], "viridis") for a in archs]
    if len(archs) >= 2:
        diff = [
            [_sub(p, q) for p, q in zip(r1, r2, strict=True)]
            for r1, r2 in zip(grids[archs[0]], grids[archs[1]], strict=True)
        ]
        panels.append((f"{archs[0]} - {archs[1]}", diff, "coolwarm"))
    fig = Figure(figsize=(4.2 * len(panels), 3.6), layout="constrained")
    finite = [v for a in archs for row in grids[a] for v in row if math.isfinite(v)]
    for i, (title, grid, cmap) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        is_diff = cmap == "coolwarm"
        span = max((abs(v) for row in grid for v in row if math.isfinite(v)), default=1.0) or 1.0
        lim = (
            dict(vmin=-span, vmax=span)
            if is_diff
            else dict(vmin=min(finite, default=0), vmax=max(finite, default=1))
        )
        im = ax.imshow(grid, cmap=cmap, origin="lower", aspect="auto", **lim)
        for yi, xi in itertools.product(range(len(ys)), range(len(xs))):
            if math.isfinite(grid[yi][xi]):
                ax.text(
                    xi,
                    yi,
                    f"{grid[yi][xi]:+.4f}" if is_diff else show_loss(grid[yi][xi]),
                    ha="center",
                    va="center",
                    fontsize=8,
                )
        ax.set_xticks(range(len(xs)), xs)
        ax.set_yticks(range(len(ys)), ys)
        ax.set_xlabel(kx)
        ax.set_ylabel(ky)
        if is_diff:
            ax.set_title(title, fontsize=9)
        else:
            ax.set_title(f"{title} test loss (min over others)", fontsize=9, color=color(title))
        fig.colorbar(im, ax=ax, shrink=0.8)
    path = out_dir / f"sweep_heatmap_{_safe(kx)}_{_safe(ky)}.png"
    atomic_savefig(fig, path, dpi=110)
    return path


def line_plot(rows: list[dict], key: str, archs: list[str], out_dir: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6), layout="constrained")
    ax = fig.add_subplot()
    xs = _levels(rows, key)
    for a in archs:
        ys = [min((_f(r[f"{a}/test_loss_mean"]) for r in rows if r[key] == x), default=math.nan) for x in xs]
        ax.plot(range(len(xs)), ys, marker="o", label=a, color=color(a))
    ax.set_xticks(range(len(xs)), xs)
    ax.set_xlabel(key)
    ax.set_ylabel("mean test loss")
    ax.legend()
    path = out_dir / f"sweep_{_safe(key)}.png"
    atomic_savefig(fig, path, dpi=110)
    return path


def parallel_coordinates(rows: list[dict], keys: list[str], archs: list[str], out_dir: Path) -> Path:
    """One panel per architecture, one line per grid point through every swept field to its test loss (the last
    axis), coloured by that loss on a scale shared by the panels: the low-loss paths stand out."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    levels = {k: _levels(rows, k) for k in keys}
    finite = [v for r in rows for a in archs if math.isfinite(v := _f(r[f"{a}/test_loss_mean"]))] or [
        0.0,
        1.0,
    ]
    norm = Normalize(min(finite), max(finite) if max(finite) > min(finite) else min(finite) + 1)
    cmap = colormaps["viridis_r"]
    fig = Figure(figsize=(1.6 * (len(keys) + 1) + 1.5, 2.6 * len(archs)), layout="constrained")
    axes = fig.subplots(len(archs), 1, squeeze=False)[:, 0]
    for ax, arch in zip(axes, archs, strict=True):
        for r in sorted(rows, key=lambda r: -_f(r[f"{arch}/test_loss_mean"])):  # best drawn last, on top
            loss = _f(r[f"{arch}/test_loss_mean"])
            if math.isfinite(loss):
                ys = [_pos(levels[k].index(r[k]), len(levels[k])) for k in keys] + [norm(loss)]
                ax.plot(range(len(ys)), ys, color=cmap(norm(loss)), lw=1.5, alpha=0.8)
        for i, k in enumerate(keys):
            ax.axvline(i, color="gray", lw=0.5)
            for j, v in enumerate(levels[k]):
                ax.text(i, _pos(j, len(levels[k])), f" {v}", fontsize=7, va="center")
        ax.axvline(len(keys), color="gray", lw=0.5)
        for y, v in ((0, norm.vmin), (1, norm.vmax)):
            ax.text(len(keys), y, f" {show_loss(v)}", fontsize=7, va="center")
        ax.set_xticks(range(len(keys) + 1), [*keys, "test loss"], fontsize=8)
        ax.set_yticks([])
        ax.set_title(arch, fontsize=9, color=color(arch))
    fig.colorbar(ScalarMappable(norm, cmap), ax=list(axes), label="mean test loss")
    path = out_dir / "sweep_parallel_coordinates.png"
    atomic_savefig(fig, path, dpi=110)
    return path


def _min_grid(rows, kx, ky, xs, ys, col) -> list[list[float]]:
    grid = [[math.nan] * len(xs) for _ in ys]  # (len(ys), len(xs)), row = y level
    for r in rows:
        v = _f(r[col])
        yi, xi = ys.index(r[ky]), xs.index(r[kx])
        if math.isfinite(v) and (math.isnan(grid[yi][xi]) or v < grid[yi][xi]):
            grid[yi][xi] = v
    return grid


def _levels(rows: list[dict], key: str) -> list[str]:
    """Distinct values of a swept column, numerically sorted when they are numbers."""
    values = list(dict.fromkeys(r[key] for r in rows))
    try:
        return sorted(values, key=float)
    except ValueError:
        return values


def _pos(i: int, n: int) -> float:
    return i / (n - 1) if n > 1 else 0.5


def _f(s: str) -> float:
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


def _sub(a: float, b: float) -> float:
    return a - b if math.isfinite(a) and math.isfinite(b) else math.nan


def _safe(key: str) -> str:
    return key.replace(".", "_").replace("/", "_")
