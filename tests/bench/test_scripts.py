"""The benchmark scripts are `retlab bench` with their own defaults: retlab's flags, read by retlab's loader."""

import importlib.util
import json
from pathlib import Path

import pytest

from retlab.bench.script import script_config
from retlab.errors import ConfigError

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = [
    "--model.hidden_size", "32", "--model.num_hidden_layers", "2", "--model.num_heads", "2",
    "--model.chunk_size", "16", "--bench.vocab_size", "128",
]  # fmt: skip


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flags_beat_the_config_file_beat_quick_beat_the_scripts_defaults(tmp_path):
    infer = script("bench_infer")
    (tmp_path / "c.yaml").write_text("bench:\n  decode_steps: 5\n  warmup_steps: 3\n")
    argv = ["--quick", "--config", str(tmp_path / "c.yaml"), "--bench.warmup_steps", "1"]
    cfg = script_config(argv, infer.DEFAULTS, infer.QUICK, infer.__doc__)
    assert cfg.bench.vocab_size == 8192 and cfg.bench.use_trained is False  # the script's defaults
    assert cfg.bench.contexts == [512, 2048]  # --quick
    assert (cfg.bench.decode_steps, cfg.bench.warmup_steps) == (5, 1)  # the file, then the flag


def test_a_bad_flag_is_retlabs_one_line_error():
    infer = script("bench_infer")
    with pytest.raises(ConfigError) as e:
        script_config(["--bench.contxts", "8"], infer.DEFAULTS, infer.QUICK, infer.__doc__)
    assert e.value.field == "--bench.contxts" and "--bench.contexts" in e.value.fix


@pytest.mark.parametrize(
    "name, flags",
    [
        ("bench_infer", ["--bench.contexts", "16", "--bench.batch_sizes", "1", "--bench.decode_steps", "2"]),
        ("bench_train", ["--bench.train_seq_lens", "32", "--bench.archs", "retnet,transformer"]),
    ],
)
def test_scripts_run_matched_models_and_end_with_one_json_line(name, flags, tmp_path, capsys):
    argv = [
        *TINY,
        *flags,
        "--bench.warmup_steps",
        "1",
        "--bench.train_steps",
        "1",
        "--output_dir",
        str(tmp_path),
    ]
    assert script(name).main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["benchmark"] == name and summary["points"]
    params = {m["arch"]: m["params"] for m in summary["models"]}
    assert abs(params["transformer"] - params["retnet"]) <= 0.01 * params["retnet"]
    assert (tmp_path / "bench" / "bench" / f"{name.removeprefix('bench_')}.json").is_file()  # <run>/bench/
