"""`kill -9` of a `retlab sweep` driver on Ray (issue 10): its Ray processes die with it within 3 seconds, the
trial it was running writes no result for a driver that no longer exists, and the same command run again trains
only the unfinished trial, resuming it to the numbers of an uninterrupted sweep."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

import retlab
from retlab.config.loader import load_config
from retlab.sweep.run import sweep
from retlab.utils.files import read_json

pytest.importorskip("ray")

CONFIG = {
    "name": "s",
    "data": {
        "source": "mqar",
        "seq_len": 16,
        "mqar": {
            "vocab_size": 32,
            "num_kv_pairs": [2],
            "num_queries": 4,
            "train_examples": 256,
            "val_examples": 32,
            "test_examples": 32,
        },
    },
    "model": {"hidden_size": 16, "num_hidden_layers": 1, "num_heads": 2, "dropout": 0.1},
    "train": {
        "batch_size": 8,
        "max_steps": 12,
        "warmup_steps": 2,
        "val_check_interval": 4,
        "every_n_train_steps": 3,
        "log_every_n_steps": 1,
        "accelerator": "cpu",
    },
    "num_threads": 1,
    "bench": {"enabled": False},
    "sweep": {
        "grid": {"train.lr": [0.003]},
        "compare": ["retnet", "transformer"],
        "seeds": [0],
        "backend": "ray",
        "max_concurrent": 1,
        "cpus_per_trial": 1,
        "ray_num_cpus": 1,
    },
}
DETERMINISTIC = ["best_val_loss", "test_loss", "test_mqar_accuracy", "steps", "params"]


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.slow
def test_a_killed_sweep_driver_takes_ray_with_it_and_the_rerun_finishes_only_the_rest(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    argv = [
        sys.executable,
        "-m",
        "retlab.cli",
        "sweep",
        "--config",
        str(config),
        "--output_dir",
        str(tmp_path / "runs"),
    ]
    env = os.environ | {
        "PYTHONPATH": str(Path(retlab.__file__).parents[1]),  # the retlab these tests import
        "PYTHONUNBUFFERED": "1",
    }
    trials = tmp_path / "runs" / "s" / "trials"
    first = trials / "lr=0.003__retnet__seed0" / "retnet"
    second = trials / "lr=0.003__transformer__seed0" / "transformer"

    with open(tmp_path / "driver.log", "w") as log:
        driver = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 400
        # Kill it once the first trial has finished and the second has checkpointed, but not finished.
        while not ((first / "metrics.json").is_file() and (second / "checkpoints" / "last.ckpt").is_file()):
            assert driver.poll() is None and time.monotonic() < deadline, (
                tmp_path / "driver.log"
            ).read_text()
            time.sleep(0.01)
        family = psutil.Process(driver.pid).children(recursive=True)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    done_before = (first / "metrics.json").read_bytes()

    deadline = time.monotonic() + 3  # seconds, not the minute Ray takes to notice on its own
    while alive(family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(family), [p.cmdline() for p in alive(family)]
    assert not (second / "metrics.json").exists()  # nobody finished the trial for the dead driver

    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "1 already done, running 1" in again.stdout
    assert (first / "metrics.json").read_bytes() == done_before  # the finished trial was not run again

    cfg = load_config(config, {"output_dir": str(tmp_path / "ref"), "sweep.backend": "sequential"})
    sweep(cfg)
    ref = tmp_path / "ref" / "s" / "trials"
    for arch_dir in (first, second):
        got = read_json(arch_dir / "metrics.json")
        want = read_json(ref / arch_dir.parent.name / arch_dir.name / "metrics.json")
        assert {k: got[k] for k in DETERMINISTIC} == {k: want[k] for k in DETERMINISTIC}, arch_dir
