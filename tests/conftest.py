import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from retlab.paths import data_dir  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The staged public data (RETLAB_DATA_DIR, default ../shared/data); skip when it is absent."""
    d = data_dir()
    if not (d / "MANIFEST.md").is_file():
        pytest.skip(f"shared data not found at {d} (set RETLAB_DATA_DIR)")
    return d


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests run tiny models: intra-op threads only add synchronisation, and on a busy shared CPU OpenMP's
    waiting threads make each call up to 100x slower. One thread also keeps results bitwise reproducible."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
