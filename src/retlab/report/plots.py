"""The report's own plots (loss curves, loss by position, MQAR accuracy); the bench plots come from `retlab.bench.plots`."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..utils.files import atomic_savefig

TRAIN_KEYS = ("train/loss", "train/loss_step", "train_loss")
VAL_KEYS = ("val/loss", "val_loss")


def loss_curves(curves: dict[str, list[dict[str, float]]], path: Path) -> Path:
    """Training (solid) and validation (dashed, dots) loss against step for every `label -> log rows`."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for i, (label, rows) in enumerate(curves.items()):
        color = f"C{i % 10}"
        for keys, style, kind in ((TRAIN_KEYS, "-", "train"), (VAL_KEYS, "--o", "val")):
            xs, ys = _points(rows, keys)
            if xs:
                ax.plot(xs, ys, style, color=color, label=f"{label} {kind}", markersize=3, alpha=0.9)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("training and validation loss")
    ax.grid(True, alpha=0.3)
    # Below the axes: run/arch labels can be long enough to hide the curves.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    return _save(fig, path)


def _points(rows: list[dict[str, float]], keys: tuple[str, ...]) -> tuple[list, list]:
    xs, ys = [], []
    for row in rows:
        key = next((k for k in keys if k in row), None)
        if key is not None and "step" in row:
            xs.append(row["step"])
            ys.append(row[key])
    return xs, ys


def position_loss_plot(curves: dict[str, dict], seq_len: int, multiples: list[int], path: Path) -> Path:
    """Mean loss per bucket of token positions (± standard error, shaded) for every `label -> curve` of
    eval/results.json's position_loss, one colour per model; dashed lines at the multiples of the trained length."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for i, (label, curve) in enumerate(curves.items()):
        xs = [(a + b - 1) / 2 for a, b in zip(curve["start"], curve["end"], strict=True)]  # bucket middles
        ys, errs = curve["loss"], [e or 0.0 for e in curve["stderr"]]
        ax.plot(xs, ys, "-o", color=f"C{i % 10}", label=label, markersize=2.5)
        low, high = (
            [y - e for y, e in zip(ys, errs, strict=True)],
            [y + e for y, e in zip(ys, errs, strict=True)],
        )
        ax.fill_between(xs, low, high, color=f"C{i % 10}", alpha=0.2, linewidth=0)
    for m in multiples:
        ax.axvline(m * seq_len, color="gray", linestyle="--", linewidth=0.8)
        ax.annotate(
            f"{m}x", (m * seq_len, 1), xycoords=("data", "axes fraction"), ha="right", va="top", fontsize=8
        )
    ax.set_xlabel(f"token position (trained on {seq_len}-token sequences)")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("loss by token position: length extrapolation")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def bar_chart(values: dict[str, float], x_label: str, title: str, path: Path) -> Path:
    """Horizontal bars (labels are long: model and metric names), first value on top."""
    labels = list(values)[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.4 * len(labels)), dpi=110)
    bars = ax.barh(
        range(len(labels)), [values[k] for k in labels], color=[f"C{i % 10}" for i in range(len(labels))]
    )
    ax.bar_label(bars, fmt="%.3g", padding=3, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel(x_label)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    atomic_savefig(fig, path, bbox_inches="tight")
    plt.close(fig)
    return path
