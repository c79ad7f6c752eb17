"""Where shared data lives: one setting, `RETLAB_DATA_DIR`, default `../shared/data` next to the repository."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The directory with the staged public corpora and eval data (see its MANIFEST.md)."""
    env = os.environ.get("RETLAB_DATA_DIR")
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared" / "data").resolve()
