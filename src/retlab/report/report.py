"""`retlab report RUN [RUN ...]`: one comparison report of run folders, as Markdown and as self-contained HTML.

Writes `<first run>/report/README.md` (PNGs beside it) and `<first run>/report/index.html` (the same content,
PNGs embedded, so it can be mailed or attached). Every section tolerates missing pieces and says "not run"."""

import datetime
from functools import partial
from pathlib import Path

from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.files import atomic_write_text
from . import palette, sections
from .html import render_html
from .runs import Run

SECTIONS = (
    sections.configs_section,
    sections.loss_section,
    sections.metrics_section,
    sections.eval_section,
    sections.position_loss_section,
    sections.samples_section,
    sections.mqar_section,
    partial(sections.bench_section, kind="infer"),
    partial(sections.bench_section, kind="train"),
    sections.energy_section,
    sections.sweep_section,
    sections.scaling_section,
)


def build_report(cfg, runs: list[str]) -> Path:
    """Write the report of `runs` (run folders; default: the run of `cfg`) and return its `index.html`."""
    run_dirs = [Path(r) for r in runs] if runs else [RunLayout.of(cfg).root]
    for d in run_dirs:
        if not d.is_dir():
            raise ConfigError(
                "runs", f"run folder {str(d)!r} does not exist", "pass folders like runs/<name>"
            )
    loaded = [Run(d) for d in run_dirs]
    palette.register(a for run in loaded for a in run.archs())  # spare colours in `compare` order
    out_dir = RunLayout(run_dirs[0]).report
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [section(loaded, out_dir) for section in SECTIONS]
    shown = [p.strip() for p in parts if isinstance(p, str)]
    missing = [p for p in parts if isinstance(p, sections.NotRun)]
    markdown = "\n\n".join([header(loaded, missing)] + shown) + "\n"
    atomic_write_text(out_dir / "README.md", markdown)
    title = "retlab report: " + ", ".join(r.name for r in loaded)
    page = atomic_write_text(out_dir / "index.html", render_html(markdown, out_dir, title))
    print(f"report: {page} (Markdown: {out_dir / 'README.md'})")
    return page


def header(runs: list[Run], missing: list[sections.NotRun]) -> str:
    """The title, what the report covers, and one line naming what was not run and how to run it."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    names = ", ".join(f"`{r.root}`" for r in runs)
    archs = ", ".join(dict.fromkeys(a for r in runs for a in r.archs())) or "none trained yet"
    lines = ["# retlab report", "", f"Runs: {names}. Architectures: {archs}. Generated {now}."]
    displaced = [f"`{r.name}/previous/{d}`" for r in runs for d in r.displaced()]
    if displaced:
        lines += [
            "",
            f"_A retrain has not finished: {', '.join(displaced)} still "
            f"{'holds' if len(displaced) == 1 else 'hold'} the attempt it displaced; this report shows the new one._",
        ]
    if missing:
        lines += ["", "_Not run here: " + "; ".join(f"{m.what} ({m.how})" for m in missing) + "._"]
    return "\n".join(lines)
