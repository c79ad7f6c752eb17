"""Running code as a user without retlab would: a fresh interpreter (`python -I`: neither PYTHONPATH nor the
working directory on sys.path) in which every `import retlab...` fails, offline."""

import os
import subprocess
import sys
from pathlib import Path

NO_RETLAB = (
    "import sys; sys.modules['retlab'] = None  # the editable install's path hook would still find it\n"
)
STOCK_LM_EVAL = "from lm_eval.__main__ import cli_evaluate; sys.argv[0] = 'lm_eval'; cli_evaluate()"


def run_without_retlab(
    code: str, args: list[str], cwd: Path, timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run `code` with `args` as sys.argv[1:] in `cwd`; fails the test when it does not exit with 0."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env |= {"TOKENIZERS_PARALLELISM": "false", "HF_MODULES_CACHE": str(Path(cwd) / "modules")}
    proc = subprocess.run(
        [sys.executable, "-I", "-c", NO_RETLAB + code, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # transformers may ask about the model's code; no answer means no
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
