"""`retlab scaling` end to end: a seconds-long real study on tiny sizes (files, counts, plots, the report section,
the console's answer), and the mechanics with a stand-in trial function (resume after a kill, refit only)."""

import json
import math
from pathlib import Path

import pytest

from retlab.config.loader import load_config
from retlab.scaling.analysis import analyse
from retlab.scaling.results import COLUMNS, read_trials
from retlab.scaling.run import scaling
from scaling_stand_in import LAWS, MECH, StandIn, mech


def tiny(root: Path, shared_data: Path, name: str, **scaling_fields):
    """Tiny Shakespeare (300-token BPE, 32-token blocks), 3 sizes of 2k-20k non-embedding parameters, 1024
    tokens (4 steps) each, RetNet and Transformer++, one seed, trained one after another."""
    overrides = {
        "name": name,
        "output_dir": str(root),
        "data.source": "local",
        "data.path": [str(shared_data / "corpora/tinyshakespeare/input.txt")],
        "data.splits": [0.98, 0.01, 0.01],
        "data.seq_len": 32,
        "tokenizer.vocab_size": 300,
        "train.batch_size": 8,
        "train.warmup_steps": 0,
        "train.schedule": "constant",
        "train.val_check_interval": 2,
        "train.limit_val_batches": 2,
        "train.accelerator": "cpu",
        "scaling.parameters": [2000.0, 6000.0, 20000.0],
        "scaling.count": "non_embedding",
        "scaling.aspect_ratio": 16.0,
        "scaling.head_dim": 8,
        "scaling.tokens": 1024,
        "scaling.seeds": [0],
        "scaling.targets": [1.0e6],
        "scaling.bootstrap": 100,
        "sweep.backend": "sequential",
    }
    return load_config(overrides=overrides | {f"scaling.{k}": v for k, v in scaling_fields.items()})


