"""The report of a small but realistic run folder (conftest.py): every table read back and compared, value by value,
with the file it came from; MQAR accuracy per kv-count with its stderr; one colour per architecture in every
plot; validation as markers; a resumed run's whole history; sections that did not run left out and named once."""

import json
import re

import pytest
import yaml
from fake_run import ARCHS, VOCAB, log_rows, write_arch
from matplotlib.colors import rgb_to_hsv, to_rgb
from tables import html_tables, keyed, md_tables, sections, shows

from retlab.layout import RunLayout
from retlab.report import palette
from retlab.report.format import METRICS
from retlab.report.report import build_report
from retlab.report.runs import Run

SECTIONS = (
    "Configurations",
    "Training and validation",
    "Test metrics",
    "Evaluation",
    "Loss by token position",
    "Generated samples",
    "MQAR accuracy",
    "Decoding benchmark",
    "Training benchmark",
    "Energy",
)


def images_of(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)


def read(run_dir, *parts):
    return json.loads(run_dir.joinpath(*parts).read_text())


# ---------------------------------------------------------------------------------------------------- structure


def test_every_section_and_image_is_present_and_the_page_self_contained(run_dir, report):
    page, markdown = report
    assert page == run_dir / "report" / "index.html"
    html = page.read_text()
    assert list(sections(markdown)) == list(SECTIONS)
    images = images_of(markdown)
    stems = {name.rsplit("/", 1)[-1] for name in images}
    assert {"loss_curves.png", "mqar_accuracy.png", "position_loss.png", "infer_time_per_token.png"} <= stems
    assert {
        "infer_memory.png",
        "infer_state_bytes.png",
        "infer_prefill_memory.png",
        "infer_speedup.png",
    } <= stems
    assert {"train_tokens_per_s.png", "train_memory.png"} <= stems
    for name in images:
        assert (run_dir / "report" / name).read_bytes()[:4] == b"\x89PNG"
    assert html.count('src="data:image/png;base64,') == len(images)  # every image embedded, none linked
    assert not re.search(r'src="(?!data:)', html)


def test_what_did_not_run_is_left_out_of_the_contents_and_named_once(run_dir, report):
    page, markdown = report
    nav = re.search(r"<nav>(.*?)</nav>", page.read_text(), re.S).group(1)
    assert "Grid search" not in nav and "## Grid search" not in markdown
    assert "Scaling" not in nav and "## Scaling" not in markdown
    assert all(title in nav for title in SECTIONS)
    (line,) = [ln for ln in markdown.splitlines() if ln.startswith("_Not run here:")]
    assert "grid search (run `retlab sweep --config FILE`)" in line
    assert "scaling (run `retlab scaling --config FILE`)" in line


def test_an_empty_run_names_every_section_as_not_run_and_shows_none(tmp_path):
    """A retrain that moved the old attempt to previous/retnet/ (training/attempts.py) and has no output yet:
    nothing is shown, the displaced attempt is named, and it is not taken for an architecture."""
    run = tmp_path / "empty"
    (RunLayout(run).previous / "retnet").mkdir(parents=True)
    (RunLayout(run).previous / "retnet" / "metrics.json").write_text("{}")
    page = build_report(None, [str(run)])
    markdown = (run / "report" / "README.md").read_text()
    assert "## " not in markdown and "<nav>" not in page.read_text()
    (line,) = [ln for ln in markdown.splitlines() if ln.startswith("_Not run here:")]
    # every section, the grid search and the scaling study, named once each
    assert line.count(";") == len(SECTIONS) + 1
    assert "Architectures: none trained yet." in markdown
    assert "training benchmark (run `retlab bench train`)" in line  # `retlab run` times decoding only
    assert (
        "_A retrain has not finished: `empty/previous/retnet` still holds the attempt it displaced"
        in markdown
    )


def test_no_stray_spaces_and_no_raw_keys_as_prose(report):
    _, markdown = report
    for line in markdown.splitlines():
        assert line == line.rstrip(), line
        if not line.startswith("|"):
            assert "  " not in line and " ." not in line and " ," not in line, line
    assert not re.search(r"\w+/\w+_(constant|growth|over)\w*:", markdown)  # headline keys never shown raw
    assert "True" not in markdown and "False" not in markdown


