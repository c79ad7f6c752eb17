"""MQAR accuracy counts answer positions exactly: an oracle scores 1, a model that never answers scores 0, and a
random-init model stays near guessing; every key-value count gets its own accuracy."""

import pytest
import torch
from transformers.modeling_outputs import CausalLMOutput

from retlab.data.mqar import key_value_ranges
from retlab.evaluation.mqar import mqar_scores

from .conftest import MQAR, run_config, tiny_model


class Recall(torch.nn.Module):
    """Predicts, at every position holding a key, the value that followed that key's first occurrence
    (`offset` shifts the prediction to another id, making every answer wrong)."""

    def __init__(self, vocab_size: int, offset: int = 0):
        super().__init__()
        self.vocab_size, self.offset = vocab_size, offset
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the scorer a device to read

    def forward(self, ids: torch.Tensor) -> CausalLMOutput:
        logits = torch.zeros(*ids.shape, self.vocab_size)  # (B, T, V)
        for b, row in enumerate(ids.tolist()):
            first: dict[int, int] = {}
            for t, tok in enumerate(row):
                if tok in first and first[tok] + 1 < t:
                    value = row[first[tok] + 1]
                    logits[b, t, (value + self.offset) % self.vocab_size] = 1.0
                first.setdefault(tok, t)
        return CausalLMOutput(logits=logits)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, corpus):
    return run_config(tmp_path_factory.mktemp("mqar"), corpus, **MQAR)


def test_oracle_scores_one_and_every_kv_count_is_reported(cfg):
    scores = mqar_scores(Recall(64), cfg, batch_size=16)
    assert scores["n"] > 40
    assert {k for k in scores if k.startswith("accuracy_kv")} == {"accuracy_kv2", "accuracy_kv4"}
    assert (
        scores["accuracy"]["value"]
        == scores["accuracy_kv2"]["value"]
        == scores["accuracy_kv4"]["value"]
        == 1.0
    )


def test_wrong_answers_score_zero(cfg):
    assert mqar_scores(Recall(64, offset=1), cfg, batch_size=16)["accuracy"]["value"] == 0.0


def test_random_init_is_near_chance(cfg):
    scores = mqar_scores(tiny_model("transformer", 64), cfg, batch_size=16)
    chance = 1 / len(key_value_ranges(64)[1])
    assert scores["chance_accuracy"]["value"] == pytest.approx(chance)
    assert scores["accuracy"]["value"] < 5 * chance
