"""bench train: documented keys, RetNet in both training forms, timings interleaved per round with their spread,
FLOPs from the per-form formula, MFU against the GEMM peak measured on the CPU."""

import json

import pytest

from retlab.bench.timer import summarize
from retlab.bench.train import bench_train
from retlab.layout import RunLayout

ARCHS = ("retnet", "transformer")
POINT_KEYS = {
    "variant",
    "arch",
    "form",
    "seq_len",
    "step_s",
    "step_s_rounds",
    "tokens_per_s",
    "peak_mem_mib",
    "flops_per_token",
    "achieved_tflops",
    "mfu",
}


@pytest.fixture(scope="module")
def result(tiny_cfg):
    cfg = tiny_cfg(ARCHS, **{"bench.archs": list(ARCHS)})
    return cfg, bench_train(cfg)


def test_json_has_every_variant_and_length(result):
    cfg, res = result
    on_disk = json.loads((RunLayout.of(cfg).bench / "train.json").read_text())
    assert on_disk["points"] == res["points"]
    expected = ["retnet-parallel", "retnet-chunkwise", "transformer"]
    assert sorted({p["variant"] for p in res["points"]}) == sorted(expected)
    assert len(res["points"]) == len(expected) * 2
    peak = res["peak"]
    assert peak["tflops"] == peak["gemm_tflops"]["median"] > 0 and "measured" in peak["source"]
    for p in res["points"]:
        assert set(p) == POINT_KEYS
        assert p["step_s"] == summarize(p["step_s_rounds"]) and p["step_s"]["n"] == 1
        assert p["tokens_per_s"]["median"] == pytest.approx(p["seq_len"] / p["step_s"]["median"])  # batch 1
        tflops = p["achieved_tflops"]["median"]
        assert tflops == pytest.approx(p["flops_per_token"] * p["tokens_per_s"]["median"] / 1e12)
        assert p["mfu"]["median"] == pytest.approx(tflops / peak["tflops"]) and p["peak_mem_mib"] > 0
    assert not any("MFU: N/A" in n for n in res["notes"])


def test_flops_follow_each_form(result):
    _, res = result
    configs = {m["arch"]: m for m in res["models"]}
    for p in res["points"]:
        assert p["flops_per_token"] > 6 * configs[p["arch"]]["params"] * 0.5
    chunk = {p["seq_len"]: p["flops_per_token"] for p in res["points"] if p["variant"] == "retnet-chunkwise"}
    par = {p["seq_len"]: p["flops_per_token"] for p in res["points"] if p["variant"] == "retnet-parallel"}
    assert chunk[32] == chunk[64]  # chunk_size 16: linear-time training
    assert par[64] > par[32]


def test_variants_take_turns_within_each_round(tiny_cfg, monkeypatch):
    from retlab.bench import train as train_module

    order = []
    real = train_module.training_step

    def watched(model, form, block, device, dtype):
        step = real(model, form, block, device, dtype)
        return lambda: (order.append((form, block.shape[1] - 1)), step())

    monkeypatch.setattr(train_module, "training_step", watched)
    cfg = tiny_cfg(
        ARCHS, **{"bench.archs": list(ARCHS), "bench.train_seq_lens": [32], "bench.train_steps": 2}
    )
    bench_train(cfg)
    timed = [form for form, _ in order[-6:]]  # two rounds of three variants, after the untimed steps
    assert timed == ["parallel", "chunkwise", "attention", "chunkwise", "attention", "parallel"]


def test_points_over_the_memory_budget_are_skipped(tiny_cfg):
    cfg = tiny_cfg(("transformer",), **{"bench.memory_limit_gib": 1e-6, "bench.train_seq_lens": [32]})
    res = bench_train(cfg)
    assert all("skipped" in p for p in res["points"])
    assert sum("memory budget" in n for n in res["notes"]) == len(res["points"])


@pytest.mark.parametrize(
    "override, field",
    [
        ({"bench.train_batch_size": 0}, "bench.train_batch_size"),
        ({"bench.memory_limit_gib": -1.0}, "bench.memory_limit_gib"),
        ({"bench.device": "tpu"}, "bench.device"),
        ({"bench.dtype": "float8"}, "bench.dtype"),
    ],
)
def test_bad_settings_name_the_field(tiny_cfg, override, field):
    from retlab.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        bench_train(tiny_cfg(("transformer",), **override))
    assert err.value.field == field


def test_models_match_compare_first_arch_even_when_it_is_not_benchmarked(tiny_cfg):
    from retlab.bench.models import bench_configs
    from retlab.models.sizing import count_parameters

    cfg = tiny_cfg(("retnet", "transformer"), **{"bench.archs": ["transformer"]})
    (alone,) = bench_configs(cfg, ["transformer"], 64)
    retnet, transformer = bench_configs(cfg, ["retnet", "transformer"], 64)
    assert alone.config.intermediate_size == transformer.config.intermediate_size
    assert abs(count_parameters(alone.config) - count_parameters(retnet.config)) <= 0.01 * count_parameters(
        retnet.config
    )
