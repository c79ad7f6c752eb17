"""What a person sees: one line per stage, one progress-bar style for every long stage (tokenizing, training by
optimiser step, evaluation tasks, benchmark points, sweep trials), Lightning's banners and known-harmless warnings
silenced (real warnings still shown), and tables drawn by rich to fit the terminal.

Bars draw live on a terminal; elsewhere (a log file, a pipe, a test capturing stdout) each bar prints one line when
it ends, so logs stay one line per stage."""

import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# The loggers of Lightning's rank_zero_info: their INFO lines are its banners ("GPU available: ...", "💡 Tip: ...",
# the limit_val_batches note, "Restoring states from ...", "`Trainer.fit` stopped ..."); their warnings still pass,
# and so do other INFO lines (e.g. each process's "Initializing distributed: GLOBAL_RANK ..." in a DDP run).
LIGHTNING_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "pytorch_lightning.utilities.rank_zero",
    "lightning.pytorch.trainer.connectors.checkpoint_connector",  # "`weights_only` was not set ..." per load
)
# Warnings that say nothing about the user's run (message regexes): silenced; every other warning is shown.
HARMLESS_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # Lightning's own use of a torch API
    r".*does not have many workers which may be a bottleneck.*",  # in-memory token blocks need none
    r".*Checkpoint directory .* exists and is not empty.*",  # resumable runs keep their checkpoints
    r".*`training_step` returned `None`.*",
)
WIDTH = 100
"""Columns the final tables are made to fit."""


def where(path) -> str:
    """A path as a stage line shows it: relative to the current directory when it lies under it."""
    full = os.path.abspath(path)
    here = os.getcwd()
    return os.path.relpath(full, here) if full.startswith(here + os.sep) else str(path)


def per_split(counts: dict[str, int]) -> str:
    """Counts by split as a stage line shows them: `6,500/361/361 train/val/test`."""
    names = "/".join({"validation": "val"}.get(split, split) for split in counts)
    return "/".join(f"{n:,}" for n in counts.values()) + f" {names}"


_live = []  # the bar drawing live now, if any (rich draws one live display at a time)


def quiet_lightning() -> None:
    """Silence Lightning's banners and tips and the known-harmless warnings (idempotent)."""
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def _console():
    from rich.console import Console

    return Console(highlight=False)


@contextmanager
def bar(description: str, total: float | None, unit: str = "") -> Iterator:
    """A progress bar for one long stage: `description ━━━━━━ n/total unit time-left info` (about 90 columns
    with training's info). Yields
    `update(advance=0, completed=None, info=None)`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = _console()
    columns = [
        TextColumn("{task.description}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(compact=True, elapsed_when_finished=True),  # time left; when done, time taken
        TextColumn("{task.fields[info]}"),
    ]
    progress = Progress(*columns, console=console, auto_refresh=console.is_terminal, refresh_per_second=4)
    task = progress.add_task(description, total=total, info="")

    def update(advance: float = 0, completed: float | None = None, info: str | None = None) -> None:
        fields = {} if info is None else {"info": info}
        if completed is not None:
            progress.update(task, completed=completed, **fields)
        else:
            progress.update(task, advance=advance, **fields)

    if console.is_terminal and not _live:  # a bar inside another (a sweep's trainings) reports in one line
        _live.append(progress)
        try:
            with progress:
                yield update
        finally:
            _live.pop()
    else:  # one line, at the end
        started = time.perf_counter()
        try:
            yield update
        finally:
            t = progress.tasks[0]
            done = f"{t.completed:.0f}" + (
                f"/{t.total:.0f}" if t.total is not None else ""
            )  # as the bar shows it
            info = f"  {t.fields['info']}" if t.fields["info"] else ""
            print(
                f"{description}: {done} {unit}".rstrip() + f" in {time.perf_counter() - started:.1f} s{info}"
            )


def table(title: str | None, headers: list[str], rows: list[list[str]]) -> str:
    """A table drawn by rich, at most WIDTH columns wide (cells wrap rather than the lines), numbers right-aligned."""
    import io

    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        t.add_row(*row)
    out = io.StringIO()
    Console(file=out, width=WIDTH, force_terminal=False, color_system=None).print(t)
    return out.getvalue().rstrip("\n")
