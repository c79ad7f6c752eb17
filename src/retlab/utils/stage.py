"""Stage caching: each stage records a fingerprint of its inputs and config and is skipped when nothing changed."""

import hashlib
import json
from pathlib import Path
from typing import Any

from .files import atomic_write_json, read_json

STAMP = ".stage.json"


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts (configs, file hashes, upstream fingerprints)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_up_to_date(out_dir: str | Path, fp: str, name: str = STAMP) -> bool:
    """Whether the stamp `name` in `out_dir` records fingerprint `fp` (several stages may share a folder, each
    with its own stamp)."""
    stamp = Path(out_dir) / name
    if not stamp.is_file():
        return False
    try:
        return read_json(stamp).get("fingerprint") == fp
    except (OSError, ValueError):
        return False


def mark_done(out_dir: str | Path, fp: str, name: str = STAMP, **info: Any) -> None:
    atomic_write_json(Path(out_dir) / name, {"fingerprint": fp, **info})


def stamp_info(out_dir: str | Path) -> dict:
    stamp = Path(out_dir) / STAMP
    return read_json(stamp) if stamp.is_file() else {}
