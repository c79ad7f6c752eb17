"""A failed command costs the user nothing (issue 10), through the real CLI: every bad input ends with exit 2 and
one line naming the field or file and the fix, and leaves every existing file of the run byte-identical, its
config.yaml included; a retrain keeps the previous results until it has replaced them; a run that was killed
after training but before metrics.json resumes to the same numbers."""

import hashlib
import multiprocessing
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch

from cli_helpers import run
from retlab import cli
from retlab.utils.files import read_json
from training.configs import TINY_MQAR

DETERMINISTIC = ["best_val_loss", "test_loss", "test_mqar_accuracy", "steps", "params"]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden ones too) -> its SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The output folder of a finished tiny MQAR run (`runs/k/retnet/...`)."""
    out = tmp_path_factory.mktemp("finished")
    assert cli.main([*TINY_MQAR, "--output_dir", str(out)]) == 0
    return out


@pytest.fixture
def out(finished, tmp_path) -> Path:
    """A private copy of the finished run's output folder."""
    shutil.copytree(finished, tmp_path / "runs")
    return tmp_path / "runs"


def fails_cleanly(argv: list[str], root: Path, names: str, capsys) -> str:
    """Run `argv`; it must exit 2 with one line naming `names`, and change no file under `root`."""
    before = snapshot(root)
    code, stdout, err = run(argv, capsys)
    assert code == 2, err[-3000:]
    assert err.startswith("retlab: error: ") and err.count("\n") == 1 and names in err, err
    assert "Traceback" not in stdout + err
    assert snapshot(root) == before, "a failed command changed the run"
    return err


@pytest.mark.parametrize(
    "setting, field",
    [
        (["--train.accelerator", "cpuu"], "train.accelerator"),
        (["--train.accelerator", "gpu"], "train.accelerator"),  # no GPU on this machine
        (["--train.accelerator", "gpu", "--train.lr", "0.01"], "train.accelerator"),  # a GPU config copied in
        (["--train.devices", "0"], "train.devices"),
        (["--train.devices", "abc"], "train.devices"),
        (["--train.devices", "4096000000000"], "train.devices"),
        (["--train.strategy", "fsdp"], "train.strategy"),
        (["--train.precision", "16-mixed"], "train.precision"),
    ],
)
def test_trainer_settings_lightning_rejects_change_nothing(out, capsys, setting, field):
    fails_cleanly([*TINY_MQAR, "--output_dir", str(out), *setting], out, field, capsys)


def test_an_unusable_resume_checkpoint_is_one_line_even_when_the_run_is_up_to_date(out, tmp_path, capsys):
    good = out / "k/retnet/checkpoints/last.ckpt"
    garbage, truncated, pickled = (
        tmp_path / "garbage.ckpt",
        tmp_path / "truncated.ckpt",
        tmp_path / "pickled.ckpt",
    )
    garbage.write_bytes(os.urandom(4096))
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    state = torch.load(good, weights_only=True)
    state["hyper_parameters"]["extra"] = Path("x")  # pickled code, not plain data
    torch.save(state, pickled)
    for bad in (garbage, truncated, pickled, tmp_path, tmp_path / "missing.ckpt"):
        for more in ([], ["--train.max_steps", "16"]):  # up to date, and a run that would train
            argv = [*TINY_MQAR, "--output_dir", str(out), "--train.resume", str(bad), *more]
            fails_cleanly(argv, out, "train.resume", capsys)


def test_a_run_killed_after_training_resumes_to_the_same_numbers(out, capsys):
    arch = out / "k" / "retnet"
    before = read_json(arch / "metrics.json")
    (arch / "metrics.json").unlink()  # killed after fit, exports or testing: no metrics.json yet
    code, _, err = run([*TINY_MQAR, "--output_dir", str(out), "--train.resume", "auto"], capsys)
    assert code == 0, err[-3000:]
    after = read_json(arch / "metrics.json")
    assert {k: after[k] for k in DETERMINISTIC} == {k: before[k] for k in DETERMINISTIC}
    assert Path(after["best_checkpoint"]).is_file()


