"""Sweep results from the trial folders: `sweep/results.csv` (one row per grid point), `sweep/trials.csv` (one row
per trial, with its status and error) and `sweep/summary.md`. Every file is rewritten whole and atomically after
each finished trial, so a crash at any moment leaves the previous complete version."""

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..layout import RunLayout
from ..utils.files import atomic_write_json, atomic_write_text, read_json
from .stats import evaluate_models, summarize
from .trial import TrialSpec, load_metrics, status

# metrics.json key -> reported as mean over seeds
MEANS = ["test_ppl", "best_val_loss", "wall_time_s", "train_tokens_per_s"]


def point_columns(grid_keys: list[str], compare: list[str]) -> list[str]:
    """The results.csv header: fixed by the grid and the architectures, whatever has finished."""
    cols = ["point", *grid_keys]
    for arch in compare:
        cols += [f"{arch}/{c}" for c in ("params", "intermediate_size", "seeds_done", "seeds_failed")]
        cols += [f"{arch}/test_loss_{c}" for c in ("mean", "std", "stderr", "ci95")]
        cols += [f"{arch}/{m}_mean" for m in MEANS]
    for other in compare[1:]:
        pair = f"{compare[0]}-{other}"
        cols += [f"{pair}/{c}" for c in ("loss_diff", "rel_diff", "diff_ci95", "significant", "better")]
    return cols


def point_rows(specs: list[TrialSpec], compare: list[str]) -> list[dict[str, Any]]:
    """One row per grid point, in grid order: per-arch statistics over seeds and the comparison."""
    by_point: dict[str, list[TrialSpec]] = {}
    for s in specs:
        by_point.setdefault(s.point_id, []).append(s)
    return [_point_row(group, compare) for group in by_point.values()]


def _point_row(group: list[TrialSpec], compare: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"point": group[0].point_id, **group[0].point}
    losses: dict[str, dict[int, float]] = {}
    for arch in compare:
        runs = [s for s in group if s.arch == arch]
        # status() reads trial.json and fingerprints the config, load_metrics() reads metrics.json: once each
        states = [status(s) for s in runs]
        loaded = [(s, load_metrics(s)) for s, st in zip(runs, states, strict=True) if st == "done"]
        finished = [(s, m) for s, m in loaded if m is not None]
        done = {s.seed: m for s, m in finished}
        losses[arch] = {seed: m["test_loss"] for seed, m in done.items() if _num(m.get("test_loss"))}
        first = next(iter(done.values()), {})
        stat = summarize(list(losses[arch].values()))
        row |= {
            f"{arch}/params": first.get("params"),
            f"{arch}/intermediate_size": first.get(
                "intermediate_size", runs[0].cfg.model.intermediate_size if runs else None
            ),
            f"{arch}/seeds_done": len(done),
            f"{arch}/seeds_failed": states.count("failed"),
            f"{arch}/test_loss_mean": stat.mean,
            f"{arch}/test_loss_std": stat.std,
            f"{arch}/test_loss_stderr": stat.stderr,
            f"{arch}/test_loss_ci95": stat.ci95,
        }
        for m in MEANS:
            row[f"{arch}/{m}_mean"] = summarize([d[m] for d in done.values() if _num(d.get(m))]).mean
        evals = [eval_summary(s) for s, _ in finished]
        for key in sorted({k for e in evals for k in e}):
            row[f"{arch}/eval/{key}_mean"] = summarize([e[key] for e in evals if _num(e.get(key))]).mean
    for other in compare[1:]:
        if losses[compare[0]] and losses[other]:
            c = evaluate_models(compare[0], other, losses[compare[0]], losses[other])
            pair = f"{compare[0]}-{other}"
            row |= {
                f"{pair}/{k}": getattr(c, k)
                for k in ("loss_diff", "rel_diff", "diff_ci95", "significant", "better")
            }
    return row


def eval_summary(spec: TrialSpec) -> dict[str, float]:
    """The trial's `retlab eval` summary ({"task/metric": value}) when it ran (sweep.evaluate), else {}."""
    try:
        summary = read_json(RunLayout.of(spec.cfg).eval / "results.json").get("summary", {})
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in summary.get(spec.arch, {}).items() if _num(v)}


def trial_rows(specs: list[TrialSpec]) -> list[dict[str, Any]]:
    rows = []
    for s in specs:
        st, m = status(s), load_metrics(s) or {}
        err = s.error_path.read_text(errors="replace").strip().splitlines()[-1:] if st == "failed" else []
        rows.append(
            {
                "trial_id": s.trial_id,
                "point": s.point_id,
                "arch": s.arch,
                "seed": s.seed,
                "status": st,
                "test_loss": m.get("test_loss"),
                "params": m.get("params"),
                "wall_time_s": m.get("wall_time_s"),
                "error": err[0] if err else "",
            }
        )
    return rows


def write_results(
    sweep_dir: Path, specs: list[TrialSpec], grid_keys: list[str], compare: list[str], title: str
) -> Path:
    """(Re)write results.csv, trials.csv and summary.md from the trial folders; returns results.csv."""
    rows = point_rows(specs, compare)
    evals = sorted({k for r in rows for k in r if "/eval/" in k})  # only with sweep.evaluate
    out = write_csv(sweep_dir / "results.csv", rows, point_columns(grid_keys, compare) + evals)
    trials = trial_rows(specs)
    write_csv(sweep_dir / "trials.csv", trials, list(trials[0]) if trials else ["trial_id"])
    from .summary import summary_markdown

    atomic_write_text(sweep_dir / "summary.md", summary_markdown(title, rows, trials, grid_keys, compare))
    return out


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_numbers(path: Path) -> list[dict[str, Any]]:
    """CSV rows with numbers parsed (ints stay ints; empty cells are None; anything else stays text)."""
    return [{k: parse_cell(v) for k, v in row.items()} for row in read_csv(path)]


def parse_cell(v: str) -> Any:
    if v == "":
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return " ".join(str(x) for x in v)
    return v


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# ---------------------------------------------------------------------------------------------------- sessions

SESSIONS = "sessions.json"
"""Each invocation that ran trials, in the sweep's (or study's) own folder: {"started_at", "finished_at" (null
while it runs, or if it was killed), "trials", "backend", "max_concurrent"}, times in UTC. With trials running
side by side (Ray), the sum of their wall times is not what the sweep took; this is."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_session(folder: Path, trials: int, backend: str, max_concurrent: int) -> int:
    """Append a session that is starting; returns its index for `finish_session`."""
    sessions = read_sessions(folder)
    sessions.append(
        {
            "started_at": utc_now(),
            "finished_at": None,
            "trials": trials,
            "backend": backend,
            "max_concurrent": max_concurrent if backend == "ray" else 1,
        }
    )
    atomic_write_json(folder / SESSIONS, sessions)
    return len(sessions) - 1


def finish_session(folder: Path, index: int) -> None:
    sessions = read_sessions(folder)
    sessions[index]["finished_at"] = utc_now()
    atomic_write_json(folder / SESSIONS, sessions)


def read_sessions(folder: Path) -> list[dict[str, Any]]:
    try:
        return list(read_json(Path(folder) / SESSIONS))
    except (OSError, ValueError):
        return []
