"""The report from a small but realistic run folder (files in the formats training, evaluation and bench write):
every section and every image is present, the HTML is self-contained, and missing pieces read "not run"."""

import csv
import json
import re

import pytest

from retlab.bench.infer import bench_infer
from retlab.bench.train import bench_train
from retlab.config.loader import load_config, save_config
from retlab.layout import RunLayout
from retlab.report.report import build_report

SECTIONS = (
    "Configurations",
    "Training and validation loss",
    "Test metrics",
    "lm-eval and evaluation results",
    "Loss by token position (length extrapolation)",
    "Generated samples",
    "MQAR accuracy",
    "Inference benchmark (decoding)",
    "Training benchmark",
    "Energy",
    "Grid search",
)
ARCHS = ("retnet", "transformer")
CSV_HEADER = ["epoch", "grad_norm", "lr", "memory/peak_rss_mib", "step", "throughput/tokens_per_s"]
CSV_HEADER += ["train/loss", "val/loss", "val/mqar_accuracy", "val/ppl"]
EMISSIONS_HEADER = ["timestamp", "project_name", "run_id", "duration", "emissions", "emissions_rate"]
EMISSIONS_HEADER += ["cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy"]
EMISSIONS_HEADER += ["energy_consumed", "country_name", "country_iso_code"]


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def write_arch(layout, arch: str, offset: float) -> None:
    a = layout.arch(arch)
    rows = []
    for step in range(10, 110, 10):  # Lightning writes train rows and validation rows separately
        rows.append(
            {"epoch": 0, "step": step, "lr": 3e-4, "train/loss": 5.0 - step / 40 + offset, "grad_norm": 1.1}
        )
        if step % 50 == 0:
            rows.append({"epoch": 0, "step": step, "val/loss": 4.9 - step / 45 + offset, "val/ppl": 50.0})
    write_csv(a.csv / "metrics.csv", CSV_HEADER, rows)
    metrics = {"arch": arch, "params": 1_234_567, "intermediate_size": 512, "best_val_loss": 2.7 + offset}
    metrics |= {
        "best_val_ppl": 14.9,
        "test_loss": 2.75 + offset,
        "test_ppl": 15.6,
        "test_mqar_accuracy": 0.8 - offset,
    }
    metrics |= {"train_tokens_per_s": 5321.0, "wall_time_s": 61.2, "steps": 100, "tokens": 409_600}
    metrics |= {"fingerprint": "abc123", "best_checkpoint": str(a.checkpoints / "best.ckpt"), "seed": 0}
    a.root.mkdir(parents=True, exist_ok=True)
    a.metrics.write_text(json.dumps(metrics))
    a.best.mkdir(parents=True, exist_ok=True)
    model = {"model_type": f"retlab-{arch}", "hidden_size": 64, "num_hidden_layers": 2, "num_heads": 2}
    (a.best / "config.json").write_text(json.dumps(model | {"intermediate_size": 512, "vocab_size": 256}))
    energy = {"duration": 61.2, "emissions": 1.2e-5, "energy_consumed": 3.4e-4, "country_name": "France"}
    write_csv(a.emissions, EMISSIONS_HEADER, [energy | {"timestamp": "2026-11-29T05:00:00", "run_id": "x"}])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    overrides = {
        "name": "tiny",
        "output_dir": str(tmp_path_factory.mktemp("runs")),
        "compare": ["transformer"],
        "model.hidden_size": 32,
        "model.num_hidden_layers": 1,
        "model.num_heads": 2,
        "bench.vocab_size": 64,
        "bench.contexts": [16, 32],
        "bench.batch_sizes": [1],
        "bench.decode_steps": 2,
        "bench.warmup_steps": 0,
        "bench.train_seq_lens": [16],
        "bench.train_steps": 1,
        "bench.gemm_size": 128,
        "bench.archs": ["transformer"],
        "bench.use_trained": False,  # the fixture's best/ holds a config but no weights
    }
    cfg = load_config(overrides=overrides)
    layout = RunLayout.of(cfg)
    save_config(cfg, layout.config)
    for i, arch in enumerate(ARCHS):
        write_arch(layout, arch, 0.1 * i)
    scores = {arch: {"lambada_openai": {"n": 100, "acc": {"value": 0.31, "stderr": 0.02}}} for arch in ARCHS}
    for i, arch in enumerate(ARCHS):
        scores[arch]["position_loss"] = position_loss_entry(offset=0.5 * i)
    models = {arch: {"path": f"{arch}/best", "params": 1_234_567, "wall_time_s": 3.0} for arch in ARCHS}
    for arch in ARCHS:
        models[arch]["samples"] = [
            {"prompt": "Once upon a time", "text": f", {arch} *met* a | cat.\nThe end"}
        ]
    lm_eval = {"labels": list(ARCHS), "results": scores, "models": models, "settings": {"limit": 100}}
    layout.eval.mkdir(parents=True)
    (layout.eval / "results.json").write_text(json.dumps(lm_eval))
    bench_infer(cfg)
    bench_train(cfg)
    return layout.root


def position_loss_entry(offset: float) -> dict:
    """eval/results.json's position_loss as `retlab eval` writes it (seq_len 16, multiples [1, 2])."""
    start, end = [0, 1, 2, 8, 16, 24], [1, 2, 8, 16, 24, 32]
    loss = [5.0 + offset, 4.0, 3.5 + offset, 3.25, 3.4 + offset, 3.9 + 2 * offset]
    curve = {"start": start, "end": end, "loss": loss, "stderr": [0.1] * 6}
    bands = {
        "loss_0x_1x": {"value": 3.4 + offset, "stderr": 0.05},
        "loss_1x_2x": {"value": 3.6, "stderr": None},
    }
    return {"n": 7, **bands, "seq_len": 16, "multiples": [1, 2], "curve": curve}