def test_config_yaml_describes_the_last_command_that_succeeded(out, capsys):
    config = out / "k" / "config.yaml"
    assert "max_steps: 12" in config.read_text()
    argv = [*TINY_MQAR, "--output_dir", str(out), "--train.max_steps", "14", "--train.resume", str(out)]
    fails_cleanly(argv, out, "train.resume", capsys)
    code, _, err = run([*TINY_MQAR, "--output_dir", str(out), "--train.max_steps", "14"], capsys)
    assert code == 0, err[-3000:]
    assert "max_steps: 14" in config.read_text()


@pytest.mark.parametrize(
    "content, problem",
    [
        (os.urandom(3000), "not UTF-8 text"),
        ("seed: 1\nname: é\n".encode("latin-1"), "not UTF-8 text"),
        (None, "is a directory"),
    ],
)
def test_a_config_file_that_is_not_yaml_text_is_one_line(out, tmp_path, capsys, content, problem):
    path = tmp_path / "bad.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    err = fails_cleanly(["train", "--config", str(path), "--output_dir", str(out)], out, "--config", capsys)
    assert problem in err and str(path) in err


@pytest.mark.parametrize(
    "content, problem",
    [
        (os.urandom(5000), "not UTF-8 text"),
        (b"", "no text"),
        (b"  \n\n\t\n", "no text"),
        (b"\xef\xbb\xbf\n", "no text"),
    ],
)
def test_a_corpus_without_usable_text_names_the_file_not_the_batch(out, tmp_path, capsys, content, problem):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(content)
    argv = ["train", "--output_dir", str(out), "--name", "k", "--data.source", "local"]
    argv += ["--data.path", str(corpus), "--model.arch", "retnet", "--train.accelerator", "cpu"]
    for command in (argv, ["data", "download", *argv[1:]], ["run", *argv[1:]]):
        err = fails_cleanly(command, out, "data.path", capsys)
        assert problem in err and "batch" not in err


def _train_in_child(argv):
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    os._exit(code or 0)


def test_a_retrain_keeps_the_previous_results_until_it_replaces_them(out, capsys, monkeypatch):
    same, changed = (
        [*TINY_MQAR, "--output_dir", str(out)],
        [*TINY_MQAR, "--output_dir", str(out), "--train.lr", "0.002"],
    )
    assert run(same, capsys)[0] == 0  # up to date; config.yaml now names this output folder
    original, first = snapshot(out), read_json(out / "k/retnet/metrics.json")

    # Fails before its first checkpoint: the run is given back exactly as it was.
    from retlab.training.module import CausalLMModule

    def fail(self, batch, batch_idx):
        raise RuntimeError("out of memory (simulated)")

    with monkeypatch.context() as m:
        m.setattr(CausalLMModule, "training_step", fail)
        with pytest.raises(RuntimeError, match="simulated"):
            cli.main(changed)
    assert snapshot(out) == original

    # Killed before its first checkpoint: the next command gives the run back before doing anything else.
    child = multiprocessing.get_context("fork").Process(target=_train_in_child, args=(changed,))
    child.start()
    while child.is_alive() and not (out / "k/previous/retnet").is_dir():
        time.sleep(0.002)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert (out / "k/previous/retnet/metrics.json").is_file()  # displaced, not deleted
    code, stdout, err = run(same, capsys)
    assert code == 0 and "up to date" in stdout, err
    assert snapshot(out) == original

    # Finishes: the new results replace the old ones, and only then are the old ones gone.
    code, _, err = run(changed, capsys)
    assert code == 0, err[-3000:]
    assert not (out / "k/previous").exists()
    assert read_json(out / "k/retnet/metrics.json")["fingerprint"] != first["fingerprint"]


def with_contender(argv: list[str], command: str, arch: str) -> list[str]:
    """TINY_MQAR as `command`, with `arch` after the RetNet in `compare` (and trained, for `train`)."""
    argv = [command, *argv[1:]]
    argv[argv.index("--compare") + 1] = f"[retnet, {arch}]"
    if command == "train":
        argv[argv.index("--model.arch") + 1] = arch
    return argv


