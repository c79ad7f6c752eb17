"""The benchmarks take `hf:` contenders like the native ones: decoding through each model's own cache, a model
whose cache cannot decode step by step timed by recomputing its prefix (with a note, not skipped), and training
steps with FLOPs counted from its parameters."""

import pytest

from retlab.bench.infer import bench_infer
from retlab.bench.train import bench_train
from retlab.errors import ConfigError
from retlab.layout import RunLayout


def test_a_model_without_a_stepwise_cache_is_timed_with_a_note(tiny_cfg):
    # MiniMax (its original linear attention) keeps a cache of its own format, not a transformers Cache. Unmatched:
    # its experts' grouped matmul on CPU needs a feed-forward width that is a multiple of 4.
    settings = {"bench.contexts": [16, 32], "bench.batch_sizes": [1], "model.match_parameters": False}
    cfg = tiny_cfg(("transformer", "hf:minimax"), **settings)
    res = bench_infer(cfg)
    points = [p for p in res["points"] if p["arch"] == "hf:minimax"]
    assert [(p["decoder"], p["cache"], p["context"]) for p in points] == [
        ("hf:minimax", "recompute", 16),
        ("hf:minimax", "recompute", 32),
    ]
    assert all(p["time_per_token_ms"]["median"] > 0 and p["state_bytes"] == 0 for p in points)
    assert any(n.startswith("hf:minimax:") and "cannot decode step by step" in n for n in res["notes"])
    summary = {m["arch"]: m for m in res["models"]}["hf:minimax"]
    assert summary["hidden_size"] == 32 and summary["num_heads"] == 2


def test_hf_models_decode_through_their_own_cache(tiny_cfg):
    # Llama: its own DynamicCache (retlab's static copy is the Transformer++'s); Mamba: its recurrent state.
    cfg = tiny_cfg(("hf:llama", "hf:mamba"), **{"bench.contexts": [16, 48], "bench.batch_sizes": [2]})
    res = bench_infer(cfg)
    points = {(p["decoder"], p["context"]): p for p in res["points"]}
    assert set(points) == {(d, c) for d in ("hf:llama-dynamic", "hf:mamba") for c in (16, 48)}
    assert all(
        p["time_per_token_ms"]["median"] > 0 and p["state_analytic_bytes"] is None for p in points.values()
    )
    # Llama's KV cache grows with the context (3x the tokens, 3x the bytes); Mamba's state does not.
    assert points["hf:llama-dynamic", 48]["state_bytes"] == 3 * points["hf:llama-dynamic", 16]["state_bytes"]
    assert points["hf:mamba", 48]["state_bytes"] == points["hf:mamba", 16]["state_bytes"] > 0
    assert {c["decoder"]: c["baseline"] for c in res["comparisons"]} == {"hf:mamba": "hf:llama-dynamic"}


def test_training_benchmark_times_hf_models_with_their_flops(tiny_cfg):
    cfg = tiny_cfg(("retnet", "hf:mamba", "hf:llama"), **{"bench.archs": ["hf:mamba", "hf:llama"]})
    res = bench_train(cfg)
    assert {p["variant"] for p in res["points"]} == {"hf:mamba", "hf:llama"}
    for p in res["points"]:
        assert p["tokens_per_s"]["median"] > 0 and p["flops_per_token"] > 0
    mamba, llama = ({m["arch"]: m for m in res["models"]}[a] for a in ("hf:mamba", "hf:llama"))
    assert mamba["num_heads"] is None and mamba["intermediate_size"] > 0 and llama["num_heads"] == 2
    retnet_params = mamba["params"]  # both matched to compare's first arch, the RetNet
    assert abs(llama["params"] - retnet_params) <= 0.02 * retnet_params


def test_an_hf_model_that_cannot_be_built_is_one_line_before_the_benchmarks_write(tiny_cfg, capsys):
    cfg = tiny_cfg(("retnet", "hf:mamba"), **{"model.hf_overrides": {"mamba": {"state_size": -4}}})
    for bench in (bench_infer, bench_train):
        with pytest.raises(ConfigError) as err:
            bench(cfg)
        assert err.value.field == "model.hf_overrides.mamba" and "negative dimension" in err.value.problem
    assert not RunLayout.of(cfg).root.exists()
