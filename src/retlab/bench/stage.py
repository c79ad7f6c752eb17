"""Benchmarks as cached stages, like the others: a result stands until what it measured changes, the settings,
the models, the code or the machine, and only `--force` re-measures it otherwise. A cached call rewrites nothing, so
re-running a finished `retlab run` cannot replace good figures with ones measured under a burst of load."""

import hashlib
from pathlib import Path

from ..utils.files import read_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done

VERSION = 2  # of the result format: a new format re-measures


def code_digest() -> str:
    """A hash of the sources a figure depends on: the benchmarks themselves and the models they time."""
    root = Path(__file__).resolve().parents[1]  # src/retlab
    h = hashlib.sha256()
    for folder in ("bench", "models"):
        for f in sorted((root / folder).rglob("*.py")):
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def bench_fingerprint(kind: str, settings: dict, models: list, machine: dict) -> str:
    """The identity of a measurement: its kind and settings, each model's config and source, the code, the machine."""
    identities = [
        {"arch": m.arch, "source": m.source, "config": m.config.to_json_string(use_diff=False)}
        for m in models
    ]
    return fingerprint("bench", kind, VERSION, settings, identities, machine, code_digest())


def stamp_name(kind: str) -> str:
    return f".{kind}.stage.json"


def cached_result(out_dir: Path, kind: str, fp: str, force: bool) -> dict | None:
    """The stored `<kind>.json` when it was measured with fingerprint `fp` (and not `force`), else None."""
    path = Path(out_dir) / f"{kind}.json"
    if force or not path.is_file() or not is_up_to_date(out_dir, fp, stamp_name(kind)):
        return None
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def mark_measured(out_dir: Path, kind: str, fp: str) -> None:
    mark_done(out_dir, fp, stamp_name(kind))