@pytest.fixture(scope="module")
def real_study(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("runs")
    out = scaling(tiny(root, shared_data, "real"))
    return out


def test_a_real_study_writes_every_output(real_study, capsys):
    rows = read_trials(real_study / "results.csv")
    assert list(rows[0]) == COLUMNS and len(rows) == 6  # 3 sizes x 2 archs x 1 seed
    assert all(r["status"] == "done" and math.isfinite(r["test_loss"]) for r in rows)
    trials = real_study.parent / "trials"
    for r in rows:  # the row is the trial's own record
        metrics = json.loads((trials / r["trial_id"] / r["arch"] / "metrics.json").read_text())
        hf = json.loads((trials / r["trial_id"] / r["arch"] / "best/config.json").read_text())
        assert r["parameters"] == metrics["params"] and r["tokens"] == metrics["tokens"] == 1024
        assert (r["hidden_size"], r["num_hidden_layers"], r["intermediate_size"]) == (
            hf["hidden_size"],
            hf["num_hidden_layers"],
            hf["intermediate_size"],
        )
        assert r["train_flops"] == pytest.approx(r["flops_per_token"] * r["tokens"], rel=1e-5)
    for size in {r["size"] for r in rows}:  # the architectures are matched at every size
        params = [r["parameters"] for r in rows if r["size"] == size]
        assert abs(params[0] - params[1]) <= 0.01 * params[0]
    fit = json.loads((real_study / "fit.json").read_text())
    assert fit["fitted"] == ["retnet", "transformer"]
    assert any("only 3 sizes" in w for w in fit["fits"]["parameters"]["retnet"]["warnings"])
    assert (real_study / "summary.md").read_text().count("P(") >= 2
    assert all(
        (real_study / f).stat().st_size > 10_000 for f in ("loss_vs_parameters.png", "loss_vs_flops.png")
    )


def test_fit_json_is_the_fit_of_results_csv(real_study):
    """Anything reported comes from the file beside it: refitting results.csv gives fit.json's numbers."""
    fit = json.loads((real_study / "fit.json").read_text())
    rows = [r for r in read_trials(real_study / "results.csv") if r["status"] == "done"]
    targets = [{k: t[k] for k in ("parameters", "flops")} for t in fit["targets"]]
    again = json.loads(json.dumps(analyse(rows, fit["archs"], targets, fit["bootstrap"], seed=0)))
    for axis in ("parameters", "flops"):
        for arch in fit["fitted"]:
            for key in ("E", "A", "alpha", "E_ci95", "alpha_ci95", "range"):
                assert again["fits"][axis][arch][key] == pytest.approx(fit["fits"][axis][arch][key])
    assert again["targets"] == fit["targets"]


def test_the_report_has_the_scaling_section(real_study):
    from retlab.report.report import build_report

    page = build_report(None, [str(real_study.parent)])
    md = (page.parent / "README.md").read_text()
    assert "## Scaling" in md and "Predictions at the target sizes" in md
    assert "![loss_vs_parameters](loss_vs_parameters.png)" in md
    assert (page.parent / "loss_vs_flops.png").is_file()
    assert "data:image/png;base64," in page.read_text()


def test_the_plots_draw_each_architecture_in_its_palette_colour(real_study, tmp_path, monkeypatch):
    from matplotlib.colors import to_hex

    import retlab.report.scaling as plots
    from retlab.report import palette

    colours: dict[str, dict[str, set[str]]] = {}

    def capture(fig, path):
        mine = colours.setdefault(path.name, {})
        for ax in fig.axes:
            for line in ax.lines:
                arch = line.get_label().split(":")[0].split(" ")[0]
                mine.setdefault(arch, set()).add(to_hex(line.get_color()))
            for c in ax.collections:  # the trials' dots and the bands
                mine.setdefault("_collections", set()).update(to_hex(col) for col in c.get_facecolor())
        return save(fig, path)

    save = plots._save
    monkeypatch.setattr(plots, "_save", capture)
    fit = json.loads((real_study / "fit.json").read_text())
    fit["archs"].reverse()  # the colour follows the architecture, not its place in `compare`
    plots.scaling_plots(fit, read_trials(real_study / "results.csv"), tmp_path)
    assert set(colours) == {"loss_vs_parameters.png", "loss_vs_flops.png"}
    for name, by_label in colours.items():
        for arch in fit["fitted"]:
            assert by_label[arch] == {palette.color(arch)}, (name, arch)
        assert {palette.color(a) for a in fit["archs"]} <= by_label["_collections"]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_resume_after_a_kill_runs_only_the_missing_trials(tmp_path, capsys):
    """4 sizes x 2 archs x 2 seeds with the stand-in: killed during the 6th trial, re-run, re-run again once
    everything is done."""
    cfg = mech(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        scaling(cfg, trial_fn=StandIn(interrupt_at=6))
    rows = read_trials(tmp_path / "mech/scaling/trials.csv")  # the progress of a study that has not finished
    done = {r["trial_id"] for r in rows if r["status"] == "done"}
    assert len(rows) == 16 and len(done) == 5
    assert not any(
        (tmp_path / "mech/scaling" / f).exists() for f in ("results.csv", "fit.json", "summary.md")
    )

    again = StandIn()
    out = scaling(cfg, trial_fn=again)
    assert len(again.calls) == 11 and not done & set(again.calls)
    assert not (out / "trials.csv").exists() and len(read_trials(out / "results.csv")) == 16
    fit = json.loads((out / "fit.json").read_text())
    for arch, law in LAWS.items():  # the stand-in's laws come back through the whole pipeline
        assert fit["fits"]["parameters"][arch]["alpha"] == pytest.approx(law.alpha, abs=0.03)
    at, n = fit["targets"][0]["predictions"]["parameters"], fit["targets"][0]["parameters"]
    assert at["lower"] == "retnet" and at["p_lower"] > 0.95  # lower E and steeper: lower at 1e6
    assert at["loss"]["retnet"] == pytest.approx(float(LAWS["retnet"](n)), rel=0.02)
    text = capsys.readouterr().out
    assert "Predictions at the target sizes" in text.rsplit("## Trials", 1)[-1]  # the answer comes last
    assert "P(retnet lower) = 100% (confident)" in text

    third = StandIn()
    scaling(cfg, trial_fn=third)  # everything done: nothing trains, the fit is rewritten
    assert third.calls == []
    assert json.loads((out / "fit.json").read_text())["fits"] == fit["fits"]

    cfg.scaling.targets, cfg.scaling.bootstrap, cfg.scaling.seeds = [1.0e6, 1.0e7], 300, [0]
    fourth = StandIn()
    scaling(cfg, trial_fn=fourth)  # the study's own settings changed, the trials did not: refit only
    assert fourth.calls == []
    assert len(json.loads((out / "fit.json").read_text())["targets"]) == 2


def test_a_finished_study_keeps_its_outputs_until_a_new_one_has_replaced_them(tmp_path, monkeypatch):
    """A re-run with a fourth size, killed during a trial and then while it writes its own outputs, leaves the
    finished study's results.csv and fit.json as they were; the old config then resumes to the same numbers
    without training."""
    import retlab.scaling.run as run_module

    sizes = MECH["scaling.parameters"]
    cfg = mech(tmp_path, seeds=[0], parameters=sizes[:3], bootstrap=100)
    out = scaling(cfg, trial_fn=StandIn())
    finished = snapshot(out)
    bigger = mech(tmp_path, seeds=[0], parameters=sizes, bootstrap=100)
    with pytest.raises(KeyboardInterrupt):
        scaling(bigger, trial_fn=StandIn(interrupt_at=2))
    progress = ("trials.csv", "sessions.json")  # rewritten as a study runs, by design
    assert {k: v for k, v in snapshot(out).items() if k not in progress} == {
        k: v for k, v in finished.items() if k not in progress
    }
    assert sum(r["status"] == "done" for r in read_trials(out / "trials.csv")) == 7

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "atomic_write_json", killed)  # killed just before fit.json
    with pytest.raises(KeyboardInterrupt):
        scaling(bigger, trial_fn=StandIn())
    assert all(snapshot(out)[f] == finished[f] for f in ("results.csv", "fit.json"))
    monkeypatch.undo()

    back = StandIn()
    scaling(cfg, trial_fn=back)
    assert back.calls == [] and not (out / "trials.csv").exists()
    assert all(snapshot(out)[f] == finished[f] for f in ("results.csv", "fit.json", "summary.md"))


def test_check_writes_nothing_and_knows_the_sizes_once_the_data_is_prepared(tmp_path, capsys):
    """`retlab scaling --check` runs the study's checks: before the data exists those that need no vocabulary;
    once it is prepared, also each size's shape and budget, so a bad budget is refused without a write."""
    from cli_helpers import run

    argv = ["scaling", "--output_dir", str(tmp_path), "--name", "mech", "--scaling.seeds", "[0]"]
    for key, value in MECH.items():
        argv += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    code, stdout, err = run([*argv, "--check"], capsys)
    assert code == 0 and "check out" in stdout and not any(tmp_path.iterdir()), err
    code, _, err = run([*argv, "--scaling.parameters", "[2000, 6000]", "--check"], capsys)
    assert code == 2 and "scaling.parameters: gives 2 sizes" in err and not any(tmp_path.iterdir())
    code, _, err = run([*argv, "--scaling.tokens", "100", "--check"], capsys)  # no data yet: not known
    assert code == 0 and not any(tmp_path.iterdir()), err

    code, _, err = run([*argv, "--scaling.tokens", "100"], capsys)  # prepares the data, then refuses
    assert code == 2 and err.count("\n") == 1 and "less than one batch" in err, err
    prepared = snapshot(tmp_path)
    code, _, err = run([*argv, "--scaling.tokens", "100", "--check"], capsys)
    assert code == 2 and err.count("\n") == 1 and "less than one batch" in err, err
    code, stdout, err = run([*argv, "--check"], capsys)
    assert code == 0 and "check out" in stdout, err
    assert snapshot(tmp_path) == prepared and not (tmp_path / "mech/trials").exists()
