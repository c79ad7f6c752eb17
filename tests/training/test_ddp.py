"""Two CPU processes (DDP over gloo) train through the same code path and write the same kinds of outputs."""

import os
import subprocess
import sys

from retlab.config.loader import save_config
from retlab.utils.files import read_json

from .configs import text_config

SCRIPT = """
import sys
import torch

torch.set_num_threads(1)
from retlab.config.loader import load_config
from retlab.training.train import train

train(load_config(sys.argv[1]))
"""


def test_ddp_two_cpu_processes(shared_data, tmp_path):
    overrides = {
        "train.strategy": "ddp",
        "train.devices": 2,
        "train.max_steps": 6,
        "train.val_check_interval": 3,
    }
    cfg = text_config(shared_data, tmp_path, "ddp", **overrides)
    save_config(cfg, tmp_path / "ddp.yaml")
    (tmp_path / "train_ddp.py").write_text(SCRIPT)
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "train_ddp.py"), str(tmp_path / "ddp.yaml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "ddp" / "transformer"
    metrics = read_json(run / "metrics.json")
    assert metrics["steps"] == 6
    assert metrics["tokens"] == 6 * 8 * 32 * 2  # both processes' batches count
    for path in (
        "best/model.safetensors",
        "final/model.safetensors",
        "checkpoints/last.ckpt",
        "logs/csv/metrics.csv",
    ):
        assert (run / path).is_file(), path
    assert (
        "GLOBAL_RANK: 1" in proc.stderr + proc.stdout
        or "Initializing distributed: GLOBAL_RANK: 0, MEMBER: 1/2" in proc.stderr + proc.stdout
    )
