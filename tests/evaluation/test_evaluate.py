"""`retlab eval` end to end on a run folder: every architecture side by side, results.json written and cached by
fingerprint, MQAR runs scored by recall accuracy, and wrong inputs as one-line ConfigErrors."""

import json
import math

import pytest

from retlab.data.download import iter_documents, splits_dir
from retlab.errors import ConfigError
from retlab.evaluation.checkpoints import resolve_models
from retlab.evaluation.evaluate import evaluate
from retlab.layout import RunLayout

from .conftest import ARCHS, run_config


@pytest.fixture(scope="module")
def text_cfg(run_dir, corpus, eval_data):
    return run_config(
        run_dir, corpus, **{"eval.tasks": ["piqa"], "eval.limit": 2, "eval.data_dir": str(eval_data)}
    )


@pytest.fixture(scope="module")
def evaluated(text_cfg):
    return evaluate(text_cfg, force=True)


def test_results_cover_every_architecture_and_task(evaluated, text_cfg):
    assert list(evaluated["results"]) == ARCHS
    for arch in ARCHS:
        scores = evaluated["results"][arch]
        assert set(scores) == {"perplexity", "piqa"}
        assert scores["piqa"]["n"] == 2
        assert evaluated["summary"][arch]["piqa/acc"] == scores["piqa"]["acc"]["value"]
        assert evaluated["models"][arch]["params"] > 0
    on_disk = json.loads((RunLayout.of(text_cfg).eval / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(evaluated))


def test_perplexity_is_over_the_test_split(evaluated, text_cfg):
    test_bytes = sum(len(d.encode("utf-8")) for d in iter_documents(splits_dir(text_cfg), "test"))
    for arch in ARCHS:
        p = evaluated["results"][arch]["perplexity"]
        assert p["bytes"] == test_bytes and p["window"] == p["stride"] == text_cfg.data.seq_len
        assert p["ppl"]["value"] == pytest.approx(math.exp(p["loss"]["value"]))
        nll = p["loss"]["value"] * p["n"]
        assert p["bits_per_byte"]["value"] == pytest.approx(nll / math.log(2) / test_bytes)


def test_second_call_is_cached_and_force_or_new_settings_rerun(evaluated, text_cfg, capsys):
    results = RunLayout.of(text_cfg).eval / "results.json"
    stamp = results.stat().st_mtime_ns
    capsys.readouterr()
    assert evaluate(text_cfg) == json.loads(results.read_text())
    out = capsys.readouterr().out
    assert "eval: up to date" in out and results.stat().st_mtime_ns == stamp
    header = next(line for line in out.splitlines() if line.startswith("task"))
    assert header.split() == ["task", "metric", *ARCHS]  # models side by side
    text_cfg.eval.tasks = []
    try:
        rerun = evaluate(text_cfg)
    finally:
        text_cfg.eval.tasks = ["piqa"]
    assert "eval: up to date" not in capsys.readouterr().out and set(rerun["results"][ARCHS[0]]) == {
        "perplexity"
    }


def test_mqar_run_reports_recall_accuracy_per_kv_count(mqar_run):
    results = evaluate(mqar_run, force=True)
    for arch in ARCHS:
        mqar = results["results"][arch]["mqar"]
        assert {"accuracy", "accuracy_kv2", "accuracy_kv4", "chance_accuracy"} <= set(mqar)
        assert 0 <= mqar["accuracy"]["value"] <= 1


def test_lm_eval_tasks_on_an_mqar_model_are_a_config_error(mqar_run, eval_data):
    mqar_run.eval.tasks, mqar_run.eval.data_dir = ["piqa"], str(eval_data)
    try:
        with pytest.raises(ConfigError, match="eval.tasks: MQAR models know only the words of their task"):
            evaluate(mqar_run)
    finally:
        mqar_run.eval.tasks, mqar_run.eval.data_dir = [], None


def test_stride_beyond_the_window_is_a_config_error(text_cfg):
    text_cfg.eval.stride = text_cfg.data.seq_len + 1
    try:
        with pytest.raises(ConfigError, match="eval.stride: 65 is larger than the perplexity window"):
            evaluate(text_cfg)
    finally:
        text_cfg.eval.stride = None


def test_missing_models_are_config_errors(tmp_path, corpus):
    cfg = run_config(tmp_path, corpus)
    with pytest.raises(ConfigError, match="eval.models: no trained .* model"):
        evaluate(cfg)
    with pytest.raises(ConfigError, match="eval.models: 'nowhere' is not an exported model"):
        resolve_models(["nowhere"], cfg)


def test_models_given_as_run_arch_or_export_folders(run_dir, text_cfg):
    run = RunLayout.of(text_cfg)
    assert resolve_models([str(run.root)], text_cfg) == {a: run.arch(a).best for a in sorted(ARCHS)}
    assert resolve_models([str(run.arch("transformer").root)], text_cfg) == {
        "transformer": run.arch("transformer").best
    }
    assert list(resolve_models([str(run.arch("transformer").best)], text_cfg)) == ["transformer"]


def test_the_eval_bar_counts_every_model_and_task_and_lm_eval_stays_off_the_console(
    run_dir, corpus, eval_data, tmp_path, capfd
):
    over = {"eval.models": [str(run_dir / "tiny")], "eval.tasks": ["piqa", "arc_easy"], "eval.limit": 2}
    cfg = run_config(tmp_path, corpus, **over, **{"eval.data_dir": str(eval_data)})
    from transformers.utils import logging as hf_logging

    from retlab.cli import quiet_library_progress

    capfd.readouterr()
    quiet_library_progress()  # as the command line does: no bar per weights file loaded
    try:
        results = evaluate(cfg)
    finally:
        hf_logging.enable_progress_bar()
    out, err = capfd.readouterr()
    units = len(ARCHS) * 3  # each model: the test split's perplexity, then each harness task
    assert f"\neval: {units}/{units} tasks in " in out  # no terminal: the bar's summary line
    assert set(results["results"][ARCHS[0]]) == {"perplexity", "piqa", "arc_easy"}
    assert err == ""  # no progress bars of lm-eval's, no warnings of its own
    assert not any(word in out for word in ("metadata", "`pretrained`", "bootstrapping", "fatal:"))
