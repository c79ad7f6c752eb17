import os
from pathlib import Path

import pytest

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
