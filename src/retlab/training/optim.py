"""AdamW with decoupled weight decay on matrices only, and a warm-up + decay schedule stepped per optimiser step."""

import math

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: weight matrices decay; norms, biases and embeddings do not.

    Embeddings are found by module type (their weights are 2-D like any matrix); a tied output head shares the
    embedding's tensor and is therefore not decayed either."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay, no_decay = [], []
    for p in model.parameters():  # parameters() yields a shared (tied) tensor once
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or id(p) in embeddings else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, warmup_steps: int, total_steps: int, schedule: str, min_lr_ratio: float) -> float:
    """Multiplier of the peak lr at optimiser step `step` (0-based): linear warm-up to 1, then decay to min_lr_ratio
    at `total_steps` (cosine or linear) or stay at 1 (constant)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant" or total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return min_lr_ratio + (1 - min_lr_ratio) * shape


def configure_optimizers(model: nn.Module, train_cfg, total_steps: int) -> dict:
    """Lightning's optimiser dict: AdamW + LambdaLR with `interval: step` (one scheduler step per optimiser step,
    so gradient accumulation does not stretch or shrink the schedule)."""
    t = train_cfg
    optimizer = torch.optim.AdamW(param_groups(model, t.weight_decay), lr=t.lr, betas=tuple(t.betas))

    def factor(step: int) -> float:
        return lr_factor(step, t.warmup_steps, total_steps, t.schedule, t.min_lr_ratio)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
    }
