"""Sweeps that really train (tiny models, 4 steps on Tiny Shakespeare): swept values reach the model, optimiser
and data; Ray Tune and the sequential backend give the same results for the same seeds."""

import json
from pathlib import Path

import pytest
import torch

from retlab.config.loader import load_config
from retlab.sweep.results import read_csv
from retlab.sweep.run import sweep

GRID = {"train.lr": [0.0042], "model.hidden_size": [48], "model.num_heads": [3], "data.seq_len": [32]}


def tiny(root: Path, shared_data: Path, name: str, **sweep_fields):
    cfg = load_config(
        None,
        {
            "name": name,
            "output_dir": str(root),
            "data.source": "local",
            "data.path": [str(shared_data / "corpora/tinyshakespeare/input.txt")],
            "data.splits": [0.98, 0.01, 0.01],
            "tokenizer.vocab_size": 300,
            "model.hidden_size": 32,
            "model.num_hidden_layers": 1,
            "model.num_heads": 2,
            "train.batch_size": 16,
            "train.max_steps": 4,
            "train.warmup_steps": 0,
            "train.schedule": "constant",
            "train.val_check_interval": 2,
            "train.limit_val_batches": 2,
            "train.log_every_n_steps": 1,
            "train.accelerator": "cpu",
        },
    )
    cfg.sweep.grid, cfg.sweep.compare, cfg.sweep.seeds = GRID, ["retnet", "transformer"], [0]
    for key, value in sweep_fields.items():
        setattr(cfg.sweep, key, value)
    return cfg


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory, shared_data) -> Path:
    """One grid point, RetNet and Transformer++, trained for real by the sequential backend."""
    root = tmp_path_factory.mktemp("runs")
    sweep(tiny(root, shared_data, "sequential", backend="sequential"))
    return root / "sequential"


def test_swept_values_reach_model_optimiser_and_data(sequential_run):
    trials = {r["arch"]: r for r in read_csv(sequential_run / "sweep/trials.csv")}
    assert [t["status"] for t in trials.values()] == ["done", "done"], trials
    params = {}
    for arch in ("retnet", "transformer"):
        root = sequential_run / "trials" / trials[arch]["trial_id"]
        hf = json.loads((root / arch / "best/config.json").read_text())
        assert (hf["hidden_size"], hf["num_heads"]) == (48, 3)  # the model was built with the swept sizes
        ckpt = torch.load(
            next((root / arch / "checkpoints").glob("step=*.ckpt")), map_location="cpu", weights_only=False
        )
        groups = ckpt["optimizer_states"][0]["param_groups"]
        assert {g["initial_lr"] for g in groups} == {g["lr"] for g in groups} == {0.0042}  # the swept peak lr
        metrics = json.loads((root / arch / "metrics.json").read_text())
        assert metrics["tokens"] == metrics["steps"] * 16 * 32  # the data was packed for the swept seq_len
        assert (root / "data").is_symlink() and (root / "tokenizer").is_symlink()  # shared, not rebuilt
        params[arch] = metrics["params"]
    assert abs(params["transformer"] - params["retnet"]) <= 0.01 * params["retnet"]  # matched at the point
    row = read_csv(sequential_run / "sweep/results.csv")[0]
    assert row["train.lr"] == "0.0042" and row["retnet/seeds_done"] == row["transformer/seeds_done"] == "1"
    assert row["retnet-transformer/better"] in ("retnet", "transformer")


def test_ray_and_sequential_give_the_same_results(sequential_run, shared_data, capfd):
    import psutil
    import ray

    capfd.readouterr()
    out = sweep(
        tiny(
            sequential_run.parent,
            shared_data,
            "ray",
            backend="ray",
            max_concurrent=2,
            cpus_per_trial=1,
            ray_num_cpus=2,
        )
    )
    printed = "".join(capfd.readouterr())
    # the trials as retlab's bar (no terminal: its summary line), none of Ray Tune's boxes, hints and notices
    assert "\nsweep: 2/2 trials in " in printed and "last test_loss " in printed
    for banner in (
        "Configuration for experiment",
        "View detailed results",
        "--logdir",
        "Token authentication",
    ):
        assert banner not in printed
    assert not ray.is_initialized()  # retlab started Ray and shut it down, and its processes are gone
    assert not psutil.wait_procs(psutil.Process().children(recursive=True), timeout=10)[1]
    seq = {r["arch"]: r for r in read_csv(sequential_run / "sweep/trials.csv")}
    par = {r["arch"]: r for r in read_csv(out / "trials.csv")}
    assert all(r["status"] == "done" for r in par.values()), par
    for arch in seq:  # equal (up to float summation order, should thread counts differ)
        assert float(par[arch]["test_loss"]) == pytest.approx(float(seq[arch]["test_loss"]), rel=1e-4), (
            seq,
            par,
        )
    # and that tolerance is far below the difference between the two architectures
    assert abs(float(seq["retnet"]["test_loss"]) - float(seq["transformer"]["test_loss"])) > 1e-3
