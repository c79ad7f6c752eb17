"""The command line starts without torch or transformers (they take seconds to import), while `import retlab`
still registers the models with the transformers Auto classes the moment transformers is used. Times are measured
by benchmarks/bench_startup.py, not here; these tests check what is imported, in fresh interpreters."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "lightning", "numpy", "datasets")


def fresh(code: str) -> str:
    """stdout of `code` in a fresh interpreter (this retlab first on sys.path), run from the repository root."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO / 'src')!r})\n" + code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["generate", "--help"],
        ["run", "--config", "configs/quickstart.yaml", "--print_config"],
    ],
)
def test_help_and_print_config_import_no_heavy_library(argv):
    out = fresh(
        "import contextlib, io\nfrom retlab.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({argv!r}) == 0\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_import_retlab_then_transformers_finds_the_models():
    out = fresh(
        "import retlab\nassert 'transformers' not in sys.modules and 'torch' not in sys.modules\n"
        "from transformers import AutoConfig, AutoModelForCausalLM\n"
        "config = AutoConfig.for_model('retlab-retnet', vocab_size=32, hidden_size=16, num_hidden_layers=1,"
        " num_heads=2)\n"
        "print(type(AutoModelForCausalLM.from_config(config)).__name__, AutoConfig.for_model("
        "'retlab-torchscale-transformer').model_type)"
    )
    assert out.split() == ["RetNetForCausalLM", "retlab-torchscale-transformer"]


def test_transformers_first_then_import_retlab_registers_at_once():
    out = fresh(
        "import transformers, retlab\nfrom transformers import AutoConfig\n"
        "print(type(AutoConfig.for_model('retlab-transformer')).__name__, retlab.models.count_parameters.__name__)"
    )
    assert out.split() == ["TransformerConfig", "count_parameters"]


def test_python_dash_m_retlab_is_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "retlab", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 0 and proc.stdout.startswith("retlab ")
