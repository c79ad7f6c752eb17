"""One config gives the contenders the same sizes through every entry point: `retlab train`, `retlab run`,
`retlab sweep` and `retlab bench` (random init) all build the model that `retlab train` trains.

Each entry point runs for real up to the moment the model is built; the model config it would train (or time)
is captured there. Issue 17: with `model.intermediate_size: 512`, training gave the Transformer++ a matched
feed-forward while `retlab bench` gave it 512, so the benchmark compared models of different sizes."""

import re

import pytest

import retlab.training.train as train_module
from retlab.config.loader import load_config
from retlab.models.sizing import count_parameters

SIZE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_heads",
    "intermediate_size",
    "value_dim",
)
CASES = {"default-ffn": {}, "intermediate_size-512": {"model.intermediate_size": 512}}
COMPARE = ["retnet", "transformer"]


class Captured(Exception):
    """Raised where training would start: the model config has been recorded."""


def tiny(tmp_path, name: str, **overrides):
    base = {
        "name": name,
        "output_dir": str(tmp_path / name),
        "compare": COMPARE,
        "data.seq_len": 32,
        "data.mqar.vocab_size": 64,
        "data.mqar.num_kv_pairs": [2, 4],
        "data.mqar.train_examples": 64,
        "data.mqar.val_examples": 16,
        "data.mqar.test_examples": 16,
        "model.hidden_size": 64,
        "model.num_hidden_layers": 2,
        "model.num_heads": 2,
        "train.batch_size": 8,
        "train.accelerator": "cpu",
        "sweep.backend": "sequential",
        "sweep.compare": COMPARE,
        "bench.use_trained": False,
    }
    return load_config(None, base | overrides)


def sizes(config) -> dict:
    return {k: getattr(config, k, None) for k in SIZE_FIELDS} | {"params": count_parameters(config)}


@pytest.fixture
def trained_configs(monkeypatch) -> list:
    """Model configs that train() got as far as building a model from (it stops there)."""
    seen = []

    def record(model_config, *args, **kwargs):
        seen.append(model_config)
        raise Captured

    monkeypatch.setattr(train_module, "CausalLMModule", record)
    return seen


def through_train(tmp_path, overrides, seen) -> dict:
    cfg = tiny(tmp_path, "train", **overrides)
    for arch in COMPARE:
        with pytest.raises(Captured):
            train_module.train(cfg, arch)
    return {arch: sizes(c) for arch, c in zip(COMPARE, seen, strict=True)}


def through_run(tmp_path, overrides, seen, monkeypatch, capsys) -> dict:
    import retlab.pipeline as pipeline

    real_train = train_module.train

    def train_until_the_model(cfg, arch=None, **kwargs):
        with pytest.raises(Captured):
            real_train(cfg, arch, **kwargs)
        return {}

    monkeypatch.setattr(train_module, "train", train_until_the_model)
    monkeypatch.setattr(pipeline, "optional_stage", lambda *args, **kwargs: None)
    capsys.readouterr()
    pipeline.run(tiny(tmp_path, "run", **overrides))
    printed = dict(re.findall(r"params: (\S+) .*intermediate_size (\d+)", capsys.readouterr().out))
    got = {arch: sizes(c) for arch, c in zip(COMPARE, seen, strict=True)}
    assert {arch: int(size) for arch, size in printed.items()} == {
        arch: s["intermediate_size"] for arch, s in got.items()
    }, "run printed other sizes than it trained"
    return got


def through_sweep(tmp_path, overrides, seen, monkeypatch) -> dict:
    import retlab.sweep.run as sweep_run
    from retlab.sweep.trial import link_shared

    def trial_until_the_model(spec):
        link_shared(spec)
        with pytest.raises(Captured):
            train_module.train(spec.cfg, arch=spec.arch)
        return {"test_loss": 0.0}

    monkeypatch.setattr(sweep_run, "train_trial", trial_until_the_model)
    sweep_run.sweep(tiny(tmp_path, "sweep", **overrides))
    return {arch: sizes(c) for arch, c in zip(COMPARE, seen, strict=True)}


def through_bench(tmp_path, overrides) -> dict:
    from retlab.bench.models import bench_configs

    cfg = tiny(tmp_path, "bench", **overrides)
    return {m.arch: sizes(m.config) for m in bench_configs(cfg, COMPARE, max(cfg.bench.contexts))}


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_every_entry_point_builds_the_same_sizes(tmp_path, overrides, trained_configs, monkeypatch, capsys):
    found = {"train": through_train(tmp_path, overrides, trained_configs)}
    trained_configs.clear()
    found["sweep"] = through_sweep(tmp_path, overrides, trained_configs, monkeypatch)
    trained_configs.clear()
    found["run"] = through_run(tmp_path, overrides, trained_configs, monkeypatch, capsys)
    found["bench"] = through_bench(tmp_path, overrides)

    expected = found["train"]
    reference = expected[COMPARE[0]]["params"]
    assert abs(expected["transformer"]["params"] - reference) <= 0.01 * reference
    if overrides:
        assert expected["retnet"]["intermediate_size"] == 512
    for entry, got in found.items():
        assert got == expected, f"{entry} builds other sizes than train"
