"""The `retlab` command line: help, one-line errors with exit code 2, --print_config, dispatch, saved configs."""

import subprocess
import sys

import pytest
import yaml

from cli_helpers import run
from retlab import cli
from retlab.config import RetlabConfig
from retlab.config.loader import load_config, with_absolute_paths


def test_top_level_help_lists_every_command_quickly():
    res = subprocess.run(
        [sys.executable, "-m", "retlab.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0
    for name, command in cli.COMMANDS.items():
        assert name in res.stdout and command.help in res.stdout


def test_command_help_shows_fields_with_their_docstrings(capsys):
    code, out, _ = run(["train", "--help"], capsys)
    assert code == 0
    assert "--train.lr" in out and "Peak learning rate" in out
    assert "--data.mqar.num_kv_pairs" in out and "--print_config" in out and "--force" in out
    assert "--prompt" in run(["generate", "--help"], capsys)[1]


@pytest.mark.parametrize(
    "argv, field",
    [
        (["train", "--train.lrr", "1"], "--train.lrr"),
        (["train", "--train.lr", "fast"], "train.lr"),
        (["train", "--model.hidden_size", "100", "--model.num_heads", "3"], "model.hidden_size"),
        (["train", "--config", "missing.yaml"], "--config"),
        (["train", "--train.lr"], "--train.lr"),
        (["trian"], "train"),
        (["data"], "download"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, field, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.startswith("retlab: error: ") and err.count("\n") == 1 and field in err
    assert "Traceback" not in err + out


def test_bad_yaml_files_are_one_line(tmp_path, capsys):
    for text, expect in [("train:\n  lr: [1\n", "malformed YAML"), ("embed_dim: 8\n", "model.hidden_size")]:
        (tmp_path / "c.yaml").write_text(text)
        code, _, err = run(["train", "--config", str(tmp_path / "c.yaml")], capsys)
        assert code == 2 and expect in err and err.count("\n") == 1


def test_print_config_resolves_yaml_and_overrides(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("train:\n  lr: 1.0e-3\n  batch_size: 4\n")
    code, out, _ = run(
        ["train", "--config", str(tmp_path / "c.yaml"), "--train.lr", "3e-4", "--print_config"], capsys
    )
    assert code == 0
    printed = yaml.safe_load(out)
    assert printed["train"]["lr"] == 3e-4 and printed["train"]["batch_size"] == 4
    (tmp_path / "p.yaml").write_text(out)
    assert load_config(tmp_path / "p.yaml") == with_absolute_paths(
        load_config(tmp_path / "c.yaml", {"train.lr": 3e-4})
    )


def test_dispatch_passes_config_force_prompts_and_runs(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "resolve_target", lambda name: lambda *a, **k: calls.append((name, a, k)))
    out_dir = str(tmp_path)
    assert run(["train", "--output_dir", out_dir, "--force", "--train.lr", "1e-3"], capsys)[0] == 0
    name, (cfg,), kwargs = calls[-1]
    assert (
        name == "train"
        and kwargs == {"force": True}
        and isinstance(cfg, RetlabConfig)
        and cfg.train.lr == 1e-3
    )
    assert (
        load_config(tmp_path / "quickstart" / "config.yaml") == cfg
    )  # the resolved config is saved in the run
    run(["generate", "--output_dir", out_dir, "--prompt", "Once", "--prompt", "There was"], capsys)
    assert calls[-1][1][0].generate.prompts == ["Once", "There was"] and calls[-1][2] == {}
    run(["report", "runs/a", "runs/b"], capsys)
    assert calls[-1][0] == "report" and calls[-1][1][1] == ["runs/a", "runs/b"]
    run(["bench", "infer", "--output_dir", out_dir], capsys)
    assert calls[-1][0] == "bench infer" and (tmp_path / "quickstart" / "bench" / "config.yaml").is_file()


def test_missing_stage_module_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "sweep", cli.Command("retlab.no_such_stage:sweep", "x", "plain", None))
    code, _, err = run(["sweep"], capsys)
    assert code == 2 and "not available" in err and err.count("\n") == 1


def test_data_stages_from_the_command_line(tmp_path, capsys, monkeypatch, shared_data):
    monkeypatch.chdir(tmp_path)
    args = ["--data.source", "local", "--data.path", str(shared_data / "corpora/ptb/ptb.valid.txt")]
    args += [
        "--data.document",
        "line",
        "--tokenizer.vocab_size",
        "300",
        "--data.seq_len",
        "32",
        "--data.num_proc",
        "1",
    ]
    for stage in ("download", "tokenizer", "tokenize"):
        code, out, err = run(["data", stage, *args], capsys)
        assert code == 0, err
    assert "tokens/s" in out
    assert load_config("runs/quickstart/config.yaml").data.seq_len == 32
    code, out, _ = run(["data", "tokenize", *args], capsys)
    assert code == 0 and "tokenize: up to date" in out
    code, out, _ = run(["data", "tokenize", *args, "--force"], capsys)
    assert "tokens/s" in out


def test_data_stages_for_mqar_need_no_download_or_tokenizer(tmp_path, capsys):
    args = ["--output_dir", str(tmp_path), "--data.mqar.train_examples", "20"]
    for stage in ("download", "tokenizer", "tokenize"):
        assert run(["data", stage, *args], capsys)[0] == 0
    assert (tmp_path / "quickstart" / "data" / "mqar" / "train.bin").is_file()


def test_report_refuses_a_config_in_one_line(tmp_path, capsys):
    """report reads run folders: a config file or field given to it is an error, not silently ignored."""
    (tmp_path / "x.yaml").write_text("train:\n  lr: 0.1\n")
    for extra in (["-c", str(tmp_path / "x.yaml")], ["--train.lr", "3e-4"], ["--print_config"]):
        code, out, err = run(["report", str(tmp_path / "runs" / "a"), *extra], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith("retlab: error: report: takes no config") and "retlab report RUN" in err
    assert not (tmp_path / "runs").exists()
