"""docs/findings.md: every table is what `retlab.report.findings` renders from the raw results committed beside it,
every other number in its prose is in a table or a cited publication, and each findings config runs end to end
(a seconds-long smoke with tiny overrides) into raw files the renderer reads."""

import csv
import json
import math
import re
from pathlib import Path

import pytest

from retlab.config.loader import load_config
from retlab.report import findings
from retlab.sweep.run import sweep

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "findings.md"
RAW = REPO / "docs" / "findings"
INFER = REPO / "benchmarks" / "results" / "cpu" / "infer.json"
# Figures quoted from publications, not produced here: the GLA paper's 340M-parameter / 15B-token WikiText
# perplexities (Transformer++, RetNet) and the RetNet paper's decoding speed-up (7B model, 8k context).
PUBLISHED = {"28.39", "32.33", "8.4"}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_table_of_findings_md_is_rendered_from_the_committed_raw_results(doc):
    generated = findings.tables(RAW, INFER)
    assert {"lm", "position", "mqar", "decode", "timing"} <= set(generated)
    written = findings.blocks(doc)
    assert set(written) == set(generated), "a block without raw results, or raw results without a block"
    for name, table in generated.items():
        assert written[name] == table, f"table {name!r} differs from what the raw files give: re-render it"


def test_a_table_cell_is_the_mean_and_t_interval_of_its_raw_column(doc):
    """Recomputed here without the renderer: the first row's RetNet perplexity."""
    rows = [r for r in csv.DictReader(open(RAW / "lm" / "trials.csv")) if r["arch"] == "retnet"]
    smallest = min(int(r["hidden_size"]) for r in rows)
    ppl = [float(r["perplexity/ppl"]) for r in rows if int(r["hidden_size"]) == smallest]
    n = len(ppl)
    mean = sum(ppl) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in ppl) / (n - 1))
    t = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}[n]
    cell = f"{mean:.1f} ± {t * sd / math.sqrt(n):.1f}"
    first = findings.blocks(doc)["lm"].splitlines()[2]
    assert first.startswith(f"| {smallest} |") and f"| {cell} |" in first, (first, cell)
    assert n >= 3  # at least 3 seeds everywhere
    for kind in ("lm", "mqar"):
        counts = {}
        for r in csv.DictReader(open(RAW / kind / "trials.csv")):
            counts.setdefault((r["arch"], r.get("hidden_size") or r.get("seq_len")), set()).add(r["seed"])
        assert min(len(s) for s in counts.values()) >= 3, counts


def test_numbers_in_the_prose_come_from_the_tables_or_a_cited_publication(doc):
    """A decimal number outside the generated tables must appear in one of them (or be a published figure)."""
    in_tables = set()
    for table in findings.blocks(doc).values():
        in_tables |= set(re.findall(r"\d[\d,]*\.\d+", table))
    prose = findings.BLOCK.sub("", doc)
    stray = [x for x in re.findall(r"\d[\d,]*\.\d+", prose) if x not in in_tables and x not in PUBLISHED]
    assert not stray, f"numbers in findings.md that no table or publication gives: {stray}"


def test_plots_embedded_in_findings_md_exist(doc):
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", doc)
    assert len(images) >= 4
    for rel in images:
        assert (DOC.parent / rel).is_file(), rel


def test_fill_replaces_only_the_generated_blocks():
    doc = "a 1.5\n<!-- findings:lm -->\nold\n<!-- /findings:lm -->\nb\n<!-- findings:x -->\nkeep\n<!-- /findings:x -->\n"
    out = findings.fill(doc, {"lm": "| new |"})
    assert findings.blocks(out) == {"lm": "| new |", "x": "keep"} and out.startswith("a 1.5\n")


# ------------------------------------------------------------ each findings config, end to end, tiny

