"""The report's own plots (loss curves, loss by position, MQAR accuracy); the bench plots come from
`retlab.bench.plots`. Every model is drawn in its architecture's colour (palette.py); a second run's models in the
same colours with another line style and hatching."""

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from ..utils.files import atomic_savefig
from .format import percent  # noqa: E402
from .palette import REFERENCE, color  # noqa: E402

TRAIN_KEYS = ("train/loss", "train/loss_step", "train_loss")
VAL_KEYS = ("val/loss", "val_loss")
VAL_ACCURACY_KEYS = ("val/mqar_accuracy",)
RUN_LINES = ("-", "--", ":", "-.")
RUN_HATCHES = ("", "//", "..", "xx")


@dataclass(frozen=True)
class Model:
    """One trained model in a plot: its label, its architecture (its colour) and which run it is from (0, 1, ...)."""

    label: str
    arch: str
    run: int = 0


def loss_curves(curves: dict[Model, list[dict[str, float]]], path: Path) -> Path:
    """Training loss (a line, logged every few steps) and validation loss (a marker per validation: no line
    across the steps between them) against step, for every `model -> log rows`; with validation MQAR accuracy in
    the logs, a second panel of it (markers), where recall appearing between two validations shows as a jump."""
    accuracy = any(_points(rows, VAL_ACCURACY_KEYS)[0] for rows in curves.values())
    fig, axes = plt.subplots(1, 2 if accuracy else 1, figsize=(12 if accuracy else 7.5, 4.5), dpi=110)
    ax, acc_ax = (axes[0], axes[1]) if accuracy else (axes, None)
    for model, rows in curves.items():
        look = {"color": color(model.arch)}
        xs, ys = _points(rows, TRAIN_KEYS)
        if xs:
            ax.plot(xs, ys, RUN_LINES[model.run % 4], label=f"{model.label} train", alpha=0.8, lw=1.2, **look)
        xs, ys = _points(rows, VAL_KEYS)
        if xs:
            ax.plot(xs, ys, "o", label=f"{model.label} validation", ms=6, mec="black", mew=0.6, **look)
        xs, ys = _points(rows, VAL_ACCURACY_KEYS)
        if acc_ax is not None and xs:
            acc_ax.plot(xs, ys, "o", label=f"{model.label} validation", ms=6, mec="black", mew=0.6, **look)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("training loss (lines) and validation loss (markers)")
    ax.grid(True, alpha=0.3)
    # Below the axes: run/arch labels can be long enough to hide the curves.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    if acc_ax is not None:
        acc_ax.set_xlabel("optimiser step")
        acc_ax.set_ylabel("validation MQAR accuracy")
        acc_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        acc_ax.set_ylim(0, 1.02)
        acc_ax.set_xlim(ax.get_xlim())
        acc_ax.set_title("validation MQAR accuracy (markers)")
        acc_ax.grid(True, alpha=0.3)
        acc_ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return _save(fig, path)


def _points(rows: list[dict[str, float]], keys: tuple[str, ...]) -> tuple[list, list]:
    xs, ys = [], []
    for row in rows:
        key = next((k for k in keys if k in row), None)
        if key is not None and "step" in row:
            xs.append(row["step"])
            ys.append(row[key])
    return xs, ys


def position_loss_plot(curves: dict[Model, dict], seq_len: int, multiples: list[int], path: Path) -> Path:
    """Mean loss per bucket of token positions (± standard error, shaded) for every `model -> curve` of
    eval/results.json's position_loss; dashed lines at the multiples of the trained length."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for model, curve in curves.items():
        xs = [(a + b - 1) / 2 for a, b in zip(curve["start"], curve["end"], strict=True)]  # bucket middles
        ys, errs = curve["loss"], [e or 0.0 for e in curve["stderr"]]
        c = color(model.arch)
        ax.plot(xs, ys, RUN_LINES[model.run % 4], marker="o", color=c, label=model.label, markersize=2.5)
        low, high = (
            [y - e for y, e in zip(ys, errs, strict=True)],
            [y + e for y, e in zip(ys, errs, strict=True)],
        )
        ax.fill_between(xs, low, high, color=c, alpha=0.2, linewidth=0)
    for m in multiples:
        ax.axvline(m * seq_len, color=REFERENCE, linestyle="--", linewidth=0.8)
        ax.annotate(
            f"{m}x", (m * seq_len, 1), xycoords=("data", "axes fraction"), ha="right", va="top", fontsize=8
        )
    ax.set_xlabel(f"token position (trained on {seq_len}-token sequences)")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("loss by token position: length extrapolation")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def mqar_plot(scores: dict[Model, dict[str, dict]], chance: float | None, path: Path) -> Path:
    """Each model's MQAR accuracy per group of queries (`{group: {"value", "stderr"}}`: "2 pairs", "all queries")
    as bars with ± standard error, grouped by query group, and chance as a labelled reference line."""
    groups = list(dict.fromkeys(g for per_group in scores.values() for g in per_group))
    n = len(scores)
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + 1.1 * len(groups) * max(n, 2) * 0.6), 4.2), dpi=110)
    for i, (model, per_group) in enumerate(scores.items()):
        xs = [g + (i - (n - 1) / 2) * width for g, name in enumerate(groups) if name in per_group]
        values = [per_group[name]["value"] for name in groups if name in per_group]
        errors = [per_group[name].get("stderr") or 0.0 for name in groups if name in per_group]
        bars = ax.bar(
            xs,
            values,
            width * 0.92,
            yerr=errors,
            capsize=3,
            color=color(model.arch),
            hatch=RUN_HATCHES[model.run % 4],
            edgecolor="white" if model.run == 0 else "black",
            label=model.label,
        )
        ax.bar_label(bars, labels=[percent(v) for v in values], padding=2, fontsize=8)
    if chance is not None:
        ax.axhline(
            chance, color=REFERENCE, linestyle="--", linewidth=1.2, label=f"chance ({percent(chance)})"
        )
    ax.set_xticks(range(len(groups)), groups)
    ax.set_xlabel("key-value pairs bound by the test sequence")
    ax.set_ylabel("accuracy (± standard error)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.12)
    ax.set_title("MQAR: recall accuracy per number of key-value pairs")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(n + 1, 4))
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    atomic_savefig(fig, path, bbox_inches="tight")
    plt.close(fig)
    return path
