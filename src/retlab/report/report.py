"""`retlab report RUN [RUN ...]`: one comparison report of run folders, as Markdown and as self-contained HTML.

Writes `<first run>/report/README.md` (PNGs beside it) and `<first run>/report/index.html` (the same content,
PNGs embedded, so it can be mailed or attached). Every section tolerates missing pieces and says "not run"."""

import datetime
from functools import partial
from pathlib import Path

from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.files import atomic_write_text
from . import sections
from .html import render_html
from .runs import Run

SECTIONS = (
    sections.configs_section,
    sections.loss_section,
    sections.metrics_section,
    sections.lm_eval_section,
    sections.position_loss_section,
    sections.samples_section,
    sections.mqar_section,
    partial(sections.bench_section, kind="infer"),
    partial(sections.bench_section, kind="train"),
    sections.energy_section,
    sections.sweep_section,
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
    out_dir = RunLayout(run_dirs[0]).report
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = "\n\n".join([header(loaded)] + [section(loaded, out_dir) for section in SECTIONS]) + "\n"
    atomic_write_text(out_dir / "README.md", markdown)
    title = "retlab report: " + ", ".join(r.name for r in loaded)
    page = atomic_write_text(out_dir / "index.html", render_html(markdown, out_dir, title))
    print(f"report: {page} (Markdown: {out_dir / 'README.md'})")
    return page


def header(runs: list[Run]) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    names = ", ".join(f"`{r.root}`" for r in runs)
    archs = ", ".join(sorted({a for r in runs for a in r.archs()})) or "none trained yet"
    return f"# retlab report\n\nRuns: {names}. Architectures: {archs}. Generated {now}."