TINY = {
    "findings-lm": {
        "tokenizer.vocab_size": 260,
        "data.seq_len": 16,
        "model.num_hidden_layers": 1,
        "model.num_heads": 2,
        "train.batch_size": 4,
        "train.max_steps": 2,
        "train.warmup_steps": 0,
        "train.val_check_interval": 1,
        "train.limit_val_batches": 2,
        "train.log_every_n_steps": 1,
        "eval.batch_size": 64,
    },
    "findings-mqar": {
        "data.mqar.train_examples": 64,
        "data.mqar.val_examples": 16,
        "data.mqar.test_examples": 48,
        "model.hidden_size": 16,
        "train.batch_size": 8,
        "train.max_steps": 2,
        "train.warmup_steps": 0,
        "train.val_check_interval": 1,
        "train.log_every_n_steps": 1,
    },
}
TINY_GRID = {"findings-lm": {"model.hidden_size": [16]}, "findings-mqar": {"data.seq_len": [32]}}


@pytest.mark.parametrize("name", sorted(TINY))
def test_findings_config_runs_end_to_end_into_raw_results_and_tables(
    name, tmp_path, shared_data, monkeypatch
):
    monkeypatch.chdir(REPO)  # the config's data paths are relative to the repository root
    cfg = load_config(REPO / "configs" / f"{name}.yaml", {**TINY[name], "output_dir": str(tmp_path)})
    assert cfg.name == name and cfg.sweep.evaluate and len(cfg.sweep.seeds) >= 3
    cfg.sweep.grid, cfg.sweep.seeds = TINY_GRID[name], [0, 1]
    sweep(cfg)
    kind = name.removeprefix("findings-")
    raw = tmp_path / "raw"
    assert findings.collect(tmp_path / name, raw / kind) == 4
    rows = findings.read_rows(raw / kind / "trials.csv")
    for row in rows:  # each raw row is the trial's own files
        trial = tmp_path / name / "trials" / row["trial_id"]
        metrics = json.loads((trial / row["arch"] / "metrics.json").read_text())
        summary = json.loads((trial / "eval" / "results.json").read_text())["summary"][row["arch"]]
        assert row["params"] == metrics["params"] and row["tokens"] == metrics["tokens"]
        assert {k: row[k] for k in summary} == summary
    curves = findings.read_rows(raw / kind / "curves.csv")
    assert {"train/loss", "val/loss"} <= {c["metric"] for c in curves}
    generated = findings.tables(raw)
    table = generated[kind]
    assert table.count("\n") >= 2 and "RetNet" in table or "retnet" not in table
    if kind == "lm":
        assert "position" in generated and "| 16 | RetNet |" in generated["position"]
        assert (raw / "lm" / "position_loss.csv").is_file()
    else:
        assert "| 32 | RetNet |" in table and "| 32 | Transformer++ |" in table
    assert all(p.is_file() for p in findings.plots(raw))


def test_curves_of_a_resumed_run_keep_the_attempt_that_finished(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text(
        "epoch,step,train/loss,val/loss\n0,9,5.0,\n0,9,,4.9\n0,19,4.5,\n"  # first attempt, killed after step 19
        "0,19,4.4,\n0,29,4.0,\n0,29,,3.9\n"  # resumed from the step-9 checkpoint
    )
    rows = findings.curve_rows(log, "t")
    got = {(r["step"], r["metric"]): r["value"] for r in rows}
    assert got == {(9, "train/loss"): "5.0", (9, "val/loss"): "4.9", (19, "train/loss"): "4.4",
                   (29, "train/loss"): "4.0", (29, "val/loss"): "3.9"}  # fmt: skip
    assert len(rows) == len(got)


def test_collect_refuses_a_sweep_with_unfinished_trials(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "trials.csv").write_text(
        "trial_id,arch,seed,status\na,retnet,0,done\nb,retnet,1,failed\n"
    )
    with pytest.raises(SystemExit, match=r"unfinished trials \['b'\]"):
        findings.collect(tmp_path, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
