"""The plots of docs/findings.md, drawn from its raw result files only (see findings.py): means over seeds with
their Student-t 95% confidence band or error bars, one colour per architecture."""

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..sweep.stats import summarize  # noqa: E402
from ..utils.files import atomic_savefig  # noqa: E402
from . import format as fmt  # noqa: E402
from .findings import ARCHS, COLORS, NAMES, by, column, one  # noqa: E402
from .palette import REFERENCE  # noqa: E402


def _mean_ci(values: list[float]) -> tuple[float, float]:
    s = summarize(values)
    return s.mean, (0.0 if s.n < 2 else s.ci95)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)
    return path


def _label(ax, title: str, x: str, y: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def _series(rows: list[dict], trial_ids: set[str], x: str, y: str) -> tuple[list, list, list]:
    """x, mean y and CI half-width over the trials `trial_ids`, at every x all of them have."""
    at: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if r["trial_id"] in trial_ids:
            at[r[x]].append(r[y])
    xs = sorted(k for k, v in at.items() if len(v) == len(trial_ids))
    stats = [_mean_ci(at[k]) for k in xs]
    return xs, [m for m, _ in stats], [c for _, c in stats]


def _band(ax, xs, ys, cis, color, label, style="-"):
    ax.plot(xs, ys, style, color=color, label=label, linewidth=1.5)
    ax.fill_between(
        xs, [y - c for y, c in zip(ys, cis, strict=True)], [y + c for y, c in zip(ys, cis, strict=True)],
        color=color, alpha=0.2, linewidth=0,
    )  # fmt: skip


def lm_curves(trials: list[dict], curves: list[dict], path: Path) -> Path:
    """Validation (solid, with its CI band) and training (thin) loss against step, one panel per model size."""
    sizes = by(trials, "hidden_size")
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), dpi=110, squeeze=False, sharey=True)
    for ax, ((hidden,), group) in zip(axes[0], sizes.items(), strict=True):
        for arch in ARCHS:
            ids = {r["trial_id"] for r in group if r["arch"] == arch}
            train = [r for r in curves if r["metric"] == "train/loss"]
            val = [r for r in curves if r["metric"] == "val/loss"]
            xs, ys, _ = _series(train, ids, "step", "value")
            ax.plot(xs, ys, "-", color=COLORS[arch], linewidth=0.8, alpha=0.6, label=f"{NAMES[arch]} train")
            xs, ys, cis = _series(val, ids, "step", "value")
            _band(ax, xs, ys, cis, COLORS[arch], f"{NAMES[arch]} validation", "-o")
        seeds = len({r["seed"] for r in group})
        _label(
            ax, f"hidden size {hidden} (mean of {seeds} seeds, 95% CI)", "optimizer step", "loss (nats/token)"
        )
    return _save(fig, path)


def ppl_vs_params(trials: list[dict], path: Path) -> Path:
    """Test perplexity against parameters, mean ± 95% CI over seeds."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for arch in ARCHS:
        points = by([r for r in trials if r["arch"] == arch], "params")
        xs = [p for (p,) in points]
        stats = [_mean_ci(column(g, "perplexity/ppl")) for g in points.values()]
        ax.errorbar(
            xs, [m for m, _ in stats], yerr=[c for _, c in stats], fmt="-o", color=COLORS[arch],
            label=NAMES[arch], capsize=4,
        )  # fmt: skip
    ax.set_xscale("log")
    sizes = sorted(
        one(column(by(g, "arch")[(ARCHS[0],)], "params")) for g in by(trials, "hidden_size").values()
    )
    ax.set_xticks(sizes, [fmt.count(n) for n in sizes])  # a tick per model size, at the RetNet's count
    ax.minorticks_off()
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test perplexity")
    ax.set_title("TinyStories test perplexity (mean ± 95% CI over seeds)")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)


def position_curves(trials: list[dict], positions: list[dict], path: Path) -> Path:
    """Test loss by token position (bucket middles), mean and 95% CI over seeds, one panel per model size;
    dashed lines at 1x, 2x and 4x the training length."""
    sizes = by(trials, "hidden_size")
    seq_len = one(column(trials, "seq_len"))
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), dpi=110, squeeze=False)
    for ax, ((hidden,), group) in zip(axes[0], sizes.items(), strict=True):
        for arch in ARCHS:
            ids = {r["trial_id"] for r in group if r["arch"] == arch}
            rows = [r | {"mid": (r["start"] + r["end"] - 1) / 2} for r in positions]
            xs, ys, cis = _series(rows, ids, "mid", "loss")
            _band(ax, xs, ys, cis, COLORS[arch], NAMES[arch])
        top = max(r["end"] for r in positions)
        for m in (1, 2, 4):
            if m * seq_len <= top:
                ax.axvline(m * seq_len, color=REFERENCE, linestyle="--", linewidth=0.8)
        ax.set_xlim(0, top)
        title = f"hidden size {hidden}: loss by position (trained on {seq_len})"
        _label(ax, title, "token position", "test loss (nats/token)")
    return _save(fig, path)


def mqar_accuracy(trials: list[dict], kv_keys, path: Path) -> Path:
    """MQAR test accuracy against key-value pairs, mean ± 95% CI over seeds, one panel per sequence length."""
    keys = kv_keys(trials)
    kvs = [int(k.rsplit("kv", 1)[1]) for k in keys]
    panels = [(f"sequence length {n}", group) for (n,), group in by(trials, "seq_len").items()]
    return _mqar_panels(panels, kvs, keys, "key-value pairs", path)


def mqar_vs_seq_len(trials: list[dict], kv_keys, path: Path) -> Path:
    """MQAR test accuracy against sequence length, one panel per number of key-value pairs and one for all of
    them: where a fixed-size state falls behind as sequences (and distances to the keys) grow, and attention
    does not."""
    lengths = sorted({r["seq_len"] for r in trials})
    keys = [*kv_keys(trials), "mqar/accuracy"]
    names = [f"{k.rsplit('kv', 1)[1]} pairs" if "kv" in k else "all pair counts" for k in keys]
    panels = [(name, [r | {"accuracy": r[k]} for r in trials]) for k, name in zip(keys, names, strict=True)]
    return _mqar_panels(panels, lengths, ["accuracy"], "sequence length (tokens)", path, x_of="seq_len")


def _mqar_panels(panels, xs, keys, xlabel, path, x_of=None) -> Path:
    """Accuracy (%) per architecture, mean ± 95% CI over seeds, against `xs`: one panel per (title, rows); the
    x of a point is the position of its key in `keys` (pairs) or, with `x_of`, that field of its rows."""
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4 * len(panels), 3.6), dpi=110, squeeze=False, sharey=True
    )
    for ax, (title, group) in zip(axes[0], panels, strict=True):
        for arch in ARCHS:
            rows = [r for r in group if r["arch"] == arch]
            if x_of is None:
                stats = [_mean_ci([100 * v for v in column(rows, k)]) for k in keys]
            else:
                stats = [_mean_ci([100 * r[keys[0]] for r in rows if r[x_of] == x]) for x in xs]
            ax.errorbar(
                xs, [m for m, _ in stats], yerr=[c for _, c in stats], fmt="-o", color=COLORS[arch],
                label=NAMES[arch], capsize=4,
            )  # fmt: skip
        chance = sorted({100 * r["mqar/chance_accuracy"] for r in group})
        for c in chance:
            ax.axhline(
                c, color=REFERENCE, linestyle=":", linewidth=1, label="chance" if c == chance[0] else None
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        ax.set_ylim(0, 105)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%, mean ± 95% CI)")
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)
