"""Plots of bench results (matplotlib, Agg backend: files only, no display). The report reuses them.

Timings are drawn as their median with the interquartile range as error bars; each architecture in its colour
(report/palette.py: the same in every plot of retlab), its decoders or forms in shades of it with their own
markers, one line style per batch size."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from ..report.format import tick  # noqa: E402
from ..report.palette import REFERENCE, variant_style  # noqa: E402
from ..utils.files import atomic_savefig  # noqa: E402
from .table import tokens_label  # noqa: E402

INFER_PLOTS = {  # file stem -> (points key, y key, y label, log y, title, kind of number on the y axis)
    "infer_time_per_token": (
        "points",
        "time_per_token_ms",
        "time per decode step (median, IQR bars)",
        True,
        "Time per output token",
        "ms",
    ),
    "infer_tokens_per_s": (
        "points",
        "decode_tokens_per_s",
        "decode speed (median, IQR bars)",
        True,
        "Decoding throughput",
        "rate",
    ),
    "infer_memory": (
        "points",
        "decode_step_peak_mib",
        "peak above the state it holds",
        True,
        "Working memory of one decode step (prefill released)",
        "mib",
    ),
    "infer_state_bytes": (
        "points",
        "state_bytes",
        "KV cache or recurrent state (exact)",
        True,
        "Decoding state: KV cache vs recurrent state",
        "bytes",
    ),
    "infer_prefill_memory": (
        "prefill",
        "prefill_peak_mib",
        "peak above the loaded model",
        True,
        "Peak memory of prefill",
        "mib",
    ),
}
TRAIN_PLOTS = {
    "train_tokens_per_s": (
        "points",
        "tokens_per_s",
        "training speed (median, IQR bars)",
        False,
        "Training throughput",
        "rate",
    ),
    "train_memory": (
        "points",
        "peak_mem_mib",
        "peak above the loaded model",
        False,
        "Peak memory of a training step",
        "mib",
    ),
}
KINDS = {  # result kind -> (x key, x label, keys that make a line, plots, title)
    "infer": ("context", "context length (tokens)", INFER_PLOTS, "decoding"),
    "train": ("seq_len", "sequence length (tokens)", TRAIN_PLOTS, "training step"),
}


def series(points: list[dict], x_key: str, y_key: str) -> dict[tuple, list[tuple]]:
    """Measured points grouped into lines, (name, arch, batch size or None) -> [(x, y, y_q1, y_q3)] sorted by x;
    a spread gives its median and quartiles, a plain number itself thrice; skipped points are left out."""
    lines: dict[tuple, list] = {}
    for p in points:
        y = p.get(y_key)
        if y is None or "skipped" in p:
            continue
        name = p.get("decoder") or p.get("variant") or p["arch"]
        lo, mid, hi = (y["q1"], y["median"], y["q3"]) if isinstance(y, dict) else (y, y, y)
        lines.setdefault((name, p["arch"], p.get("batch_size")), []).append((p[x_key], mid, lo, hi))
    return {group: sorted(xy) for group, xy in lines.items()}


def styles_of(keys) -> dict[str, dict]:
    """Colour and marker of every line name among `keys` ((name, arch, ...) tuples): its arch's colour, the
    arch's variants in name order as shades of it."""
    names = sorted({(k[1], k[0]) for k in keys})
    variants = {arch: [n for a, n in names if a == arch] for arch, _ in names}
    return {name: variant_style(arch, name, variants[arch]) for arch, name in names}


def line_plot(
    lines: dict[tuple, list], axes: tuple[str, str], title: str, log_y: bool, path: Path, kind: str = "number"
) -> Path:
    batches = sorted({b for *_, b in lines if b is not None})
    styles = dict(zip(batches, ("-", "--", ":", "-."), strict=False))
    looks = styles_of(lines)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for (name, _, batch), rows in lines.items():
        xs, ys, lo, hi = (list(c) for c in zip(*rows, strict=True))
        label = name if batch is None or len(batches) < 2 else f"{name}, batch={batch}"
        errors = [[y - a for y, a in zip(ys, lo, strict=True)], [b - y for y, b in zip(ys, hi, strict=True)]]
        ax.errorbar(
            xs,
            ys,
            yerr=errors if any(map(any, errors)) else None,
            fmt=styles.get(batch, "-"),
            markersize=4,
            capsize=3,
            label=label,
            **looks[name],
        )
    finish(ax, lines, axes, title, log_y, kind)
    return save(fig, path)


