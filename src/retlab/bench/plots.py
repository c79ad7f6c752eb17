"""Plots of bench results (matplotlib, Agg backend: files only, no display). The report reuses them.

Timings are drawn as their median with the interquartile range as error bars; one colour per decoder (and its
architecture) in every plot, one line style per batch size."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..utils.files import atomic_savefig  # noqa: E402
from .table import tokens_label  # noqa: E402

COLORS = {  # one colour per architecture, the Transformer's dynamic cache in a darker shade of its own
    "retnet": "C0",
    "transformer": "C1",
    "transformer-static": "C1",
    "transformer-dynamic": "C3",
    "torchscale-retnet": "C2",
    "torchscale-transformer": "C4",
}
INFER_PLOTS = {  # file stem -> (points key, y key, y label, log y, title)
    "infer_time_per_token": (
        "points",
        "time_per_token_ms",
        "ms per decode step (median, IQR bars)",
        True,
        "Time per output token",
    ),
    "infer_tokens_per_s": (
        "points",
        "decode_tokens_per_s",
        "decode tokens/s (median, IQR)",
        True,
        "Decoding throughput",
    ),
    "infer_memory": (
        "points",
        "decode_step_peak_mib",
        "MiB above the state it holds",
        True,
        "Working memory of one decode step (prefill released)",
    ),
    "infer_state_bytes": (
        "points",
        "state_bytes",
        "bytes (exact)",
        True,
        "Decoding state: KV cache vs recurrent state",
    ),
    "infer_prefill_memory": (
        "prefill",
        "prefill_peak_mib",
        "MiB above the loaded model",
        True,
        "Peak memory of prefill",
    ),
}
TRAIN_PLOTS = {
    "train_tokens_per_s": (
        "points",
        "tokens_per_s",
        "tokens/s (median, IQR bars)",
        False,
        "Training throughput",
    ),
    "train_memory": (
        "points",
        "peak_mem_mib",
        "MiB above the loaded model",
        False,
        "Peak memory of a training step",
    ),
}
KINDS = {  # result kind -> (x key, x label, keys that make a line, plots, title)
    "infer": ("context", "context length (tokens)", INFER_PLOTS, "decoding"),
    "train": ("seq_len", "sequence length (tokens)", TRAIN_PLOTS, "training step"),
}


def series(points: list[dict], x_key: str, y_key: str) -> dict[tuple, list[tuple]]:
    """Measured points grouped into lines, (name, batch size or None) -> [(x, y, y_q1, y_q3)] sorted by x; a
    spread gives its median and quartiles, a plain number itself thrice; skipped points are left out."""
    lines: dict[tuple, list] = {}
    for p in points:
        y = p.get(y_key)
        if y is None or "skipped" in p:
            continue
        name = p.get("decoder") or p.get("variant") or p["arch"]
        lo, mid, hi = (y["q1"], y["median"], y["q3"]) if isinstance(y, dict) else (y, y, y)
        lines.setdefault((name, p.get("batch_size")), []).append((p[x_key], mid, lo, hi))
    return {group: sorted(xy) for group, xy in lines.items()}


def line_plot(lines: dict[tuple, list], axes: tuple[str, str], title: str, log_y: bool, path: Path) -> Path:
    batches = sorted({b for _, b in lines if b is not None})
    styles = dict(zip(batches, ("-", "--", ":", "-."), strict=False))
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for (name, batch), rows in lines.items():
        xs, ys, lo, hi = (list(c) for c in zip(*rows, strict=True))
        label = name if batch is None or len(batches) < 2 else f"{name}, batch={batch}"
        errors = [[y - a for y, a in zip(ys, lo, strict=True)], [b - y for y, b in zip(ys, hi, strict=True)]]
        ax.errorbar(
            xs,
            ys,
            yerr=errors if any(map(any, errors)) else None,
            fmt=styles.get(batch, "-"),
            marker="o",
            markersize=4,
            capsize=3,
            color=COLORS.get(name, None),
            label=label,
        )
    finish(ax, lines, axes, title, log_y)
    return save(fig, path)


def finish(ax, lines: dict, axes: tuple[str, str], title: str, log_y: bool) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted({row[0] for rows in lines.values() for row in rows})
    ax.set_xticks(ticks, [tokens_label(t) for t in ticks])
    ax.minorticks_off()
    if log_y:
        ax.set_yscale("log")
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
    lines: dict[tuple, list] = {}
    for c in rows:
        s = c["speedup"]
        lines.setdefault((c["decoder"], c["batch_size"]), []).append(
            (c["context"], s["median"], s["q1"], s["q3"], c)
        )
    batches = sorted({b for _, b in lines})
    styles = dict(zip(batches, ("-", "--", ":", "-."), strict=False))
    for (decoder, batch), pts in lines.items():
        pts.sort(key=lambda r: r[0])
        xs, ys = [r[0] for r in pts], [r[1] for r in pts]
        ax.plot(xs, ys, styles[batch], color=COLORS.get(decoder), label=f"{decoder}, batch={batch}")
        for x, y, lo, hi, c in pts:
            ax.errorbar(
                [x],
                [y],
                yerr=[[y - lo], [hi - y]],
                marker=markers.get(c["baseline"], "^"),
                markersize=5,
                capsize=3,
                color=COLORS.get(decoder),
            )
    for x in result.get("crossover", []):
        if x["status"] == "within":
            style = styles.get(x["batch_size"], ":")
            label = f"crossover, batch={x['batch_size']}: {x['context']:,.0f} tokens"
            ax.axvline(x["context"], color="grey", linestyle=style, linewidth=0.8, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    for name, marker in markers.items():
        ax.plot([], [], marker, color="grey", linestyle="none", label=f"faster Transformer: {name}")
    finish(
        ax,
        {k: [(r[0],) for r in v] for k, v in lines.items()},
        ("context length (tokens)", "x tokens/s of the faster Transformer decoder"),
        title,
        True,
    )
    return save(fig, path)


def bench_plots(result: dict, out_dir: Path, only_missing: bool = False) -> list[Path]:
    """The PNGs of a `bench/infer.json` or `bench/train.json` result, written to `out_dir` (with `only_missing`,
    the ones that exist are kept as they are)."""
    x_key, x_label, plots, what = KINDS[result["kind"]]
    where = f"{what}, {result.get('device', '')}, {result.get('dtype', '')}"
    paths = []
    for stem, (points_key, y_key, y_label, log_y, title) in plots.items():
        path = Path(out_dir) / f"{stem}.png"
        if not (only_missing and path.is_file()):
            lines = series(result.get(points_key, []), x_key, y_key)
            line_plot(lines, (x_label, y_label), f"{title}\n{where}", log_y, path)
        paths.append(path)
    if result["kind"] == "infer" and result.get("comparisons"):
        path = Path(out_dir) / "infer_speedup.png"
        if not (only_missing and path.is_file()):
            speedup_plot(
                result, f"Decode speed-up of RetNet over the faster Transformer decoder\n{where}", path
            )
        paths.append(path)
    return paths
