"""docs/findings.md: every table is what `retlab.report.findings` renders from the raw results committed beside it,
every other number in its prose is in a table or a cited publication, and each findings config runs end to end
(a seconds-long smoke with tiny overrides) into raw files the renderer reads."""

import csv
import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer
from tables import md_tables, shows_interval

from retlab.config.loader import load_config
from retlab.report import findings, findings_plots
from retlab.report import format as fmt
from retlab.report.findings_scaling import README_BLOCKS
from retlab.report.palette import color
from retlab.scaling.run import scaling
from retlab.sweep.run import sweep
from retlab.utils.files import atomic_write_json, read_json
from scaling_stand_in import StandIn, mech

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "findings.md"
README = REPO / "README.md"
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
    assert {"lm", "position", "mqar", "decode"} <= set(generated)
    mine = {name: table for name, table in generated.items() if name not in README_BLOCKS}
    written = findings.blocks(doc)
    assert set(mine) <= set(written), "raw results without a block"
    for name, table in written.items():  # a block waits for its raw files only while they are absent
        expected = mine.get(name, findings.PENDING)
        assert table == expected, f"table {name!r} differs from what the raw files give: re-render it"


def test_readme_scaling_tables_are_rendered_from_the_committed_scaling_study():
    generated = findings.tables(RAW, INFER)
    if "scaling-readme" not in generated:
        pytest.skip("docs/findings/scaling is not collected yet (README keeps its hand-written tables)")
    assert (
        findings.blocks(README.read_text(encoding="utf-8"))["scaling-readme"] == generated["scaling-readme"]
    )
    assert_shows_fit(generated["scaling"], read_json(RAW / "scaling" / "fit.json"))


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
    pending = findings.blocks(doc)["scaling"] == findings.PENDING  # its plots come with its raw files
    for rel in images:
        assert (DOC.parent / rel).is_file() or (pending and rel.startswith("findings/scaling/")), rel


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
    cfg.sweep.backend = "sequential"  # the configs' Ray (two at a time) only costs a smoke its start-up
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
    times = findings.read_rows(raw / kind / findings.TIMES)
    assert [t["trial_id"] for t in times] == [r["trial_id"] for r in rows]
    assert all(t["started_at"] <= t["finished_at"] for t in times)
    (session,) = json.loads((raw / kind / "sessions.json").read_text())  # the sweep's own record, copied
    assert session["trials"] == 4 and session["started_at"] <= min(t["started_at"] for t in times)
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
    assert f"| `configs/{name}.yaml` | 4 |" in generated["timing"]
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


# ------------------------------------------------------------ the scaling section (issue 14)


