"""`scaling/results.csv`: one row per trial (its size, shape, counts, tokens, training FLOPs, status and losses).
While a study runs these rows are `scaling/trials.csv`, rewritten whole and atomically after every finished trial
like the sweep's files; the finished study renames it to results.csv, beside the fit made from it."""

from pathlib import Path
from typing import Any

from ..sweep.results import read_numbers, write_csv
from ..sweep.trial import TrialSpec, load_metrics, status

PROGRESS = "trials.csv"
RESULTS = "results.csv"
COLUMNS = [
    "trial_id",
    "size",
    "arch",
    "seed",
    "status",
    "hidden_size",
    "num_hidden_layers",
    "num_heads",
    "intermediate_size",
    "value_dim",
    "parameters",
    "non_embedding_parameters",
    "fit_parameters",
    "tokens",
    "flops_per_token",
    "train_flops",
    "test_loss",
    "best_val_loss",
    "wall_time_s",
    "error",
]
"""`parameters` is the total count, `fit_parameters` N as `scaling.count` counts it (what the fits use);
`train_flops` = flops_per_token x the tokens trained (planned ones until the trial finishes)."""


def trial_rows(specs: list[TrialSpec], plan: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per trial from its folder (status, metrics.json, error.txt) and its `plan` entry."""
    rows = []
    for spec in specs:
        st, metrics = status(spec), load_metrics(spec) or {}
        done = st == "done"
        planned = plan[spec.trial_id]
        tokens = metrics.get("tokens") if done and metrics.get("tokens") else planned["planned_tokens"]
        error = (
            spec.error_path.read_text(errors="replace").strip().splitlines()[-1:] if st == "failed" else []
        )
        rows.append(
            {
                "trial_id": spec.trial_id,
                "arch": spec.arch,
                "seed": spec.seed,
                "status": st,
                **{k: v for k, v in planned.items() if k != "planned_tokens"},
                "tokens": tokens,
                "train_flops": planned["flops_per_token"] * tokens,
                "test_loss": metrics.get("test_loss") if done else None,
                "best_val_loss": metrics.get("best_val_loss") if done else None,
                "wall_time_s": metrics.get("wall_time_s") if done else None,
                "error": error[0] if error else "",
            }
        )
    return rows


def write_trials(path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_csv(path, rows, COLUMNS)


def read_trials(path: Path) -> list[dict[str, Any]]:
    """results.csv back as rows, numbers as numbers."""
    return read_numbers(path)
