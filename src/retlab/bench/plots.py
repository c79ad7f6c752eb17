"""Plots of bench results (matplotlib, Agg backend: files only, no display). The report reuses them."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

INFER_PLOTS = {  # file stem -> (y key, y label, log y, title)
    "infer_time_per_token": (
        "time_per_token_ms",
        "ms per output token (median)",
        False,
        "Time per output token",
    ),
    "infer_tokens_per_s": ("decode_tokens_per_s", "decode tokens/s", False, "Decoding throughput"),
    "infer_memory": (
        "decode_peak_mem_mib",
        "MiB above the loaded model",
        False,
        "Peak memory while decoding",
    ),
    "infer_prefill_memory": (
        "prefill_peak_mem_mib",
        "MiB above the loaded model",
        False,
        "Peak memory of prefill",
    ),
    "infer_state_bytes": ("cache_bytes", "bytes (measured)", True, "KV cache vs recurrent state"),
}
TRAIN_PLOTS = {
    "train_tokens_per_s": ("tokens_per_s", "tokens/s", False, "Training throughput"),
    "train_memory": ("peak_mem_mib", "MiB above the loaded model", False, "Peak memory of a training step"),
}


def series(points: list[dict], x_key: str, y_key: str, group_keys: tuple[str, ...]) -> dict[tuple, tuple]:
    """Measured points grouped into lines: (values of group_keys) -> (xs, ys), sorted by x; skipped points are
    left out."""
    lines: dict[tuple, list] = {}
    for p in points:
        if p.get(y_key) is not None and "skipped" not in p:
            lines.setdefault(tuple(p[k] for k in group_keys), []).append((p[x_key], p[y_key]))
    return {group: tuple(zip(*sorted(xy), strict=True)) for group, xy in lines.items()}


def line_plot(
    lines: dict[tuple, tuple],
    labels: tuple[str, ...],
    axes: tuple[str, str],
    title: str,
    log_y: bool,
    path: Path,
) -> Path:
    """One line per group: colour by the group's first value (the model), line style by its second (batch)."""
    colors = {g[0]: f"C{i}" for i, g in enumerate(dict.fromkeys(g[:1] for g in lines))}
    styles = {v: s for v, s in zip(sorted({g[1:] for g in lines}), ("-", "--", ":", "-."), strict=False)}
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for group, (xs, ys) in lines.items():
        name = ", ".join([str(group[0])] + [f"{k}={v}" for k, v in zip(labels[1:], group[1:], strict=True)])
        ax.plot(xs, ys, styles.get(group[1:], "-"), marker="o", color=colors[group[0]], label=name)
    ax.set_xscale("log", base=2)
    ticks = sorted({x for xs, _ in lines.values() for x in xs})
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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


KINDS = {  # result kind -> (x key, x label, keys that make a line, their legend names, plots, title)
    "infer": (
        "context",
        "context length (tokens)",
        ("arch", "batch_size"),
        ("arch", "batch"),
        INFER_PLOTS,
        "decoding",
    ),
    "train": (
        "seq_len",
        "sequence length (tokens)",
        ("variant",),
        ("variant",),
        TRAIN_PLOTS,
        "training step",
    ),
}


def bench_plots(result: dict, out_dir: Path) -> list[Path]:
    """The PNGs of a `bench/infer.json` or `bench/train.json` result, written to `out_dir`."""
    x_key, x_label, group_keys, labels, plots, what = KINDS[result["kind"]]
    where = f"{what}, {result.get('device', '')}, {result.get('dtype', '')}"
    return [
        line_plot(
            series(result["points"], x_key, y_key, group_keys),
            labels,
            (x_label, y_label),
            f"{title}\n{where}",
            log_y,
            Path(out_dir) / f"{stem}.png",
        )
        for stem, (y_key, y_label, log_y, title) in plots.items()
    ]


def tokens_label(n: int) -> str:
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else str(n)
