"""An export that cannot be loaded is one line naming the file, for every command that loads one: eval, generate
and bench (issue 10). retlab loads weights from safetensors only, never from a pickle."""

import json
import shutil

import pytest

from cli_helpers import run


def _truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


BREAKAGES = {
    "truncated weights": lambda e: _truncate(
        e / "model.safetensors", e.joinpath("model.safetensors").stat().st_size - 1
    ),
    "truncated header": lambda e: _truncate(e / "model.safetensors", 300),
    "empty weights": lambda e: _truncate(e / "model.safetensors", 0),
    "pickled weights only": lambda e: (e / "model.safetensors").rename(e / "pytorch_model.bin"),
    "no config": lambda e: (e / "config.json").unlink(),
    "config not json": lambda e: (e / "config.json").write_bytes(b"\xff\xfe{"),
    "config without model_type": lambda e: (e / "config.json").write_text(json.dumps({"hidden_size": 8})),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_an_unloadable_export_is_one_line_naming_the_file(run_dir, tmp_path, capsys, breakage):
    export = tmp_path / "export"
    shutil.copytree(run_dir / "tiny" / "transformer" / "best", export)
    BREAKAGES[breakage](export)
    commands = {
        "eval.models": ["eval", "--eval.models", f"[{export}]", "--output_dir", str(tmp_path / "out")],
        "generate.model": ["generate", "--generate.model", str(export), "--prompt", "To be"],
    }
    for field, argv in commands.items():
        code, out, err = run(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and field in err and str(export) in err, err
        assert "Traceback" not in out + err
    assert not (tmp_path / "out").exists()


def test_a_run_whose_best_export_broke_is_one_line_for_eval_and_bench(run_dir, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(run_dir, root)
    weights = root / "tiny" / "transformer" / "best" / "model.safetensors"
    _truncate(weights, 300)
    base = ["--output_dir", str(root), "--name", "tiny", "--compare", "[transformer]"]
    for field, argv in {
        "eval.models": ["eval", *base],
        "bench.use_trained": ["bench", "infer", *base, "--bench.contexts", "[16]"],
    }.items():
        code, _, err = run(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and field in err and str(weights) in err, err
