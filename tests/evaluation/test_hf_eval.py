"""`hf:` models on text: `retlab eval` scores their perplexity and lm-eval tasks beside the native models, and
`retlab generate` samples from them through transformers' own cache handling."""

import io

import pytest

from retlab.evaluation.evaluate import evaluate
from retlab.evaluation.generate import generate
from retlab.layout import RunLayout

from .conftest import run_config, tiny_model

HF_ARCHS = ["hf:llama", "hf:mamba"]


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory, corpus, tokenizer, eval_data):
    """A text run whose <arch>/best/ exports are random-init tiny Llama and Mamba models with the tokenizer."""
    from retlab.models.export import export_hf

    cfg = run_config(
        tmp_path_factory.mktemp("hf_runs"),
        corpus,
        name="hf",
        compare=HF_ARCHS,
        **{"eval.tasks": ["piqa"], "eval.limit": 2, "eval.data_dir": str(eval_data)},
    )
    for i, arch in enumerate(HF_ARCHS):
        export_hf(tiny_model(arch, len(tokenizer), seed=i), RunLayout.of(cfg).arch(arch).best, tokenizer)
    return cfg


def test_perplexity_and_harness_tasks_score_hf_models(hf_run):
    results = evaluate(hf_run, force=True)
    assert results["labels"] == HF_ARCHS
    for arch in HF_ARCHS:
        scores = results["results"][arch]
        assert scores["piqa"]["n"] == 2 and 0 <= scores["piqa"]["acc"]["value"] <= 1
        # A random init over a 512-token vocabulary: perplexity near the vocabulary size.
        assert 100 < scores["perplexity"]["ppl"]["value"] < 2000


@pytest.mark.parametrize("arch", HF_ARCHS)
def test_generate_samples_from_hf_models(hf_run, arch):
    hf_run.generate.model = str(RunLayout.of(hf_run).arch(arch).best)
    hf_run.generate.prompts = ["First Citizen: Before we", "You are"]
    result = generate(hf_run, out=io.StringIO())
    assert len(result["texts"]) == 2 and all(isinstance(t, str) and t for t in result["texts"])