# ---------------------------------------------------------------------------------------------------- tables


def test_figures_are_right_aligned_and_names_left():
    from retlab.report.sections import md_table

    table = md_table(
        ["decoder", "time", "faster", "speed-up"], [["retnet", 0.5, "transformer-static", "0.82x"]]
    )
    assert table.splitlines()[1] == "|---|--:|---|--:|"
    assert md_table(["x", "target N"], [["a", "1e+09"]]).splitlines()[1] == "|---|--:|"  # powers of ten too


def test_html_tables_are_the_markdown_tables(report):
    page, markdown = report
    assert html_tables(page.read_text()) == md_tables(markdown)


def test_configuration_table_shows_the_values_each_model_used(run_dir, report):
    table = keyed(md_tables(sections(report[1])["Configurations"])[0])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    for arch in ARCHS:
        exported = read(run_dir, arch, "best", "config.json")
        metrics = read(run_dir, arch, "metrics.json")
        assert shows(table["parameters"][arch], metrics["params"])
        for field in ("hidden_size", "num_hidden_layers", "num_heads", "intermediate_size"):
            assert shows(table[f"model.{field}"][arch], exported[field]), field
        assert shows(table["vocabulary (tokens)"][arch], VOCAB)  # not the config's tokenizer.vocab_size
        assert shows(table["train.lr"][arch], config["train"]["lr"])
        assert shows(table["train.max_steps"][arch], config["train"]["max_steps"])
    assert table["model.intermediate_size"] == {"retnet": "176", "transformer": "264"}
    assert table["model.value_dim"]["transformer"] == "–" and table["model.positional"]["retnet"] == "–"
    assert not any(key.startswith("tokenizer.") for key in table)


def test_an_hf_contender_shows_its_fields_under_the_model_sections_names(tmp_path):
    """An `hf:gpt2` export names its fields its own way (n_embd, n_head, n_inner, n_positions): the table reads
    them through its spec, beside the native model's, and shows the run's model.hf_overrides."""
    layout = RunLayout(tmp_path / "three")
    write_arch(layout, "retnet", 0.0)
    hf = layout.arch("hf:gpt2")
    hf.best.mkdir(parents=True)
    exported = {
        "model_type": "gpt2",
        "n_embd": 64,
        "n_layer": 2,
        "n_head": 4,
        "n_inner": 96,
        "n_positions": 32,
    }
    (hf.best / "config.json").write_text(json.dumps(exported | {"vocab_size": VOCAB}))
    hf.metrics.write_text(json.dumps({"params": 140_000, "intermediate_size": 96}))
    overrides = {"gpt2": {"activation_function": "gelu"}}
    layout.config.write_text(
        yaml.safe_dump({"compare": ["retnet", "hf:gpt2"], "model": {"hf_overrides": overrides}})
    )
    build_report(None, [str(layout.root)])
    table = keyed(md_tables(sections((layout.report / "README.md").read_text())["Configurations"])[0])
    hf_column = {k: v["hf:gpt2"] for k, v in table.items()}
    assert hf_column["model.hidden_size"] == "64" and hf_column["model.num_heads"] == "4"
    assert (
        hf_column["model.intermediate_size"] == "96"
        and hf_column["context (max_position_embeddings)"] == "32"
    )
    assert hf_column["model.value_dim"] == "–" and table["model.value_dim"]["retnet"] == "128"
    assert hf_column["model.hf_overrides"] == "{gpt2: {activation_function: gelu}}"


