"""Sweep mechanics with a stand-in trial function (real training is in test_real_training.py)."""

import os

import pytest

from retlab.config import RetlabConfig
from retlab.sweep.results import point_columns, read_csv
from retlab.sweep.run import sweep


def make_cfg(tmp_path, seeds=(0, 1)):
    cfg = RetlabConfig(name="mech", output_dir=str(tmp_path / "runs"))
    cfg.sweep.grid = {"train.lr": [1e-3, 1e-4], "model.hidden_size": [32, 64]}
    cfg.sweep.seeds = list(seeds)
    cfg.sweep.backend = "sequential"
    return cfg


class Recorder:
    """A trial function that records what it ran and fails (or is interrupted) where told to."""

    def __init__(self, fail=(), interrupt_at=None):
        self.calls, self.fail, self.interrupt_at = [], set(fail), interrupt_at

    def __call__(self, spec):
        self.calls.append(spec.trial_id)
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        if spec.trial_id in self.fail:
            raise RuntimeError(f"boom in {spec.trial_id}")
        loss = 3.0 + 100 * spec.cfg.train.lr + spec.cfg.model.hidden_size / 1000 + 0.01 * spec.seed
        return {
            "test_loss": loss + (0.05 if spec.arch == "retnet" else 0.0),
            "params": 10 * spec.cfg.model.hidden_size,
        }


BAD = "lr=0.0001_hidden_size=32__transformer__seed1"


def test_failing_trial_is_recorded_and_does_not_stop_the_sweep(tmp_path):
    run = Recorder(fail={BAD})
    out = sweep(make_cfg(tmp_path), trial_fn=run)
    assert len(run.calls) == 16 and run.calls[-1] != BAD  # every trial ran, including those after the failure
    trials = {r["trial_id"]: r for r in read_csv(out / "trials.csv")}
    assert trials[BAD]["status"] == "failed" and "boom in" in trials[BAD]["error"]
    assert sum(r["status"] == "done" for r in trials.values()) == 15
    assert "RuntimeError" in (tmp_path / "runs/mech/trials" / BAD / "error.txt").read_text()
    rows = {r["point"]: r for r in read_csv(out / "results.csv")}
    row = rows["lr=0.0001_hidden_size=32"]
    assert (row["transformer/seeds_done"], row["transformer/seeds_failed"]) == ("1", "1")
    assert float(row["transformer/test_loss_mean"]) == pytest.approx(3.0 + 0.01 + 0.032)  # only seed 0
    assert "Failed trials" in (out / "summary.md").read_text()


def test_resume_skips_finished_and_reruns_failed_and_interrupted(tmp_path):
    cfg = make_cfg(tmp_path)
    sweep(cfg, trial_fn=Recorder(fail={BAD}))
    # an interrupted trial: started (trial.json written) but neither metrics nor error
    interrupted = "lr=0.001_hidden_size=64__retnet__seed0"
    os.remove(tmp_path / "runs/mech/trials" / interrupted / "retnet/metrics.json")
    again = Recorder()
    out = sweep(cfg, trial_fn=again)
    assert sorted(again.calls) == sorted([BAD, interrupted])
    assert not (tmp_path / "runs/mech/trials" / BAD / "error.txt").exists()
    assert all(r["status"] == "done" for r in read_csv(out / "trials.csv"))
    third = Recorder()
    sweep(cfg, trial_fn=third)
    assert third.calls == []
    forced = Recorder()
    sweep(cfg, force=True, trial_fn=forced)
    assert len(forced.calls) == 16
    cfg.train.batch_size = 8  # the base config changed: every earlier result is stale
    changed = Recorder()
    sweep(cfg, trial_fn=changed)
    assert len(changed.calls) == 16


def test_csv_stays_whole_after_a_crash(tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path, seeds=(0,))
    cfg.sweep.compare = ["retnet", "transformer"]
    # 1. the sweep process dies (Ctrl-C / kill) during the 3rd trial
    with pytest.raises(KeyboardInterrupt):
        sweep(cfg, trial_fn=Recorder(interrupt_at=3))
    csv_path = tmp_path / "runs/mech/sweep/results.csv"
    rows = read_csv(csv_path)
    assert list(rows[0]) == point_columns(["train.lr", "model.hidden_size"], ["retnet", "transformer"])
    assert len(rows) == 4  # every point has a row, finished or not
    assert rows[0]["retnet/seeds_done"] == "1" and rows[0]["transformer/seeds_done"] == "1"
    assert rows[1]["retnet/test_loss_mean"] == ""  # not run yet: empty, not garbage
    before = csv_path.read_text()

    # 2. the process dies while rewriting the CSV after the next finished trial: half the text written, then gone
    import retlab.utils.files as files

    real_fdopen = files.os.fdopen
    csv_writes = []

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            if not text.startswith("point,"):
                return self.f.write(text)
            csv_writes.append(text)
            if len(csv_writes) == 1:  # the rewrite before any trial
                return self.f.write(text)
            self.f.write(text[: len(text) // 2])
            raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))
    with pytest.raises(KeyboardInterrupt):
        sweep(cfg, trial_fn=Recorder())
    assert len(csv_writes) == 2 and csv_writes[1] != before  # it crashed writing new results
    assert csv_path.read_text() == before  # the previous complete version, untouched
    assert not [p for p in csv_path.parent.iterdir() if p.name.endswith(".tmp")]

    # 3. a clean re-run completes it
    monkeypatch.setattr(files.os, "fdopen", real_fdopen)
    sweep(cfg, trial_fn=Recorder())
    rows = read_csv(csv_path)
    assert len(rows) == 4 and all(
        r["retnet/seeds_done"] == "1" and r["retnet-transformer/better"] for r in rows
    )


def test_eval_task_scores_join_the_results(tmp_path):
    from retlab.layout import RunLayout
    from retlab.utils.files import atomic_write_json

    def trial(spec):  # what `retlab eval` leaves in a trial folder when sweep.evaluate is on
        acc = 0.5 + spec.seed / 10
        atomic_write_json(
            RunLayout.of(spec.cfg).eval / "results.json", {"summary": {spec.arch: {"piqa/acc": acc}}}
        )
        return {"test_loss": 3.0}

    cfg = make_cfg(tmp_path)
    out = sweep(cfg, trial_fn=trial)
    row = read_csv(out / "results.csv")[0]
    assert float(row["retnet/eval/piqa/acc_mean"]) == pytest.approx(0.55)  # mean over seeds 0 and 1
    assert float(row["transformer/eval/piqa/acc_mean"]) == pytest.approx(0.55)
