"""An architecture's outputs are replaced, never deleted first.

A fresh start (the config changed, or `--force`) moves the whole `<arch>/` folder to `previous/<arch>/` in one
rename and trains in a new, empty `<arch>/`. Then:

- the new attempt fails or is killed before its first checkpoint: the old folder is moved back (at once after an
  exception, at the start of the next command after a kill), so the run folder is exactly as it was;
- the new attempt has written a checkpoint: both are kept, and `--train.resume auto` continues the new one;
- the new attempt finishes (metrics.json written): `previous/<arch>/` is deleted.

Every step is one rename or an idempotent delete, so a kill between any two steps leaves a state that `settle`
completes. A fresh start while `previous/<arch>/` is still kept moves the unfinished attempt to
`previous/<arch>.2/` (then .3, ...), so no checkpointed attempt is lost either; all go once a run finishes."""

import os
import shutil
from pathlib import Path

from ..layout import ArchLayout, RunLayout


def displaced(run: RunLayout, arch: str) -> list[Path]:
    """The folders fresh starts moved aside for `arch`, oldest first."""
    if not run.previous.is_dir():
        return []
    found = [p for p in run.previous.iterdir() if p.name == arch or p.name.startswith(f"{arch}.")]
    return sorted(found, key=lambda p: int(p.name.rpartition(".")[2]) if p.name != arch else 1)


def has_checkpoint(layout: ArchLayout) -> bool:
    return layout.checkpoints.is_dir() and any(layout.checkpoints.glob("*.ckpt"))


def settle(run: RunLayout, arch: str) -> None:
    """Complete whatever an interrupted command left: a finished attempt drops what it replaced; an attempt with
    no checkpoint yet gives the folder back to what it displaced."""
    layout, stack = run.arch(arch), displaced(run, arch)
    while stack:
        if layout.metrics.is_file():
            drop_displaced(run, arch)
            return
        if has_checkpoint(layout):
            return
        shutil.rmtree(layout.root, ignore_errors=True)
        os.replace(stack.pop(), layout.root)
    _remove_if_empty(run.previous)


def displace(run: RunLayout, arch: str) -> Path | None:
    """Move `<arch>/` aside (if it holds anything) and leave an empty one; returns where it went."""
    layout = run.arch(arch)
    dest = None
    if layout.root.is_dir() and any(layout.root.iterdir()):
        n = len(displaced(run, arch))
        dest = run.previous / (arch if n == 0 else f"{arch}.{n + 1}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(layout.root, dest)
    layout.root.mkdir(parents=True, exist_ok=True)
    return dest


def drop_displaced(run: RunLayout, arch: str) -> None:
    """The new attempt finished: what it replaced is no longer needed."""
    for p in displaced(run, arch):
        shutil.rmtree(p, ignore_errors=True)
    _remove_if_empty(run.previous)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:  # absent, or still holds another architecture's folder
        pass