def test_metrics_table_is_metrics_json(run_dir, report):
    table = keyed(md_tables(sections(report[1])["Test metrics"])[0])
    for arch in ARCHS:
        metrics = read(run_dir, arch, "metrics.json")
        for key, (name, kind) in METRICS.items():
            if key not in metrics:
                continue
            scale = {"mib": 2**20}.get(kind, 1)
            assert shows(table[name][arch], metrics[key], scale), (key, table[name][arch])
        logged = [
            r["throughput/tokens_per_s"]
            for r in Run(run_dir).log_rows(arch)
            if "throughput/tokens_per_s" in r
        ]
        spread = table["training throughput per logged window, median [IQR]"][arch]
        from retlab.bench.timer import summarize

        assert shows(spread, summarize(logged))
    assert table["test loss, best checkpoint (nats/token)"]["retnet"] == "2.7500"  # losses: 4 decimals
    assert table["best validation perplexity"]["retnet"] == "14.90"  # perplexities: 2
    assert table["training tokens"]["retnet"] == "409,600"  # counts: separators


def test_evaluation_table_is_results_json(run_dir, report):
    table = keyed(md_tables(sections(report[1])["Evaluation"])[0])
    results = read(run_dir, "eval", "results.json")["results"]
    for arch in ARCHS:
        acc = results[arch]["lambada_openai"]["acc"]
        assert shows(table["lambada_openai: acc"][arch], acc, 1.0), table["lambada_openai: acc"][arch]
        assert table["lambada_openai: acc"][arch].endswith("%")
        assert shows(table["perplexity: loss"][arch], results[arch]["perplexity"]["loss"])
        assert shows(table["perplexity: ppl"][arch], results[arch]["perplexity"]["ppl"])
    assert not any(k.startswith(("mqar", "position_loss")) for k in table)  # they have sections of their own


def test_mqar_table_shows_each_models_accuracy_per_kv_count_with_stderr(run_dir, report):
    table = keyed(md_tables(sections(report[1])["MQAR accuracy"])[0])
    results = read(run_dir, "eval", "results.json")["results"]
    for arch in ARCHS:
        mqar = results[arch]["mqar"]
        assert shows(table["2 pairs"][arch], mqar["accuracy_kv2"])
        assert shows(table["4 pairs"][arch], mqar["accuracy_kv4"])
        assert shows(table["all queries"][arch], mqar["accuracy"])
        assert shows(table["queries scored"][arch], mqar["n"])
    assert table["2 pairs"]["retnet"] == "98.0% ± 0.7%"
    assert "guessing among the values scores 7.14%" in sections(report[1])["MQAR accuracy"]


def test_position_loss_table_is_results_json(run_dir, report):
    table = keyed(md_tables(sections(report[1])["Loss by token position"])[0])
    results = read(run_dir, "eval", "results.json")["results"]
    for arch in ARCHS:
        bands = results[arch]["position_loss"]
        assert shows(table["0–15 (0x–1x)"][arch], bands["loss_0x_1x"])
        assert shows(table["16–31 (1x–2x)"][arch], bands["loss_1x_2x"])
    assert table["0–15 (0x–1x)"]["retnet"] == "3.4000 ± 0.0500"


def test_decoding_tables_are_infer_json(run_dir, report):
    text = sections(report[1])["Decoding benchmark"]
    decode, speedup, prefill = md_tables(text)
    result = read(run_dir, "bench", "infer.json")
    points = {
        (p["decoder"], p["batch_size"], p["context"]): p for p in result["points"] if "skipped" not in p
    }
    header = decode[0]
    assert len(decode) - 1 == len(points)
    for row in decode[1:]:
        cell = dict(zip(header, row, strict=True))
        p = points[(cell["decoder"], int(cell["batch"]), int(cell["context"].replace(",", "")))]
        assert shows(cell["time per token, median [IQR]"], p["time_per_token_ms"], 1e-3)
        assert shows(cell["decode speed, median [IQR]"], p["decode_tokens_per_s"])
        assert shows(cell["MFU, median [IQR]"], p["mfu"])
        assert shows(cell["state (exact)"], p["state_bytes"])
        assert shows(cell["working memory of one step"], p["decode_step_peak_mib"], 2**20)
    by_point = {(c["decoder"], c["batch_size"], c["context"]): c for c in result["comparisons"]}
    for row in speedup[1:]:
        cell = dict(zip(speedup[0], row, strict=True))
        c = by_point[(cell["decoder"], int(cell["batch"]), int(cell["context"]))]
        assert shows(cell["speed-up over the faster"], c["speedup"]) and cell["faster"] == c["baseline"]
    prefills = {(p["arch"], p["context"]): p for p in result["prefill"]}
    for row in prefill[1:]:
        cell = dict(zip(prefill[0], row, strict=True))
        p = prefills[(cell["arch"], int(cell["context"]))]
        assert shows(cell["prefill time, median [IQR]"], p["prefill_s"])
        assert shows(cell["peak memory of prefill"], p["prefill_peak_mib"], 2**20)
    # the state, in words: constant for RetNet, growing for the dynamic KV cache
    retnet = sorted(p["state_bytes"] for p in result["points"] if p["decoder"] == "retnet")
    assert (
        retnet[0] == retnet[-1] and "State of retnet (batch 1): holds" in text and "at every context" in text
    )


