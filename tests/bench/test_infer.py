"""bench infer: documented keys with units, cache bytes measured == analytic, constant state vs linear KV."""

import json

import pytest

from retlab.bench.infer import bench_infer
from retlab.layout import RunLayout

POINT_KEYS = {
    "arch",
    "batch_size",
    "context",
    "prefill_s",
    "prefill_tokens_per_s",
    "time_per_token_ms",
    "time_per_token_mean_ms",
    "decode_tokens_per_s",
    "peak_mem_mib",
    "peak_mem_total_mib",
    "prefill_peak_mem_mib",
    "decode_peak_mem_mib",
    "cache_bytes",
    "cache_analytic_bytes",
    "cache_mib",
    "cache_analytic_mib",
    "cache_dtype",
    "decode_flops_per_token",
}


@pytest.fixture(scope="module")
def result(tiny_cfg):
    cfg = tiny_cfg(("retnet", "transformer"))
    return cfg, bench_infer(cfg)


def test_json_has_every_point_with_units_in_names(result):
    cfg, res = result
    on_disk = json.loads((RunLayout.of(cfg).bench / "infer.json").read_text())
    assert on_disk["points"] == res["points"]
    assert len(res["points"]) == len(cfg.compare) * 2 * 2
    for point in res["points"]:
        assert set(point) == POINT_KEYS
        assert point["time_per_token_ms"] > 0 and point["decode_tokens_per_s"] > 0
        assert point["decode_tokens_per_s"] == pytest.approx(
            point["batch_size"] * 1e3 / point["time_per_token_ms"]
        )
    assert {m["arch"] for m in res["models"]} == set(cfg.compare)
    for plot in res["plots"]:
        assert open(plot, "rb").read(4) == b"\x89PNG"


def test_measured_cache_bytes_equal_the_formula(result):
    _, res = result
    for point in res["points"]:
        assert point["cache_bytes"] == point["cache_analytic_bytes"], point


def test_kv_cache_grows_linearly_with_context_and_batch(result):
    _, res = result
    kv = {
        (p["batch_size"], p["context"]): p["cache_bytes"] for p in res["points"] if p["arch"] == "transformer"
    }
    assert kv[(1, 64)] == 2 * kv[(1, 32)]
    assert kv[(2, 32)] == 2 * kv[(1, 32)]
    # 2 (K and V) * L * T * d * 4 bytes
    assert kv[(1, 32)] == 2 * 2 * 32 * 32 * 4


def test_retnet_state_is_constant_in_context(result):
    _, res = result
    state = {
        (p["batch_size"], p["context"]): p["cache_bytes"] for p in res["points"] if p["arch"] == "retnet"
    }
    assert state[(1, 32)] == state[(1, 64)] > 0
    assert state[(2, 64)] == 2 * state[(1, 64)]
    d_k, d_v = 32 // 2, 64 // 2  # value_dim defaults to 2 * hidden
    assert state[(1, 32)] == 2 * 2 * d_k * d_v * 4  # L * H * d_k * d_v * 4 bytes


def test_models_are_parameter_matched(result):
    _, res = result
    params = [m["params"] for m in res["models"]]
    assert abs(params[1] - params[0]) <= 0.01 * params[0]


def test_torchscale_archs_are_skipped_with_a_note(tiny_cfg):
    cfg = tiny_cfg(
        ("transformer", "torchscale-transformer"), **{"bench.contexts": [16], "bench.batch_sizes": [1]}
    )
    res = bench_infer(cfg)
    assert [p["arch"] for p in res["points"]] == ["transformer"]
    assert any("torchscale-transformer" in n and "no cache" in n for n in res["notes"])
