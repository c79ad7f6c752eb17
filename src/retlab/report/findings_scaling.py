"""The scaling section of docs/findings.md and README's scaling tables, from what a finished `retlab scaling`
study wrote (see scaling/run.py), in the two steps of findings.py:

    collect --scaling runs/scaling-small   its scaling/ folder -> docs/findings/scaling/: results.csv, fit.json,
                                           summary.md, loss_vs_parameters.png, loss_vs_flops.png, sessions.json
                                           (when the study recorded it) and trial_times.csv (findings.py)
    render                                 block `findings:scaling` of docs/findings.md: the predictions at the
                                           target sizes, the crossovers, the fitted laws and the warnings;
                                           block `findings:scaling-readme` of README.md: the trials and the
                                           predictions; both plots redrawn from fit.json and results.csv

Every table and statement is scaling/summary.py's, the one text of a study (what `retlab scaling` prints and
writes as summary.md), read from fit.json and results.csv: nothing is refitted here."""

from pathlib import Path

from ..layout import RunLayout
from ..scaling.results import read_trials
from ..scaling.summary import sections
from ..utils.files import read_json

FILES = ("results.csv", "fit.json", "summary.md", "loss_vs_parameters.png", "loss_vs_flops.png")
BLOCKS = {
    "scaling": ("predictions", "crossovers", "fits", "warnings"),  # docs/findings.md
    "scaling-readme": ("trials", "predictions"),  # README.md
}
README_BLOCKS = {"scaling-readme"}


def collect_scaling(study_root: Path, out: Path) -> int:
    """Copy the finished study at `study_root` into `out` (its scaling/ files and the trials' times); returns the
    number of trials. Refuses a study that has not finished or has trials that are not done."""
    from .findings import copy_or_drop, write_trial_times

    study_root, out = Path(study_root), Path(out)
    folder = RunLayout(study_root).scaling
    if not all((folder / name).is_file() for name in ("fit.json", "results.csv")):
        raise SystemExit(
            f"findings: {folder} has no fit.json and results.csv: run its `retlab scaling` to the end first"
        )
    rows = read_trials(folder / "results.csv")
    pending = [r["trial_id"] for r in rows if r["status"] != "done"]
    if pending:
        raise SystemExit(
            f"findings: {study_root} has trials that are not done {pending}: re-run its `retlab scaling` first"
        )
    for name in [*FILES, "sessions.json"]:
        copy_or_drop(folder / name, out / name)
    write_trial_times(out, [(r["trial_id"], r["arch"], study_root / "trials" / r["trial_id"]) for r in rows])
    return len(rows)


def study_name(raw: Path) -> str:
    """The study's name, from the title of its summary.md (`# Scaling study `<name>``)."""
    first = (Path(raw) / "summary.md").read_text(encoding="utf-8").splitlines()[0]
    return first.split("`")[1]


def scaling_blocks(raw: Path) -> dict[str, str]:
    """{block name: markdown} from `raw` (docs/findings/scaling), or {} when it holds no study. The summary's
    headings go one level down, under the section that holds the block."""
    raw = Path(raw)
    if not (raw / "fit.json").is_file():
        return {}
    fit, rows = read_json(raw / "fit.json"), read_trials(raw / "results.csv")
    parts = sections(study_name(raw), fit, rows, fit.get("count", "total"))
    out = {}
    for block, names in BLOCKS.items():
        lines = [("#" + ln if ln.startswith("#") else ln) for name in names for ln in parts[name]]
        out[block] = "\n".join(lines).strip("\n")
    return out


def scaling_plots(raw: Path) -> list[Path]:
    """Both plots of the study, redrawn into `raw` from its fit.json and results.csv."""
    from .scaling import scaling_plots as draw

    raw = Path(raw)
    if not (raw / "fit.json").is_file():
        return []
    return draw(read_json(raw / "fit.json"), read_trials(raw / "results.csv"), raw)