def test_training_table_is_train_json(run_dir, report):
    (table,) = md_tables(sections(report[1])["Training benchmark"])
    result = read(run_dir, "bench", "train.json")
    points = {(p["variant"], p["seq_len"]): p for p in result["points"] if "skipped" not in p}
    assert len(table) - 1 == len(points)
    for row in table[1:]:
        cell = dict(zip(table[0], row, strict=True))
        p = points[(cell["variant"], int(cell["seq len"]))]
        assert shows(cell["step time, median [IQR]"], p["step_s"])
        assert shows(cell["training speed, median [IQR]"], p["tokens_per_s"])
        assert shows(cell["peak memory of a step"], p["peak_mem_mib"], 2**20)


def test_energy_table_sums_emissions_csv(run_dir, report):
    table = keyed(md_tables(sections(report[1])["Energy"])[0])
    for arch in ARCHS:
        assert shows(table[arch]["energy (kWh)"], 3.4e-4) and shows(table[arch]["duration"], 61.2)
        assert shows(table[arch]["energy per million tokens (Wh)"], 3.4e-4 * 1e3 / 0.4096)


def test_samples_are_shown_as_written(run_dir):
    from retlab.report.html import render_html
    from retlab.report.sections import samples_section

    markdown = samples_section([Run(run_dir)], run_dir / "report")
    assert "| retnet | Once upon a time | , retnet \\*met\\* a \\| cat. The end |" in markdown
    html = render_html(markdown, run_dir / "report", "samples")
    assert ", transformer *met* a | cat. The end" in html  # escapes undone by the Markdown renderer


# ---------------------------------------------------------------------------------------------------- plots


def hue(color) -> float:
    return float(rgb_to_hsv(to_rgb(color))[0])


def test_one_colour_per_architecture_in_every_plot(drawn):
    seen = {arch: set() for arch in ARCHS}
    for name, artists in drawn.items():
        for label, _, color, _ in artists:
            arch = palette.arch_of(label.split(",")[0].split(" ")[0], ARCHS)
            if arch in seen:
                assert hue(color) == pytest.approx(hue(palette.color(arch)), abs=0.01), (name, label, color)
                seen[arch].add(name)
    assert hue(palette.color("retnet")) != pytest.approx(hue(palette.color("transformer")), abs=0.05)
    plots = {"loss_curves.png", "mqar_accuracy.png", "position_loss.png", "infer_time_per_token.png"}
    plots |= {"infer_memory.png", "infer_state_bytes.png", "train_tokens_per_s.png"}
    for arch in ARCHS:
        assert plots <= seen[arch], (arch, plots - seen[arch])


