"""LightningCLI / jsonargparse conventions of the command line: -c/--config repeatable and merged in order, `+`
appends to lists, block-style --print_config (and its commented variant), per-command help sections, Lightning's
precision values, and where relative paths in configs and on the command line point."""

import os
import re

import pytest
import yaml

from cli_helpers import run
from retlab.config.loader import load_config


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def printed(argv, capsys) -> dict:
    code, out, err = run([*argv, "--print_config"], capsys)
    assert code == 0, err
    return yaml.safe_load(out)


def test_configs_merge_in_order_with_short_and_long_flag(tmp_path, capsys):
    a = write(tmp_path / "a.yaml", "train:\n  lr: 1.0e-3\n  batch_size: 4\ncompare: [retnet]\n")
    b = write(tmp_path / "b.yaml", "train:\n  lr: 2.0e-3\n")
    cfg = printed(["train", "-c", a, "--config", b], capsys)
    assert cfg["train"]["lr"] == 2e-3 and cfg["train"]["batch_size"] == 4 and cfg["compare"] == ["retnet"]
    assert printed(["train", "--config", b, "-c", a], capsys)["train"]["lr"] == 1e-3


def test_plus_appends_to_the_list_so_far(tmp_path, capsys):
    a = write(tmp_path / "a.yaml", "compare: [retnet]\n")
    assert printed(["run", "-c", a, "--compare+", "transformer"], capsys)["compare"] == [
        "retnet",
        "transformer",
    ]
    assert printed(["run", "--compare+", "torchscale-retnet"], capsys)["compare"] == [
        "retnet",
        "transformer",
        "torchscale-retnet",
    ]  # appended to the default
    cfg = printed(
        ["run", "-c", "configs/quickstart.yaml", "--compare", "transformer", "--compare+", "[retnet]"]
        + ["--data.mqar.num_kv_pairs+", "8"],
        capsys,
    )
    assert cfg["compare"] == ["transformer", "retnet"] and cfg["data"]["mqar"]["num_kv_pairs"] == [2, 4, 8]


@pytest.mark.parametrize("argv", [["--train.lr+", "1"], ["--train.nope+", "1"], ["--compare+", "mamba"]])
def test_plus_on_a_non_list_or_bad_value_is_one_line(argv, capsys):
    code, out, err = run(["run", *argv], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_print_config_is_block_style_and_the_commented_variant_reads_back(tmp_path, capsys):
    code, out, _ = run(["run", "-c", "configs/quickstart.yaml", "--print_config"], capsys)
    assert code == 0 and not re.search(r": [{\[][^}\]]", out) and "compare:\n- retnet\n" in out
    code, commented, _ = run(["run", "-c", "configs/quickstart.yaml", "--print_config=comments"], capsys)
    assert code == 0 and "# Peak learning rate.\n  lr: 0.003" in commented
    assert yaml.safe_load(commented) == yaml.safe_load(out)
    p = write(tmp_path / "p.yaml", commented)
    assert load_config(p) == load_config(write(tmp_path / "q.yaml", out))


def help_flags(argv, capsys) -> set[str]:
    """The flags a help text lists (the first word of each option line)."""
    code, out, _ = run(argv, capsys)
    assert code == 0
    return {line.split()[0].rstrip(",") for line in out.splitlines() if line.startswith("  -")}


def test_each_command_help_lists_only_the_sections_it_reads(capsys):
    flags = help_flags(["generate", "--help"], capsys)
    assert {"--generate.prompts", "--num_threads", "--prompt", "--print_config"} <= flags
    assert not {f for f in flags if f.startswith(("--train.", "--sweep.", "--data."))}
    flags = help_flags(["sweep", "--help"], capsys)
    assert {"--sweep.grid", "--train.lr"} <= flags and not any(f.startswith("--generate.") for f in flags)
    flags = help_flags(["train", "--help"], capsys)
    assert {"--data.mqar.num_kv_pairs", "-c"} <= flags and not any(f.startswith("--bench.") for f in flags)


def test_every_lightning_precision_is_accepted_and_a_bad_one_lists_the_choices_once():
    from retlab.preflight import check_trainer, lightning_precisions

    assert {"bf16", "bf16-true", "16-true", "64-true", "32-true", "bf16-mixed"} <= set(lightning_precisions())
    for value in ("bf16", "bf16-true", "64-true"):
        cfg = load_config(None, ["--train.precision", value, "--train.accelerator", "cpu"])
        assert check_trainer(cfg.train) == 1
    with pytest.raises(Exception) as e:
        check_trainer(load_config(None, ["--train.precision", "bf17"]).train)
    message = str(e.value)
    assert message.startswith("train.precision") and message.count("bf16-mixed") == 1 and "\n" not in message


def test_paths_in_a_config_are_relative_to_its_folder_on_the_command_line_to_the_cwd(tmp_path, monkeypatch):
    config = write(
        tmp_path / "configs" / "c.yaml",
        "data:\n  source: local\n  path: [corpus/*.txt]\neval:\n  data_dir: ../eval\n"
        "tokenizer:\n  path: gpt2\noutput_dir: out\n",
    )
    monkeypatch.chdir(tmp_path.parent)
    cfg = load_config(config, check=False)
    assert cfg.data.path == [str(tmp_path / "configs" / "corpus" / "*.txt")]
    assert (
        cfg.eval.data_dir == str(tmp_path / "eval") and cfg.output_dir == "out"
    )  # outputs: cwd, as Lightning
    assert cfg.tokenizer.path == "gpt2"  # a Hub name, not a file beside the config
    cli = load_config(config, ["--data.path", "here.txt", "--output_dir", "runs"], check=False)
    assert cli.data.path == ["here.txt"] and cli.output_dir == "runs"


def test_the_data_root_setting_is_honoured_in_configs_and_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RETLAB_DATA_DIR", str(tmp_path / "root"))
    config = write(tmp_path / "c.yaml", "eval:\n  data_dir: $RETLAB_DATA_DIR/eval\n")
    assert load_config(config, check=False).eval.data_dir == str(tmp_path / "root" / "eval")
    cli = load_config(None, ["--data.path", "${RETLAB_DATA_DIR}/a.txt"], check=False)
    assert cli.data.path == [str(tmp_path / "root" / "a.txt")]


def test_shipped_configs_resolve_from_any_directory(tmp_path, monkeypatch):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(os.path.join(repo, "configs", "quickstart-text.yaml"))
    assert os.path.isfile(cfg.data.path[0]) or not os.path.isdir(os.path.join(repo, "..", "shared", "data"))
    assert cfg.eval.data_dir.endswith("/eval") and os.path.isabs(cfg.eval.data_dir)


@pytest.mark.parametrize("command", ["eval", "generate", "bench infer", "train"])
def test_every_command_runs_on_the_configs_thread_count(command, tmp_path, capsys, monkeypatch):
    import torch

    from retlab import cli

    seen = []
    monkeypatch.setattr(
        cli, "resolve_target", lambda *a: lambda *a, **k: seen.append(torch.get_num_threads())
    )
    before = torch.get_num_threads()
    wanted = 3 if before != 3 else 2  # not what torch runs on now, so the test can fail
    argv = [*command.split(), "--output_dir", str(tmp_path), "--num_threads", str(wanted)]
    try:
        code, _, err = run([*argv, "--generate.model", "x"], capsys)
    finally:
        torch.set_num_threads(before)
    assert code == 0, err
    assert seen == [wanted]