def finish(ax, lines: dict, axes: tuple[str, str], title: str, log_y: bool, kind: str = "number") -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted({row[0] for rows in lines.values() for row in rows})
    ax.set_xticks(ticks, [tokens_label(t) for t in ticks])
    ax.minorticks_off()
    if log_y:  # sizes at powers of two (4 KiB, 8 KiB, ...), anything else at 1, 2 and 5 of each decade
        binary = kind in ("bytes", "mib")
        ax.set_yscale("log", base=2 if binary else 10)
        ax.yaxis.set_major_locator(
            LogLocator(base=2, numticks=8) if binary else LogLocator(10, subs=(1, 2, 5))
        )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: tick(y, kind)))  # the tables' numbers and units
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if lines:
        ax.legend(fontsize=8)


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)
    return path


def speedup_plot(result: dict, title: str, path: Path) -> Path:
    """RetNet's decode speed-up over the faster Transformer decoder at each context (median, IQR bars), the
    break-even line and each batch size's crossover; the marker names the faster decoder."""
    markers = {"transformer-static": "o", "transformer-dynamic": "s"}
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    rows = result.get("comparisons", [])
    arch_of = {p["decoder"]: p["arch"] for p in result.get("points", []) if "decoder" in p}
    lines: dict[tuple, list] = {}
    for c in rows:
        s = c["speedup"]
        lines.setdefault((c["decoder"], arch_of.get(c["decoder"], c["decoder"]), c["batch_size"]), []).append(
            (c["context"], s["median"], s["q1"], s["q3"], c)
        )
    batches = sorted({b for *_, b in lines})
    styles = dict(zip(batches, ("-", "--", ":", "-."), strict=False))
    looks = styles_of(lines)
    for (decoder, _, batch), pts in lines.items():
        pts.sort(key=lambda r: r[0])
        xs, ys = [r[0] for r in pts], [r[1] for r in pts]
        color = looks[decoder]["color"]
        ax.plot(xs, ys, styles[batch], color=color, label=f"{decoder}, batch={batch}")
        for x, y, lo, hi, c in pts:
            ax.errorbar(
                [x],
                [y],
                yerr=[[y - lo], [hi - y]],
                marker=markers.get(c["baseline"], "^"),
                markersize=5,
                capsize=3,
                color=color,
            )
    for x in result.get("crossover", []):
        if x["status"] == "within":
            style = styles.get(x["batch_size"], ":")
            label = f"crossover, batch={x['batch_size']}: {x['context']:,.0f} tokens"
            ax.axvline(x["context"], color=REFERENCE, linestyle=style, linewidth=0.8, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    for name, marker in markers.items():
        if any(c["baseline"] == name for c in rows):  # only the markers drawn
            ax.plot([], [], marker, color=REFERENCE, linestyle="none", label=f"faster Transformer: {name}")
    finish(
        ax,
        {k: [(r[0],) for r in v] for k, v in lines.items()},
        ("context length (tokens)", "speed-up over the faster Transformer decoder"),
        title,
        True,
        "ratio",
    )
    return save(fig, path)


def bench_plots(result: dict, out_dir: Path, only_missing: bool = False) -> list[Path]:
    """The PNGs of a `bench/infer.json` or `bench/train.json` result, written to `out_dir` (with `only_missing`,
    the ones that exist are kept as they are)."""
    x_key, x_label, plots, what = KINDS[result["kind"]]
    where = f"{what}, {result.get('device', '')}, {result.get('dtype', '')}"
    paths = []
    for stem, (points_key, y_key, y_label, log_y, title, kind) in plots.items():
        path = Path(out_dir) / f"{stem}.png"
        if not (only_missing and path.is_file()):
            lines = series(result.get(points_key, []), x_key, y_key)
            line_plot(lines, (x_label, y_label), f"{title}\n{where}", log_y, path, kind)
        paths.append(path)
    if result["kind"] == "infer" and result.get("comparisons"):
        path = Path(out_dir) / "infer_speedup.png"
        if not (only_missing and path.is_file()):
            speedup_plot(
                result, f"Decode speed-up of RetNet over the faster Transformer decoder\n{where}", path
            )
        paths.append(path)
    return paths
