"""Kill anywhere, resume, same numbers. A tiny MQAR run of `retlab train` is killed with SIGKILL at points spread
over every phase (data generation, training between checkpoints, right after a validation, after the final
export, while the test results are logged, while the best export is written), each chosen from the run's own
files as it progresses, never from timings; after every kill the same command is run again with
`--train.resume auto`. It must end with the metrics.json and the per-step losses of an uninterrupted run, with the
logs whole and nothing left over.

The runs are forked from the test process (the CLI's main() in a child), so a launch costs no interpreter start."""

import csv
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from retlab import cli
from retlab.utils.files import read_json

from .configs import TINY_MQAR as ARGS

DETERMINISTIC = [
    "best_val_loss",
    "best_val_ppl",
    "test_loss",
    "test_ppl",
    "test_mqar_accuracy",
    "steps",
    "tokens",
    "params",
    "intermediate_size",
]


def _child(argv: list[str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    os._exit(code or 0)


def run_until(argv: list[str], log: Path, kill_when=None, timeout: float = 300.0) -> bool:
    """Run the CLI in a forked child; SIGKILL it as soon as `kill_when()` holds. True if it was killed."""
    child = multiprocessing.get_context("fork").Process(target=_child, args=(argv, str(log)))
    child.start()
    deadline = time.monotonic() + timeout
    while child.is_alive() and time.monotonic() < deadline:
        if kill_when is not None and kill_when():
            os.kill(child.pid, signal.SIGKILL)
            child.join()
            return True
        time.sleep(0.003)
    child.join(timeout=5)
    assert child.exitcode == 0, log.read_text()[-3000:]
    return False


def log_rows(arch: Path) -> list[dict[str, str]]:
    path = arch / "logs/csv/metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def losses(arch: Path) -> dict[tuple[str, int], str]:
    """{(metric, step): value} of every train/val/test loss row; each must be logged exactly once."""
    out: dict[tuple[str, int], str] = {}
    for row in log_rows(arch):
        for key in ("train/loss", "val/loss", "val/mqar_accuracy", "test/loss"):
            if row.get(key):
                assert (key, int(row["step"])) not in out, f"{key} at step {row['step']} logged twice"
                out[key, int(row["step"])] = row[key]
    return out


def _steps(arch: Path, key: str) -> set[int]:
    return {int(r["step"]) for r in log_rows(arch) if r.get(key)}


@pytest.mark.slow
def test_killed_anywhere_a_run_resumes_to_the_same_numbers(tmp_path):
    ref_root, cut_root = tmp_path / "ref", tmp_path / "cut"
    assert cli.main([*ARGS, "--output_dir", str(ref_root)]) == 0
    ref = ref_root / "k" / "retnet"

    argv = [*ARGS, "--output_dir", str(cut_root), "--train.resume", "auto"]
    run, arch = cut_root / "k", cut_root / "k" / "retnet"
    kill_points = {
        "generating the data": lambda: any(run.glob("data/.mqar.*.tmp")),
        "training, between checkpoints": lambda: max(_steps(arch, "train/loss"), default=-1) >= 4,
        "right after a validation": lambda: 7 in _steps(arch, "val/loss"),
        "after the final export, testing": lambda: (arch / "final" / "model.safetensors").is_file(),
        "logging the test results": lambda: bool(_steps(arch, "test/loss")),
        "writing the best export": lambda: any(arch.glob(".best.*.tmp")),
    }
    log = tmp_path / "cut.log"
    for where, predicate in kill_points.items():
        assert run_until(argv, log, predicate), f"the run finished before it could be killed {where}"
        assert not (arch / "metrics.json").exists()
        rows = log_rows(arch)
        assert all(None not in r.values() for r in rows), f"a torn metrics.csv after the kill {where}"
    assert not run_until(argv, log)

    got, want = read_json(arch / "metrics.json"), read_json(ref / "metrics.json")
    assert {k: got[k] for k in DETERMINISTIC} == {k: want[k] for k in DETERMINISTIC}
    assert Path(got["best_checkpoint"]).name == Path(want["best_checkpoint"]).name
    assert Path(got["best_checkpoint"]).is_file()
    assert losses(arch) == losses(ref)  # per step, each once: the log reads like the uninterrupted run's
    assert sorted(p.name for p in (arch / "checkpoints").iterdir()) == sorted(
        p.name for p in (ref / "checkpoints").iterdir()
    )
    assert not (run / "previous").exists() and (run / "config.yaml").is_file()
    assert not list(run.rglob("*.tmp")) and not list(run.rglob(".*.old")), "a killed write left a temporary"


def _die_when_the_log_is_rewritten(final: Path):
    """An audit hook for the child: once training is over (final/ exported), the first open that (re)writes
    metrics.csv, or a temporary for it, from its start empties that file and kills the process on the spot, as a
    SIGKILL arriving mid-rewrite would (the test columns change the header, so the log is rewritten)."""

    def hook(event, args):
        if event != "open" or not isinstance(args[0], str) or "metrics.csv" not in os.path.basename(args[0]):
            return
        mode, flags = args[1] or "", args[2] or 0
        if ("w" in mode or flags & (os.O_TRUNC | os.O_CREAT)) and (final / "model.safetensors").is_file():
            os.truncate(args[0], 0) if os.path.exists(args[0]) else None
            os._exit(137)

    return hook


def _child_dying_mid_rewrite(argv: list[str], log: str, final: str) -> None:
    import sys

    sys.addaudithook(_die_when_the_log_is_rewritten(Path(final)))
    _child(argv, log)


def test_a_kill_while_the_log_is_rewritten_loses_no_rows(tmp_path):
    argv = [*ARGS, "--output_dir", str(tmp_path), "--train.resume", "auto"]
    arch, log = tmp_path / "k" / "retnet", tmp_path / "run.log"
    child = multiprocessing.get_context("fork").Process(
        target=_child_dying_mid_rewrite, args=(argv, str(log), str(arch / "final"))
    )
    child.start()
    child.join(timeout=300)
    assert child.exitcode == 137, log.read_text()[-3000:]  # it died in the act
    assert (
        len(_steps(arch, "train/loss")) == 12 and len(_steps(arch, "val/loss")) == 3
    )  # every row is still there
    assert not run_until(argv, log)
    assert len(_steps(arch, "train/loss")) == 12 and _steps(arch, "test/loss") == {12}
