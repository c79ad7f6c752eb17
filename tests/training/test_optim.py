"""Optimiser groups, the LR schedule's shape, and how training duration is planned."""

import pytest
import torch

from retlab.config import RetlabConfig
from retlab.models.factory import DataShape, build_config, build_model
from retlab.training.optim import lr_factor, param_groups
from retlab.training.train import plan_steps


def test_no_weight_decay_on_norms_biases_and_embeddings():
    cfg = RetlabConfig()
    cfg.model.hidden_size, cfg.model.num_hidden_layers, cfg.model.num_heads = 32, 1, 2
    model = build_model(build_config(cfg.model, "transformer", DataShape(50, 16, 0, 1, 2)), seed=0)
    both = torch.nn.Sequential(model, torch.nn.Linear(4, 4))  # + a biased layer
    decay, no_decay = param_groups(both, 0.1)
    embedding = model.get_input_embeddings().weight
    assert any(p is embedding for p in no_decay["params"])
    assert all(p.ndim >= 2 and p is not embedding for p in decay["params"])
    assert all(p.ndim == 1 or p is embedding for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(both.parameters()))


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_schedule_warms_up_then_decays_to_min_ratio(schedule):
    f = [lr_factor(s, 4, 20, schedule, 0.1) for s in range(21)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4] == 1.0
    assert f[20] == pytest.approx(1.0 if schedule == "constant" else 0.1)
    assert all(a >= b for a, b in zip(f[4:], f[5:], strict=False))


def test_duration_from_tokens_epochs_or_steps():
    cfg = RetlabConfig()
    cfg.data.seq_len, cfg.train.batch_size, cfg.train.accumulate_grad_batches = 32, 4, 2
    cfg.train.max_tokens = 32 * 4 * 2 * 2 * 10  # 10 optimiser steps with 2 processes
    assert plan_steps(cfg, 1000, world_size=2)[0] == 10
    cfg.train.max_tokens, cfg.train.max_epochs = None, 2
    # 1000 examples / 2 processes / batch 4 = 125 micro-batches -> 63 optimiser steps per epoch (the last one short)
    assert plan_steps(cfg, 1000, world_size=2)[2] == 126
    cfg.train.max_epochs = None
    assert plan_steps(cfg, 1000, world_size=2)[1:] == (1, 63)  # no limit given: one epoch