def images_of(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)


@pytest.fixture(scope="module")
def report(run_dir):
    return build_report(None, [str(run_dir)])


def test_every_section_and_image_is_present(run_dir, report):
    html_path = report
    assert html_path == run_dir / "report" / "index.html"
    markdown = (run_dir / "report" / "README.md").read_text()
    html = html_path.read_text()
    for title in SECTIONS:
        assert f"## {title}" in markdown
        assert title.replace("(", "").split()[0] in html
    images = images_of(markdown)
    stems = {name.rsplit("/", 1)[-1] for name in images}
    assert {"loss_curves.png", "mqar_accuracy.png", "infer_time_per_token.png", "infer_memory.png"} <= stems
    assert "position_loss.png" in stems
    assert {"infer_state_bytes.png", "train_tokens_per_s.png", "train_memory.png"} <= stems
    for name in images:
        assert (run_dir / "report" / name).read_bytes()[:4] == b"\x89PNG"
    # self-contained: every image embedded, none linked
    assert html.count('src="data:image/png;base64,') == len(images)
    assert not re.search(r'src="(?!data:)', html)
    # only the sweep is missing from this run
    assert markdown.count("_Not run:") == 1 and "no `sweep/results.csv`" in markdown


def test_tables_carry_the_run_contents(run_dir, report):
    markdown = (run_dir / "report" / "README.md").read_text()
    assert "| params | 1,234,567 | 1,234,567 |" in markdown
    assert "| lambada_openai/acc | 0.31 ± 0.02 | 0.31 ± 0.02 |" in markdown
    assert "France" not in markdown and "0.00034" in markdown  # energy_kwh summed from emissions.csv
    assert "| model.hidden_size | 32 |" in markdown
    for decoder in ("transformer-dynamic", "transformer-static"):  # both KV caches, timings with their IQR
        assert re.search(rf"\| {decoder} \| 1 \| 16 \| [\d.]+ \[[\d.]+-[\d.]+\] \|", markdown)


def test_an_empty_run_reports_every_section_as_not_run(tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    build_report(None, [str(run)])
    markdown = (run / "report" / "README.md").read_text()
    assert markdown.count("_Not run:") == len(SECTIONS)


def test_two_runs_side_by_side_with_a_sweep(run_dir, tmp_path):
    from retlab.sweep.results import point_columns, write_csv

    other = tmp_path / "other"
    write_arch(RunLayout(other), "retnet", 0.3)
    rows = [
        {"point": f"{lr}-{h}", "train.lr": lr, "model.hidden_size": h}
        | {"retnet/test_loss_mean": 3 + lr * h, "transformer/test_loss_mean": 3.1 + lr * h}
        for lr in (0.01, 0.001)
        for h in (32, 64)
    ]
    keys = ["train.lr", "model.hidden_size"]
    write_csv(other / "sweep" / "results.csv", rows, point_columns(keys, ["retnet", "transformer"]))
    html = build_report(None, [str(run_dir), str(other)]).read_text()
    markdown = (run_dir / "report" / "README.md").read_text()
    assert "tiny/retnet" in markdown and "other/retnet" in markdown
    assert "## Grid search: other" in markdown
    images = images_of(markdown)
    assert any(name.startswith("other/") for name in images)  # the sweep's PNGs, linked from its subfolder
    for name in images:
        assert (run_dir / "report" / name).is_file(), name
    assert html.count('src="data:image/png;base64,') == len(images)


def test_position_loss_table_and_plot_come_from_results_json(run_dir, monkeypatch):
    import retlab.report.plots as plots
    from retlab.report.runs import Run
    from retlab.report.sections import position_loss_section

    drawn = {}

    def capture(fig, path):  # the plotted lines, before the figure is saved and closed
        ax = fig.axes[0]
        drawn[path.name] = {
            line.get_label(): line.get_ydata().tolist()
            for line in ax.lines
            if not line.get_label().startswith("_")
        }
        drawn["colors"] = [line.get_color() for line in ax.lines if not line.get_label().startswith("_")]
        return save(fig, path)

    save = plots._save
    monkeypatch.setattr(plots, "_save", capture)
    results = json.loads((run_dir / "eval" / "results.json").read_text())
    markdown = position_loss_section([Run(run_dir)], run_dir / "report")
    for arch in ARCHS:
        assert drawn["position_loss.png"][arch] == results["results"][arch]["position_loss"]["curve"]["loss"]
    assert len(set(drawn["colors"])) == len(ARCHS)  # one colour per architecture
    assert "| loss_0x_1x | 3.4 ± 0.05 | 3.9 ± 0.05 |" in markdown
    assert "| loss_1x_2x | 3.6 | 3.6 |" in markdown
    assert "7 windows of 32 tokens" in markdown


def test_samples_are_shown_as_written(run_dir):
    from retlab.report.html import render_html
    from retlab.report.runs import Run
    from retlab.report.sections import samples_section

    markdown = samples_section([Run(run_dir)], run_dir / "report")
    assert "| retnet | Once upon a time | , retnet \\*met\\* a \\| cat. The end |" in markdown
    html = render_html(markdown, run_dir / "report", "samples")
    assert ", transformer *met* a | cat. The end" in html  # escapes undone by the Markdown renderer
