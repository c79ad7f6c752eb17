"""An exported retlab checkpoint runs under the harness's own `lm_eval` CLI, in a process where retlab cannot be
imported, on a rendered local task."""

import json
import os
import subprocess
import sys
import textwrap

from .conftest import ARCHS, MAX_LENGTH

# `python -I` ignores PYTHONPATH and the working directory; the editable install's path hook still sees retlab,
# so a None entry in sys.modules makes every `import retlab...` fail.
STOCK_CLI = textwrap.dedent(
    """
    import sys
    sys.modules["retlab"] = None
    from lm_eval.__main__ import cli_evaluate
    sys.argv = ["lm_eval", *sys.argv[1:]]
    cli_evaluate()
    """
)


def test_lm_eval_cli_scores_an_exported_checkpoint_without_retlab(run_dir, task_dir, tmp_path):
    arch = ARCHS[-1]  # retnet when it exists: the architecture transformers knows least about
    checkpoint = run_dir / "tiny" / arch / "best"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    args = [
        "--model", "hf",
        "--model_args", f"pretrained={checkpoint},trust_remote_code=True,max_length={MAX_LENGTH}",
        "--tasks", "retlab_piqa",
        "--include_path", str(task_dir),
        "--limit", "10",
        "--device", "cpu",
        "--output_path", str(tmp_path / "out"),
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-I", "-c", STOCK_CLI, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result_file,) = (tmp_path / "out").rglob("results_*.json")
    result = json.loads(result_file.read_text())
    assert result["n-samples"]["retlab_piqa"]["effective"] == 10
    assert 0 <= result["results"]["retlab_piqa"]["acc,none"] <= 1
