"""`hf:` contenders end to end on CPU: a tiny Llama and a tiny Mamba go through `retlab run` (train a few steps,
evaluate, decode-benchmark, report) like the native models; their exports load with plain transformers where
retlab cannot be imported, and decoding through each one's own cache gives the full forward's logits."""

import json
import textwrap

import pytest
import torch

from fresh_process import run_without_retlab
from retlab.config.loader import load_config
from retlab.layout import RunLayout
from retlab.models.decoding import Decoder
from retlab.models.factory import load_model
from retlab.models.sizing import count_parameters
from training.configs import mqar_overrides

COMPARE = ["hf:llama", "hf:mamba"]

# Runs in a fresh interpreter where `import retlab` raises: the export must load with transformers alone.
PLAIN_LOAD = textwrap.dedent(
    """
    import torch
    from transformers import AutoModelForCausalLM

    ids = torch.load(sys.argv[1])
    for export in sys.argv[2:]:
        model = AutoModelForCausalLM.from_pretrained(export).eval()
        assert type(model).__module__.startswith("transformers."), type(model).__module__
        with torch.no_grad():
            torch.save(model(ids).logits, f"{export}/../plain-logits.pt")
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from retlab.pipeline import run

    cfg = load_config(
        overrides=mqar_overrides(
            "hf",
            tmp_path_factory.mktemp("hf"),
            **{
                "compare": COMPARE,
                "data.mqar.train_examples": 256,
                "data.mqar.val_examples": 16,
                "data.mqar.test_examples": 32,
                "model.hidden_size": 32,
                "model.hf_overrides": {"mamba": {"state_size": 8}},
                "train.batch_size": 16,
                "train.max_steps": 6,
                "train.val_check_interval": 3,
                "bench.enabled": True,
                "bench.device": "cpu",
                "bench.contexts": [8, 24],
                "bench.batch_sizes": [2],
                "bench.decode_steps": 3,
                "bench.warmup_steps": 1,
            },
        )
    )
    return cfg, run(cfg)


def test_trained_evaluated_and_matched_like_native_models(run):
    cfg, metrics = run
    assert list(metrics) == COMPARE
    llama, mamba = (metrics[a]["params"] for a in COMPARE)
    assert abs(mamba - llama) <= 0.01 * llama  # Mamba's intermediate_size matched to the Llama's count
    layout = RunLayout.of(cfg)
    results = json.loads((layout.eval / "results.json").read_text())
    for arch in COMPARE:
        assert metrics[arch]["steps"] == 6 and 0 <= metrics[arch]["test_mqar_accuracy"] <= 1
        accuracy = results["results"][arch]["mqar"]["accuracy"]["value"]
        assert accuracy == pytest.approx(metrics[arch]["test_mqar_accuracy"], abs=1e-6)
        config = json.loads((layout.arch(arch).best / "config.json").read_text())
        assert config["model_type"] == arch.removeprefix("hf:") and "auto_map" not in config  # no remote code
    report = (layout.report / "README.md").read_text()
    assert all(arch in report for arch in COMPARE)


def test_exports_load_with_plain_transformers_without_retlab(run, tmp_path):
    cfg, _ = run
    exports = [RunLayout.of(cfg).arch(arch).best for arch in COMPARE]
    ids = torch.randint(4, 32, (2, 16), generator=torch.Generator().manual_seed(0))
    torch.save(ids, tmp_path / "ids.pt")
    run_without_retlab(PLAIN_LOAD, [str(tmp_path / "ids.pt"), *map(str, exports)], cwd=tmp_path)
    for export in exports:
        model = load_model(export)
        assert count_parameters(model.config) == sum(p.numel() for p in model.parameters())
        with torch.no_grad():
            torch.testing.assert_close(torch.load(export.parent / "plain-logits.pt"), model(ids).logits)


@pytest.mark.parametrize("arch", COMPARE)
def test_trained_model_decodes_through_its_cache_as_the_full_forward(run, arch):
    cfg, _ = run
    model = load_model(RunLayout.of(cfg).arch(arch).best)
    ids = torch.randint(4, 32, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(ids).logits  # (B, T, V)
        decoder = Decoder(model)
        stepped = [decoder.prefill(ids[:, :6])] + [decoder.step(ids[:, t : t + 1]) for t in range(6, 16)]
    torch.testing.assert_close(torch.stack(stepped, 1), full[:, 5:], atol=1e-4, rtol=1e-4)


def test_decode_benchmark_uses_each_models_own_cache(run):
    cfg, _ = run
    bench = json.loads((RunLayout.of(cfg).bench / "infer.json").read_text())
    points = {(p["arch"], p["context"]): p for p in bench["points"]}
    assert set(points) == {(a, c) for a in COMPARE for c in (8, 24)}
    assert all(p["time_per_token_ms"]["median"] > 0 for p in points.values())
    # Llama's KV cache grows with the context (3x the tokens, 3x the bytes); Mamba's state does not.
    assert points["hf:llama", 24]["state_bytes"] == 3 * points["hf:llama", 8]["state_bytes"]
    assert points["hf:mamba", 24]["state_bytes"] == points["hf:mamba", 8]["state_bytes"] > 0
    assert [m["source"].startswith("trained") for m in bench["models"]] == [True, True]