def assert_shows_fit(block: str, fit: dict) -> None:
    """The scaling block shows fit.json: every prediction with its interval, the predicted winner and how sure,
    every law's E, A and alpha with their intervals, every crossover statement and every warning."""
    parts = dict(re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", block, re.M | re.S))
    predictions = md_tables(parts["Predictions at the target sizes"])
    for axis, table in zip(("parameters", "flops"), predictions, strict=True):
        rows = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
        for t in fit["targets"]:
            p, row = t["predictions"][axis], rows[fmt.magnitude(t["parameters"])]
            for arch in fit["fitted"]:
                assert shows_interval(row[f"{arch} loss [95%]"], p["loss"][arch], *p["loss_ci95"][arch]), row
            assert row["predicted lower"] == f"**{p['lower']}**"
            shown = float(re.search(r"= ([\d.]+)%", row["how sure"]).group(1))
            assert math.isclose(shown, 100 * p["p_lower"], rel_tol=5e-3, abs_tol=0.05), row
            assert ("not to be trusted" in row["how sure"]) == bool(p.get("unreliable")), row
    (fits,) = md_tables(parts["Fits"])
    rows = {(r[0], r[1]): dict(zip(fits[0], r, strict=True)) for r in fits[1:]}
    for axis, by_arch in fit["fits"].items():
        for arch, f in by_arch.items():
            row = rows[arch, axis]
            for name, head in (("E", "E [95%]"), ("A", "A [95%]"), ("alpha", "alpha [95%]")):
                assert shows_interval(row[head], f[name], *f[f"{name}_ci95"], rel=5e-3), (row, name)
    for by_pair in fit["crossovers"].values():
        assert all(c["statement"] in parts["Crossover"] for c in by_pair.values())
    warnings = fit["warnings"] + [
        w for fits in fit["fits"].values() for f in fits.values() for w in f["warnings"]
    ]
    assert all(w in parts["Warnings"] for w in warnings)


def test_a_scaling_study_is_collected_and_rendered_into_findings_and_readme(tmp_path, capsys):
    """A finished study (the stand-in trains nothing: seconds) -> `collect --scaling` -> `render`: the scaling
    block shows its fit.json, README's block its trials and predictions, the timing block its wall time, and the
    plots are redrawn; the other blocks are left as they were."""
    study = scaling(
        mech(tmp_path / "runs", parameters=[2000.0, 6000.0, 20000.0], bootstrap=100), trial_fn=StandIn()
    )
    sessions = read_json(study / "sessions.json")
    assert len(sessions) == 1 and sessions[0]["trials"] == 12 and sessions[0]["finished_at"]
    raw = tmp_path / "raw"
    assert findings.main(["collect", "--scaling", str(tmp_path / "runs" / "mech"), "--out", str(raw)]) == 0
    assert {p.name for p in (raw / "scaling").iterdir()} == {
        "results.csv", "fit.json", "summary.md", "loss_vs_parameters.png", "loss_vs_flops.png", "sessions.json",
        "trial_times.csv",
    }  # fmt: skip
    (study / "sessions.json").rename(tmp_path / "sessions.json")  # a study run before sessions were recorded
    assert findings.main(["collect", "--scaling", str(tmp_path / "runs" / "mech"), "--out", str(raw)]) == 0
    assert not (raw / "scaling" / "sessions.json").exists()  # no stale record of an earlier collect
    (tmp_path / "sessions.json").rename(study / "sessions.json")
    assert findings.main(["collect", "--scaling", str(tmp_path / "runs" / "mech"), "--out", str(raw)]) == 0
    doc, readme = tmp_path / "findings.md", tmp_path / "README.md"
    shutil.copy(DOC, doc)
    shutil.copy(README, readme)
    for png in (raw / "scaling").glob("*.png"):
        png.unlink()
    argv = [
        "render",
        "--raw",
        str(raw),
        "--doc",
        str(doc),
        "--readme",
        str(readme),
        "--infer",
        str(tmp_path / "x"),
    ]
    assert findings.main(argv) == 0
    written, before = findings.blocks(doc.read_text()), findings.blocks(DOC.read_text())
    fit = read_json(raw / "scaling" / "fit.json")
    assert_shows_fit(written["scaling"], fit)
    assert "train 4 or more sizes" in written["scaling"]  # 3 sizes: the fit's own warning reaches the doc
    assert all(written[k] == before[k] for k in ("lm", "mqar", "position", "decode"))
    (timing,) = md_tables(written["timing"])
    assert timing[1][:5] == ["`configs/mech.yaml`", "12", timing[1][2], "1 recorded session", timing[1][4]]
    shown = findings.blocks(readme.read_text())["scaling-readme"]
    assert "### Trials" in shown and "### Predictions at the target sizes" in shown
    assert readme.read_text().replace(shown, "") == README.read_text().replace(
        findings.blocks(README.read_text())["scaling-readme"], ""
    )  # nothing else in README changed
    assert (raw / "scaling" / "loss_vs_parameters.png").is_file() and (
        raw / "scaling" / "loss_vs_flops.png"
    ).is_file()


def test_collect_refuses_a_scaling_study_that_has_not_finished(tmp_path):
    (tmp_path / "scaling").mkdir()
    (tmp_path / "scaling" / "trials.csv").write_text("trial_id,status\na,done\n")  # still running
    with pytest.raises(SystemExit, match="run its `retlab scaling` to the end first"):
        findings.main(["collect", "--scaling", str(tmp_path), "--out", str(tmp_path / "raw")])
    assert not (tmp_path / "raw").exists()


# ------------------------------------------------------------ timing: wall time with trials side by side


def test_a_trials_span_is_read_from_its_files(tmp_path):
    metrics = tmp_path / "retnet" / "metrics.json"
    atomic_write_json(metrics, {"wall_time_s": 100.0})
    atomic_write_json(tmp_path / "eval" / "results.json", {})
    t = 1_800_000_000
    os.utime(metrics, (t, t))
    os.utime(tmp_path / "eval" / "results.json", (t + 50, t + 50))  # `retlab eval` after training
    span = findings.trial_span(tmp_path, "retnet")
    assert (
        findings._seconds(span["started_at"]) == t - 100 and findings._seconds(span["finished_at"]) == t + 50
    )


def _times(folder: Path, spans: list[tuple[int, int]], sessions=None) -> None:
    t0 = 1_800_000_000
    rows = [
        {
            "trial_id": f"t{i}",
            "arch": "retnet",
            "started_at": findings._utc(t0 + a),
            "finished_at": findings._utc(t0 + b),
        }
        for i, (a, b) in enumerate(spans)
    ]
    findings.write_csv(folder / findings.TIMES, rows, list(rows[0]))
    if sessions is not None:
        atomic_write_json(folder / "sessions.json", [
            {"started_at": findings._utc(t0 + a), "finished_at": b if b is None else findings._utc(t0 + b)}
            for a, b in sessions
        ])  # fmt: skip


def test_timing_gives_each_sweeps_wall_time_not_the_sum_of_its_trials(tmp_path):
    """Two trials side by side then one: 200 s of wall time for 300 s of trials. Recorded sessions (all
    finished) give the wall time; without them, or with one killed, the trials' first start to last end does."""
    _times(tmp_path / "lm", [(0, 100), (0, 100), (100, 200)])
    _times(tmp_path / "mqar", [(0, 100), (0, 100), (100, 200)], sessions=[(0, 60), (500, 560)])
    (table,) = md_tables(findings.timing_table(tmp_path, ["lm", "mqar"]))
    rows = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    lm, mqar = rows["`configs/findings-lm.yaml`"], rows["`configs/findings-mqar.yaml`"]
    assert (lm["wall time (min)"], lm["wall time from"], lm["most trials at once"]) == (
        "3.3",
        "trial file times",
        "2",
    )
    assert (lm["trial times, summed (min)"], lm["median per trial (min)"]) == ("5.0", "1.7")
    assert (mqar["wall time (min)"], mqar["wall time from"]) == ("2.0", "2 recorded sessions")
    _times(tmp_path / "mqar", [(0, 100)], sessions=[(0, 60), (500, None)])  # the second session was killed
    (table,) = md_tables(findings.timing_table(tmp_path, ["mqar"]))
    assert table[1][2:5] == ["1.7", "trial file times", "1"]


# ------------------------------------------------------------ plots at the configs' grids: 3 seq_lens, 3 sizes


def _mqar_rows() -> list[dict]:
    rows = []
    for seq_len in (32, 64, 128):
        for arch in ("retnet", "transformer"):
            for seed in (0, 1, 2):
                acc = (
                    {2: 0.9, 4: 0.7, 8: 0.5}
                    if arch == "transformer"
                    else {2: 64 / seq_len / 2, 4: 0.3, 8: 0.2}
                )
                row = {"trial_id": f"{seq_len}{arch}{seed}", "arch": arch, "seed": seed, "seq_len": seq_len}
                row |= {f"mqar/accuracy_kv{k}": v + 0.01 * seed for k, v in acc.items()}
                rows.append(row | {"mqar/accuracy": sum(acc.values()) / 3, "mqar/chance_accuracy": 1 / 18})
    return rows


def _capture(monkeypatch) -> dict:
    figures = {}

    def capture(fig, path):
        figures[Path(path).name] = fig
        return path

    monkeypatch.setattr(findings_plots, "_save", capture)
    return figures


def test_mqar_plots_show_accuracy_against_pairs_and_against_sequence_length(monkeypatch, tmp_path):
    figures, rows = _capture(monkeypatch), _mqar_rows()
    findings_plots.mqar_accuracy(rows, findings.kv_keys, tmp_path / "a.png")
    findings_plots.mqar_vs_seq_len(rows, findings.kv_keys, tmp_path / "b.png")
    by_pairs, by_length = figures["a.png"].axes, figures["b.png"].axes
    assert [ax.get_title() for ax in by_pairs] == [
        "sequence length 32",
        "sequence length 64",
        "sequence length 128",
    ]
    assert [ax.get_title() for ax in by_length] == ["2 pairs", "4 pairs", "8 pairs", "all pair counts"]
    for ax in [*by_pairs, *by_length]:
        bars = {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}
        assert set(bars) == {"RetNet", "Transformer++"}
        assert {bars[n].lines[0].get_color() for n in bars} == {color("retnet"), color("transformer")}
        assert any(
            line.get_label() == "chance" and line.get_ydata()[0] == pytest.approx(100 / 18)
            for line in ax.lines
        )
    retnet = {c.get_label(): c for c in by_length[0].containers}["RetNet"].lines[0]
    assert list(retnet.get_xdata()) == [32, 64, 128]
    assert list(retnet.get_ydata()) == pytest.approx([100 + 1, 50 + 1, 25 + 1])  # mean of the 3 seeds, in %


def test_lm_plots_and_tables_take_three_sizes(monkeypatch, tmp_path):
    figures, rows = _capture(monkeypatch), []
    for hidden, params in ((96, 1_000_000), (192, 3_300_000), (352, 9_500_000)):
        for arch in ("retnet", "transformer"):
            for seed in (0, 1, 2):
                rows.append({
                    "trial_id": f"{hidden}{arch}{seed}", "arch": arch, "seed": seed, "hidden_size": hidden,
                    "seq_len": 128, "params": params + (arch == "transformer"), "tokens": 245760,
                    "perplexity/ppl": 100.0 - hidden / 10 + seed, "perplexity/loss": 4.6 - hidden / 1000 + seed / 100,
                })  # fmt: skip
    findings_plots.ppl_vs_params(rows, tmp_path / "p.png")
    (ax,) = figures["p.png"].axes
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == [
        "1,000,000",
        "3,300,000",
        "9,500,000",
    ]
    assert {c.get_label() for c in ax.containers} == {"RetNet", "Transformer++"}
    table = md_tables(findings.lm_table(rows))[0]
    assert [r[0] for r in table[1:]] == ["96", "192", "352"]
