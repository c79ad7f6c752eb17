"""MQAR accuracy: the share of queried keys whose value the model predicts (argmax) on the test split, overall
and per number of key-value pairs. The split is regenerated from the config (deterministic in cfg.seed), so any
model can be scored on exactly the examples training held out."""

import math

import numpy as np
import torch

from ..data.mqar import generate_split, key_value_ranges, labels_from, mqar_accuracy


def _score(correct: int, total: int) -> dict:
    p = correct / total if total else float("nan")
    return {"value": p, "stderr": math.sqrt(p * (1 - p) / total) if total else None}


@torch.no_grad()
def mqar_scores(model, cfg, batch_size: int = 32) -> dict:
    """{"n": queries, "accuracy": {...}, "accuracy_kv<K>": {...} per K, "chance_accuracy": {...}}."""
    blocks, masks, kvs = generate_split(cfg, "test")  # (N, T+1), (N, T), (N,)
    labels = np.stack([labels_from(b, m) for b, m in zip(blocks, masks, strict=True)])  # (N, T)
    device = next(model.parameters()).device
    counts: dict[int, list[int]] = {int(k): [0, 0] for k in np.unique(kvs)}
    for start in range(0, len(blocks), batch_size):
        ids = torch.from_numpy(blocks[start : start + batch_size, :-1].astype(np.int64)).to(device)  # (B, T)
        logits = model(ids).logits  # (B, T, V)
        for row, kv in enumerate(kvs[start : start + batch_size]):
            correct, total = mqar_accuracy(
                logits[row : row + 1].cpu(), torch.from_numpy(labels[start + row : start + row + 1])
            )
            counts[int(kv)][0] += correct
            counts[int(kv)][1] += total
    correct, total = (sum(c[i] for c in counts.values()) for i in (0, 1))
    n_values = len(key_value_ranges(cfg.data.mqar.vocab_size)[1])
    out = {"n": total, "accuracy": _score(correct, total)}
    out |= {f"accuracy_kv{kv}": _score(*c) for kv, c in sorted(counts.items())}
    out["chance_accuracy"] = {"value": 1 / n_values, "stderr": None}  # guessing among the possible values
    return out
