"""Loss by token position: the bands and the bucketed curve equal a plain per-position mean of token losses over
windows packed from the text stream, and `retlab eval` records it for every model."""

import json

import pytest
import torch
import torch.nn.functional as F

from retlab.config.loader import load_config
from retlab.errors import ConfigError
from retlab.evaluation.evaluate import evaluate
from retlab.evaluation.perplexity import text_stream
from retlab.evaluation.position_loss import bucket_edges, position_loss
from retlab.layout import RunLayout

from .conftest import ARCHS, run_config, tiny_model

SEQ_LEN, MULTIPLES = 8, [4, 1, 2]  # unsorted on purpose: bands follow ascending multiples


@pytest.fixture(scope="module")
def docs(corpus):
    return corpus.read_text(encoding="utf-8").split("\n\n")[:40]


def plain(model, tokenizer, docs, max_len: int) -> torch.Tensor:
    """(N, max_len) token losses: consecutive windows of max_len + 1 stream tokens, one forward pass each."""
    stream, _ = text_stream(docs, tokenizer)
    rows = []
    for start in range(0, len(stream) - max_len, max_len):
        window = stream[start : start + max_len + 1]
        with torch.no_grad():
            logits = model(window[None, :-1]).logits[0]
        rows.append(F.cross_entropy(logits.float(), window[1:], reduction="none"))
    return torch.stack(rows)


@pytest.mark.parametrize("arch", ARCHS)
def test_bands_and_curve_are_plain_per_position_means(arch, tokenizer, docs):
    model = tiny_model(arch, len(tokenizer), seed=1)
    r = position_loss(model, tokenizer, docs, SEQ_LEN, MULTIPLES, batch_size=3)
    losses = plain(model, tokenizer, docs, 4 * SEQ_LEN)
    per_position = losses.mean(dim=0)  # (4 * SEQ_LEN,): mean over windows
    n = len(losses)
    assert r["n"] == n > 2 and r["multiples"] == [1, 2, 4] and r["seq_len"] == SEQ_LEN
    for name, (low, high) in {"loss_0x_1x": (0, 8), "loss_1x_2x": (8, 16), "loss_2x_4x": (16, 32)}.items():
        assert r[name]["value"] == pytest.approx(float(per_position[low:high].mean()), abs=1e-5)
        window_means = losses[:, low:high].mean(dim=1)
        assert r[name]["stderr"] == pytest.approx(float(window_means.std() / n**0.5), rel=1e-4)
    curve = r["curve"]
    assert curve["start"][0] == 0 and curve["end"][-1] == 4 * SEQ_LEN
    assert curve["start"][1:] == curve["end"][:-1]
    for start, end, loss in zip(curve["start"], curve["end"], curve["loss"], strict=True):
        assert loss == pytest.approx(float(per_position[start:end].mean()), abs=1e-5)


def test_buckets_are_fine_at_first_then_even_and_split_at_every_band_edge():
    assert bucket_edges(512, 128, [1, 2, 4]) == [0, 1, 2, 4, 8, *range(16, 513, 16)]
    assert bucket_edges(300, 100, [1, 3]) == sorted([0, 1, 2, 4, 8, *range(12, 300, 12), 100, 300])
    assert bucket_edges(4, 2, [2]) == [0, 1, 2, 3, 4]


def test_a_test_split_shorter_than_one_window_is_a_config_error(run_dir, corpus):
    cfg = run_config(run_dir, corpus, **{"eval.position_loss_multiples": [1000]})
    with pytest.raises(ConfigError, match="eval.position_loss_multiples: the test split has .* fewer than"):
        evaluate(cfg, force=True)


def test_eval_records_position_loss_for_every_model(run_dir, corpus):
    cfg = run_config(run_dir, corpus, **{"eval.position_loss_multiples": [1, 2]})
    results = evaluate(cfg, force=True)
    on_disk = json.loads((RunLayout.of(cfg).eval / "results.json").read_text())
    for arch in ARCHS:
        p = on_disk["results"][arch]["position_loss"]
        assert {"loss_0x_1x", "loss_1x_2x"} <= set(p) and p["curve"]["end"][-1] == 2 * cfg.data.seq_len
        assert results["summary"][arch]["position_loss/loss_1x_2x"] == p["loss_1x_2x"]["value"]


def test_multiples_below_one_and_mqar_runs_are_rejected(mqar_run):
    with pytest.raises(ConfigError, match="eval.position_loss_multiples: needs multiples >= 1"):
        load_config(overrides={"eval.position_loss_multiples": [0, 2]})
    mqar_run.eval.position_loss_multiples = [1, 2]
    try:
        with pytest.raises(ConfigError, match="eval.position_loss_multiples: MQAR"):
            evaluate(mqar_run, force=True)
    finally:
        mqar_run.eval.position_loss_multiples = []
