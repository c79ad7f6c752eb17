"""An exported retlab checkpoint runs under the harness's own `lm_eval` CLI, in a process where retlab cannot be
imported, on a rendered local task."""

import json

from fresh_process import STOCK_LM_EVAL, run_without_retlab

from .conftest import ARCHS, MAX_LENGTH


def test_lm_eval_cli_scores_an_exported_checkpoint_without_retlab(run_dir, task_dir, tmp_path):
    arch = ARCHS[-1]  # retnet when it exists: the architecture transformers knows least about
    checkpoint = run_dir / "tiny" / arch / "best"
    args = [
        "--model", "hf",
        "--model_args", f"pretrained={checkpoint},trust_remote_code=True,max_length={MAX_LENGTH}",
        "--tasks", "retlab_piqa",
        "--include_path", str(task_dir),
        "--limit", "10",
        "--device", "cpu",
        "--output_path", str(tmp_path / "out"),
    ]  # fmt: skip
    run_without_retlab(STOCK_LM_EVAL, args, tmp_path)
    (result_file,) = (tmp_path / "out").rglob("results_*.json")
    result = json.loads(result_file.read_text())
    assert result["n-samples"]["retlab_piqa"]["effective"] == 10
    assert 0 <= result["results"]["retlab_piqa"]["acc,none"] <= 1
