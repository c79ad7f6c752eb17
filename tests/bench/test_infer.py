"""bench infer: RetNet and the Transformer with both KV caches at every point, exact state bytes, per-step working
memory after the prefill is released, speed-ups against the faster Transformer decoder, crossover, caching."""

import json
import math

import pytest

from retlab.bench import infer as infer_module
from retlab.bench.infer import bench_infer
from retlab.bench.summary import comparisons, crossover_context, crossovers
from retlab.bench.timer import per_round_ratios, summarize
from retlab.layout import RunLayout

SPREAD = {"median", "q1", "q3", "iqr", "min", "max", "n"}
POINT_KEYS = {
    "decoder",
    "arch",
    "cache",
    "batch_size",
    "context",
    "time_per_token_ms",
    "time_per_token_ms_rounds",
    "decode_tokens_per_s",
    "decode_flops_per_token",
    "mfu",
    "state_bytes",
    "state_analytic_bytes",
    "state_mib",
    "state_tokens",
    "state_dtype",
    "decode_step_peak_mib",
}
DECODERS = {"retnet", "transformer-dynamic", "transformer-static"}


@pytest.fixture(scope="module")
def result(tiny_cfg):
    cfg = tiny_cfg(("retnet", "transformer"))
    return cfg, bench_infer(cfg)


def points_of(res, decoder):
    return {(p["batch_size"], p["context"]): p for p in res["points"] if p["decoder"] == decoder}


def test_every_decoder_at_every_point_with_spreads_and_units(result):
    cfg, res = result
    on_disk = json.loads((RunLayout.of(cfg).bench / "infer.json").read_text())
    assert on_disk["points"] == res["points"] and on_disk["crossover"] == res["crossover"]
    assert {d["decoder"] for d in res["decoders"]} == DECODERS
    assert len(res["points"]) == 3 * 2 * 2
    for p in res["points"]:
        assert set(p) == POINT_KEYS, p
        assert set(p["time_per_token_ms"]) == SPREAD and p["time_per_token_ms"]["n"] == 3
        assert p["time_per_token_ms"] == summarize(p["time_per_token_ms_rounds"])
        tokens = [p["batch_size"] * 1e3 / ms for ms in p["time_per_token_ms_rounds"]]
        assert p["decode_tokens_per_s"] == pytest.approx(summarize(tokens))
        assert p["mfu"]["median"] == pytest.approx(
            p["decode_flops_per_token"] * p["decode_tokens_per_s"]["median"] / (res["peak"]["tflops"] * 1e12)
        )
    for p in res["prefill"]:
        assert set(p["prefill_s"]) == SPREAD and p["prefill_peak_mib"] > 0
    assert res["peak"]["gemm_tflops"]["n"] == 5 and res["peak"]["tflops"] > 0  # MFU on CPU: a measured GEMM
    assert res["machine"]["torch_threads"] >= 1 and res["machine"]["cpu"]
    assert {"start", "end"} == set(res["load_average"])
    for plot in res["plots"]:
        assert open(plot, "rb").read(4) == b"\x89PNG"
    assert {p.rsplit("/", 1)[-1] for p in res["plots"]} >= {"infer_time_per_token.png", "infer_speedup.png"}


def test_measured_state_bytes_equal_the_formula(result):
    _, res = result
    for p in res["points"]:
        assert p["state_bytes"] == p["state_analytic_bytes"], p


def test_kv_caches_grow_with_context_and_batch_and_the_static_one_holds_its_capacity(result):
    cfg, res = result
    dynamic, static = points_of(res, "transformer-dynamic"), points_of(res, "transformer-static")
    assert dynamic[1, 64]["state_bytes"] == 2 * dynamic[1, 32]["state_bytes"]
    assert dynamic[2, 32]["state_bytes"] == 2 * dynamic[1, 32]["state_bytes"]
    assert dynamic[1, 32]["state_bytes"] == 2 * 2 * 32 * 32 * 4  # 2 (K and V) * L * T * d * 4 bytes
    capacity = 32 + cfg.bench.warmup_steps + 2 + cfg.bench.decode_steps
    assert static[1, 32]["state_tokens"] == capacity
    assert static[1, 32]["state_bytes"] == 2 * 2 * capacity * 32 * 4


def test_retnet_state_is_constant_in_context(result):
    _, res = result
    state = {k: p["state_bytes"] for k, p in points_of(res, "retnet").items()}
    assert state[1, 32] == state[1, 64] > 0
    assert state[2, 64] == 2 * state[1, 64]
    d_k, d_v = 32 // 2, 64 // 2  # value_dim defaults to 2 * hidden
    assert state[1, 32] == 2 * 2 * d_k * d_v * 4  # L * H * d_k * d_v * 4 bytes