@pytest.mark.parametrize("command", ["train", "run"])
@pytest.mark.parametrize("check", [False, True])
@pytest.mark.parametrize(
    "arch, setting, field",
    [
        ("hf:mambaa", [], "compare"),  # not a type of transformers: the closest names
        (
            "hf:mamba",
            ["--model.hf_overrides", "{mamba: {stat_size: 4}}"],
            "model.hf_overrides.mamba.stat_size",
        ),
        ("hf:mamba", ["--model.hf_overrides", "{mamba: {state_size: four}}"], "model (hf:mamba)"),
        ("hf:mamba", ["--model.hf_overrides", "{mamba: {state_size: -4}}"], "model.hf_overrides.mamba"),
        ("hf:mamba", ["--model.hf_overrides", "{mamba: {hidden_act: nope}}"], "model.hf_overrides.mamba"),
        (
            "hf:llama",
            ["--model.hf_overrides", "{llama: {num_key_value_heads: 3}}"],
            "model.hf_overrides.llama",
        ),
        ("hf:gpt2", ["--model.hf_width_field", "{gpt2: n_head}"], "model.hf_width_field.gpt2"),
        ("hf:xlstm", [], "hf:xlstm"),  # its head sizes are not the section's: it cannot run as mapped
    ],
)
def test_a_bad_hf_contender_is_rejected_before_the_first_write(
    out, capsys, command, check, arch, setting, field
):
    """`hf:` contenders go through the same checks: an unknown type, a field its config lacks, a value that
    transformers rejects only when it builds or runs the model, a width that matching cannot size."""
    argv = [*with_contender(TINY_MQAR, command, arch), "--output_dir", str(out), *setting]
    fails_cleanly(argv + (["--check"] if check else []), out, field, capsys)


def test_sigterm_mid_training_exits_143_and_the_same_command_resumes_to_the_same_numbers(
    finished, tmp_path, capsys, monkeypatch, request
):
    """Lightning turns SIGTERM into a SystemExit without a code: a terminated run (a scheduler's preemption, a
    `kill`) must not exit 0 as if it had finished, and the same command must resume to the uninterrupted numbers."""
    from retlab.training.module import CausalLMModule

    argv = [*TINY_MQAR, "--output_dir", str(tmp_path)]
    step = CausalLMModule.training_step
    # A handler left by an earlier test would take the signal first (Ray's driver handler, after a Ray sweep in
    # this process, exits with code 15): start from the default, as a fresh `retlab` process does.
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    request.addfinalizer(lambda: signal.signal(signal.SIGTERM, previous))

    def terminated_at_step_3(self, batch, batch_idx):
        if self.trainer.global_step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # Lightning's handler stops the loop after this batch
        return step(self, batch, batch_idx)

    with monkeypatch.context() as m:
        m.setattr(CausalLMModule, "training_step", terminated_at_step_3)
        code, _, err = run(argv, capsys)
    assert code == 143 and err.count("\n") == 1 and "SIGTERM" in err and "resumes" in err, err
    assert not (tmp_path / "k/retnet/metrics.json").exists()  # nothing claims the run finished

    code, _, err = run(argv, capsys)
    assert code == 0, err[-3000:]
    resumed, uninterrupted = (
        read_json(tmp_path / "k/retnet/metrics.json"),
        read_json(finished / "k/retnet/metrics.json"),
    )
    assert {k: resumed[k] for k in DETERMINISTIC} == {k: uninterrupted[k] for k in DETERMINISTIC}


def test_a_sigterm_taken_by_rays_driver_handler_also_ends_in_143_and_one_line(monkeypatch, capsys):
    """Once Ray has started in a process (a sweep or scaling study on the Ray backend), its handler takes SIGTERM and
    exits with code 15: the same one line and exit 143."""

    def terminated(name, rest):
        raise SystemExit(signal.SIGTERM)  # what ray's driver handler does

    monkeypatch.setattr(cli, "run_command", terminated)
    code, stdout, err = run(["sweep", "--check"], capsys)
    assert (
        code == 143
        and err == "retlab: terminated (SIGTERM); the same command resumes from the last checkpoint\n"
    )
    assert run(["sweep", "--check"], capsys)[0] == 143
    monkeypatch.setattr(cli, "run_command", lambda name, rest: (_ for _ in ()).throw(SystemExit(3)))
    assert run(["sweep", "--check"], capsys)[0] == 3  # any other exit passes through as it is
