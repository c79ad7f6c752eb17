"""README's text quickstart and the `retlab eval`, `retlab generate` and stock `lm_eval` examples run as written
on what it produces: each README command runs with its own arguments, followed by overrides that shrink the run
to seconds (a tiny model, a few steps, two examples per task; later arguments win)."""

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from fresh_process import STOCK_LM_EVAL, run_without_retlab
from retlab.cli import main
from retlab.config.loader import load_config
from retlab.evaluation.evaluate import format_samples

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = "configs/quickstart-text.yaml"


def readme_commands() -> list[list[str]]:
    """Every `.venv/bin/...` command in README's bash blocks, continuation lines joined, split like a shell."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.strip().startswith(".venv/bin/")]


def readme_command(*words: str) -> list[str]:
    """The README command that starts with `words` (after the .venv/bin/ prefix), without that prefix."""
    for argv in readme_commands():
        argv = [argv[0].removeprefix(".venv/bin/"), *argv[1:]]
        if argv[: len(words)] == list(words):
            return argv
    raise AssertionError(f"README has no command starting with {' '.join(words)}")


def test_readme_shows_the_text_quickstart_right_after_the_main_job():
    commands = [" ".join(argv) for argv in readme_commands()]
    main_job = commands.index(".venv/bin/retlab run --config configs/quickstart.yaml")
    assert commands[main_job + 1] == f".venv/bin/retlab run --config {QUICKSTART}"
    for words in (
        ("retlab", "eval"),
        ("retlab", "generate"),
        ("lm_eval",),
    ):  # on the text quickstart's outputs
        assert QUICKSTART in readme_command(*words) or "runs/quickstart-text/" in " ".join(
            readme_command(*words)
        )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> list[str]:
    if not (REPO.parent / "shared" / "data" / "MANIFEST.md").is_file():
        pytest.skip("the quickstart's ../shared/data is not beside the repository")
    out = tmp_path_factory.mktemp("readme")
    return [
        "--output_dir", str(out),
        "--tokenizer.vocab_size", "512",
        "--model.hidden_size", "32",
        "--model.num_hidden_layers", "1",
        "--model.num_heads", "2",
        "--train.max_steps", "4",
        "--train.val_check_interval", "2",
        "--num_threads", "1",
        "--eval.limit", "2",
        "--eval.device", "cpu",
        "--generate.max_new_tokens", "8",
        "--generate.device", "cpu",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def at_repo_root():
    """The README's paths are relative to the repository root."""
    before = Path.cwd()
    os.chdir(REPO)
    yield
    os.chdir(before)


@pytest.fixture(scope="module")
def quickstart(tiny, at_repo_root) -> tuple[Path, str]:
    """(run folder, console output) of the README's text quickstart, shrunk by `tiny`."""
    argv = readme_command("retlab", "run", "--config", QUICKSTART)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv[1:] + tiny) == 0
    return Path(tiny[1]) / "quickstart-text", out.getvalue()


@pytest.mark.slow
def test_quickstart_ends_with_scores_position_loss_and_a_sample_of_each_model(quickstart):
    root, out = quickstart
    results = json.loads((root / "eval" / "results.json").read_text())
    tasks = load_config(REPO / QUICKSTART).eval.tasks
    for arch in ("retnet", "transformer"):
        scores = results["results"][arch]
        assert {"perplexity", "position_loss", *tasks} <= set(scores) and len(tasks) >= 3
        assert (
            scores["perplexity"]["ppl"]["value"] > 0
            and scores["perplexity"]["unigram_baseline_ppl"]["value"] > 0
        )
        assert {"loss_0x_1x", "loss_1x_2x", "loss_2x_4x"} <= set(scores["position_loss"])
        (sample,) = results["models"][arch]["samples"]
        assert sample["prompt"] == "Once upon a time" and sample["text"]
        assert f"sample {arch}: Once upon a time" in out
        header = next(line for line in out.splitlines() if "┃" in line)  # the side-by-side table
        assert f" {arch} " in header
    assert format_samples(results) in out  # the samples close the console output, as results.json has them
    report = (root / "report" / "README.md").read_text()
    assert "position_loss.png" in report and "## Generated samples" in report


@pytest.mark.slow
def test_readme_eval_and_generate_run_on_the_quickstart(quickstart, tiny, at_repo_root, capsys):
    root, _ = quickstart
    eval_argv = readme_command("retlab", "eval")
    assert main(eval_argv[1:] + tiny) == 0
    results = json.loads((root / "eval" / "results.json").read_text())
    tasks = eval_argv[eval_argv.index("--eval.tasks") + 1].strip("[]").split(",")
    assert set(tasks) <= set(results["results"]["retnet"])
    generate_argv = readme_command("retlab", "generate")
    assert main(generate_argv[1:] + tiny) == 0
    prompt = generate_argv[generate_argv.index("--prompt") + 1]
    assert capsys.readouterr().out.count(prompt) >= 1


@pytest.mark.slow
def test_readme_stock_lm_eval_runs_on_the_quickstart_export_without_retlab(quickstart, tmp_path):
    root, _ = quickstart
    argv = readme_command("lm_eval")
    argv = [arg.replace("runs/quickstart-text", str(root)) for arg in argv[1:]] + ["--limit", "2"]
    proc = run_without_retlab(STOCK_LM_EVAL, argv, tmp_path)
    task = argv[argv.index("--tasks") + 1]
    assert re.search(rf"\|\s*{task}\s*\|", proc.stdout), proc.stdout[-2000:]


def test_readme_streaming_command_packs_the_budget_offline(tmp_path, at_repo_root):
    """The streamed local corpus with GPT-2's BPE files, as written (a smaller budget)."""
    argv = readme_command("retlab", "data", "tokenize", "--name", "gutenberg")
    assert main([*argv[1:], "--output_dir", str(tmp_path), "--data.max_tokens", "20000"]) == 0
    packed = tmp_path / "gutenberg" / "data" / "packed"
    assert json.loads((packed / "train.json").read_text())["tokens"] == 20_000
    assert json.loads((packed / "info.json").read_text())["vocab_size"] == 50257


def setup_commands() -> list[str]:
    """The bash blocks of README's "Set up" section, one command each."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def make_dry_run(target: str, cwd: Path = REPO) -> list[str]:
    # Run as a top-level make even under `make test`: a nested make prints "Entering/Leaving directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    command = ["make", "--no-print-directory", "-n", target]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_set_up_is_two_self_sufficient_commands_and_ci_runs_the_test_one():
    quickstart, test = setup_commands()
    assert (quickstart, test) == ("make quickstart", "make test")
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-2:] == ["rm -rf .venv", test]  # CI proves the fresh-clone path
    main_job = " ".join(readme_commands()[0])
    assert main_job == ".venv/bin/retlab run --config configs/quickstart.yaml"
    assert make_dry_run("quickstart")[-1] == main_job
    assert make_dry_run("test")[-1] == "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 .venv/bin/python -m pytest -q"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_creates_the_environment_when_missing_and_updates_it_when_stale(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    fresh = make_dry_run("test", tmp_path)
    assert any("-m venv .venv" in line for line in fresh) and any("pip install -e" in line for line in fresh)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    python.chmod(0o755)
    stamp = tmp_path / ".venv" / ".retlab-installed"
    stamp.write_text("")
    os.utime(tmp_path / "pyproject.toml", (1, 1))
    assert not any("pip install" in line for line in make_dry_run("test", tmp_path))  # up to date
    os.utime(stamp, (0, 0))
    assert any(
        "pip install -e" in line for line in make_dry_run("quickstart", tmp_path)
    )  # pyproject is newer