def test_step_memory_is_measured_after_the_prefill_and_shows_the_dynamic_caches_copy(result):
    _, res = result
    retnet = points_of(res, "retnet")
    dynamic, static = points_of(res, "transformer-dynamic"), points_of(res, "transformer-static")
    # RetNet's step works on its fixed-size state: the prefill's memory (which grows with context) is not in it
    assert retnet[1, 32]["decode_step_peak_mib"] == retnet[1, 64]["decode_step_peak_mib"]
    for where, d in dynamic.items():
        one_layer_keys = d["state_bytes"] / (2 * 2) / 2**20  # concatenation copies each layer's keys whole
        assert one_layer_keys <= d["decode_step_peak_mib"] < d["state_mib"]  # one copy at a time, not all
        assert static[where]["decode_step_peak_mib"] < d["decode_step_peak_mib"]  # written in place, no copy


def test_speedups_are_per_round_and_against_the_faster_transformer_decoder(result):
    _, res = result
    assert res["comparisons"] == comparisons(res)
    assert len(res["comparisons"]) == 4
    for c in res["comparisons"]:
        where = (c["batch_size"], c["context"])
        kv = {name: points_of(res, name)[where] for name in ("transformer-dynamic", "transformer-static")}
        faster = min(kv, key=lambda name: kv[name]["time_per_token_ms"]["median"])
        assert c["baseline"] == faster
        retnet_ms = points_of(res, "retnet")[where]["time_per_token_ms_rounds"]
        expected = summarize(per_round_ratios(kv[faster]["time_per_token_ms_rounds"], retnet_ms))
        assert c["speedup"] == expected == c["speedup_vs"][faster]
    assert {(x["decoder"], x["batch_size"]) for x in res["crossover"]} == {("retnet", 1), ("retnet", 2)}
    assert res["crossover"] == crossovers(res)


def test_crossover_is_interpolated_on_log_context():
    contexts = [512, 1024, 2048, 4096]
    context, status = crossover_context(contexts, [0.5, 0.8, 1.6, 3.0])
    # log-speed-up goes from log 0.8 to log 1.6 = log 0.8 + log 2 between 1k and 2k: 0 at fraction -log 0.8 / log 2
    assert status == "within" and context == pytest.approx(1024 * 2 ** (-math.log(0.8) / math.log(2)))
    assert crossover_context(contexts, [1.2, 0.9, 1.5, 2.0])[1] == "within"  # the last time it crosses
    assert crossover_context(contexts, [1.0, 1.1, 1.5, 2.0]) == (512.0, "from_smallest")
    assert crossover_context(contexts, [0.2, 0.4, 0.6, 0.9]) == (None, "not_within")
    assert crossover_context(contexts, [0.2, 0.4, 1.2, 0.9]) == (None, "not_within")


def test_a_cached_result_is_not_measured_again_nor_rewritten(tiny_cfg, monkeypatch, capsys):
    cfg = tiny_cfg(("retnet", "transformer"), **{"bench.contexts": [16], "bench.batch_sizes": [1]})
    first = bench_infer(cfg)
    path = RunLayout.of(cfg).bench / "infer.json"
    before = path.read_bytes()

    def no_measuring(*args, **kwargs):
        raise AssertionError("a cached benchmark was measured again")

    with monkeypatch.context() as m:
        m.setattr(infer_module, "point_at", no_measuring)
        again = bench_infer(cfg)
    assert path.read_bytes() == before and again["points"] == first["points"]
    assert "up to date" in capsys.readouterr().out

    bench_infer(cfg, force=True)  # --force re-measures
    assert json.loads(path.read_bytes())["measured_at"] >= first["measured_at"]
    assert path.read_bytes() != before
    changed = path.read_bytes()
    from retlab.bench import machine as machine_module

    machine = machine_module.machine_description
    monkeypatch.setattr(machine_module, "machine_description", lambda d: {**machine(d), "cpu": "another"})
    bench_infer(cfg)  # another machine re-measures
    assert path.read_bytes() != changed


def test_torchscale_archs_are_skipped_with_a_note_and_threads_follow_the_config(tiny_cfg):
    import torch

    over = {"bench.contexts": [16], "bench.batch_sizes": [1], "num_threads": 1}
    cfg = tiny_cfg(("transformer", "torchscale-transformer"), **over)
    threads = torch.get_num_threads()
    try:
        res = bench_infer(cfg)
    finally:
        torch.set_num_threads(threads)
    assert res["machine"]["torch_threads"] == 1 and res["device"] == "cpu (1 thread)"
    assert {p["decoder"] for p in res["points"]} == {"transformer-dynamic", "transformer-static"}
    assert any("torchscale-transformer" in n and "no cache" in n for n in res["notes"])
    assert res["comparisons"] == [] and res["crossover"] == []


def test_points_over_the_memory_budget_are_skipped_with_a_note(tiny_cfg):
    over = {"bench.contexts": [16], "bench.batch_sizes": [1], "bench.memory_limit_gib": 1e-6}
    res = bench_infer(tiny_cfg(("retnet", "transformer"), **over))
    assert len(res["points"]) == 3 and all("memory budget" in p["skipped"] for p in res["points"])
    assert res["comparisons"] == [] and res["prefill"] == []
    assert sum("skipped" in n for n in res["notes"]) == 3
