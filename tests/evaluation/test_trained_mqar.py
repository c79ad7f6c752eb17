"""A briefly trained model beats chance on MQAR under `retlab eval`, and eval's accuracy agrees with the one
training reports for the same checkpoint and test split."""

import math

import pytest

from retlab.config.loader import load_config
from retlab.evaluation.evaluate import evaluate


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from retlab.training.train import train

    cfg = load_config(
        overrides={
            "name": "mqar",
            "output_dir": str(tmp_path_factory.mktemp("trained")),
            "compare": ["transformer"],
            "model.arch": "transformer",
            "data.source": "mqar",
            "data.seq_len": 16,
            "data.mqar.vocab_size": 32,  # 14 values: guessing scores 1/14
            "data.mqar.num_kv_pairs": [2],
            "data.mqar.train_examples": 4000,
            "data.mqar.val_examples": 50,
            "data.mqar.test_examples": 100,
            "model.hidden_size": 64,
            "model.num_hidden_layers": 2,
            "model.num_heads": 2,
            "train.batch_size": 32,
            "train.lr": 3e-3,
            "train.warmup_steps": 10,
            "train.max_steps": 150,
            "train.val_check_interval": 150,
            "train.limit_val_batches": 2,
            "train.accelerator": "cpu",
            "eval.device": "cpu",
        }
    )
    return cfg, train(cfg)


def test_trained_model_beats_chance_and_matches_training(trained):
    cfg, metrics = trained
    mqar = evaluate(cfg)["results"]["transformer"]["mqar"]
    chance, n = mqar["chance_accuracy"]["value"], mqar["n"]
    assert mqar["accuracy"]["value"] > chance + 5 * math.sqrt(chance * (1 - chance) / n)
    assert mqar["accuracy"]["value"] == pytest.approx(metrics["test_mqar_accuracy"], abs=1e-6)