def test_mqar_plot_draws_each_models_accuracy_per_kv_count_and_chance(run_dir, drawn):
    results = read(run_dir, "eval", "results.json")["results"]
    artists = {label: (kind, color, artist) for label, kind, color, artist in drawn["mqar_accuracy.png"]}
    for arch in ARCHS:
        kind, color, bars = artists[arch]
        mqar = results[arch]["mqar"]
        expected = [mqar["accuracy_kv2"], mqar["accuracy_kv4"], mqar["accuracy"]]
        assert kind == "bars" and [p.get_height() for p in bars.patches] == [e["value"] for e in expected]
        segments = bars.errorbar.lines[2][0].get_segments()  # one vertical segment per bar: value ± stderr
        assert [s[1][1] - s[0][1] for s in segments] == pytest.approx([2 * e["stderr"] for e in expected])
    (chance,) = [a for label, a in artists.items() if label.startswith("chance")]
    assert chance[2].get_ydata()[0] == pytest.approx(1 / 14) and chance[1] == palette.REFERENCE
    assert not any("chance" in label for label in artists if label in ARCHS)


def test_validation_is_drawn_as_markers_and_training_as_lines(drawn):
    artists = {label: artist for label, _, _, artist in drawn["loss_curves.png"]}
    for arch in ARCHS:
        val = artists[f"{arch} validation"]
        assert val.get_linestyle() == "None" and val.get_marker() == "o"
        assert list(val.get_xdata()) == [50, 100]
        train = artists[f"{arch} train"]
        assert train.get_linestyle() == "-" and list(train.get_xdata()) == list(range(10, 110, 10))


# ---------------------------------------------------------------------------------------------------- history


def test_a_resumed_run_shows_its_whole_history(tmp_path):
    """training/logs.py's logger across a kill and a resume from the step-60 checkpoint: the first session logged
    steps 10-70, the resumed one 60-100 again (offset 0.4). The report reads the whole history from the one
    metrics.csv, each step once, the resumed session's rows from step 60 on."""
    from retlab.training.logs import ResumableCSVLogger

    arch = RunLayout(tmp_path / "resumed").arch("retnet")
    for offset, resume_step, steps in ((0.0, None, range(10, 80, 10)), (0.4, 60, range(60, 110, 10))):
        logger = ResumableCSVLogger(arch.logs, "csv", resume_step)
        for row in log_rows(offset, steps):
            logger.log_metrics({k: v for k, v in row.items() if k != "step"}, step=row["step"])
            logger.save()  # training saves every few steps; a kill after this loses none of them
    rows = Run(tmp_path / "resumed").log_rows("retnet")
    train = [(r["step"], r["train/loss"]) for r in rows if "train/loss" in r]
    assert [s for s, _ in train] == list(range(10, 110, 10))
    assert [loss for _, loss in train] == pytest.approx(
        [5.0 - s / 40 + (0.4 if s >= 60 else 0.0) for s in range(10, 110, 10)]
    )
    assert [r["step"] for r in rows if "val/loss" in r] == [50, 100]


# ---------------------------------------------------------------------------------------------------- two runs


def test_two_runs_side_by_side_with_a_sweep(run_dir, tmp_path):
    from retlab.sweep.results import point_columns
    from retlab.sweep.results import write_csv as write_results

    other = tmp_path / "other"
    write_arch(RunLayout(other), "retnet", 0.3)
    rows = [
        {"point": f"{lr}-{h}", "train.lr": lr, "model.hidden_size": h}
        | {"retnet/test_loss_mean": 3 + lr * h, "transformer/test_loss_mean": 3.1 + lr * h}
        for lr in (0.01, 0.001)
        for h in (32, 64)
    ]
    keys = ["train.lr", "model.hidden_size"]
    write_results(other / "sweep" / "results.csv", rows, point_columns(keys, ["retnet", "transformer"]))
    html = build_report(None, [str(other), str(run_dir)]).read_text()  # written into the first run's folder
    markdown = (other / "report" / "README.md").read_text()
    table = keyed(md_tables(sections(markdown)["Configurations"])[0])
    assert set(table["parameters"]) == {"tiny/retnet", "tiny/transformer", "other/retnet"}
    assert "## Grid search: other" in markdown
    images = images_of(markdown)
    assert any(name.startswith("other/") for name in images)  # the sweep's PNGs, linked from its subfolder
    assert any(name.startswith("tiny/") for name in images)  # the bench plots of the second run, in its own
    for name in images:
        assert (other / "report" / name).is_file(), name
    assert html.count('src="data:image/png;base64,') == len(images)
