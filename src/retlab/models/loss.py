"""The one loss retlab trains and evaluates with: next-token cross-entropy over real tokens only."""

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def aligned_lm_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of `logits` (B, T, V) against already-aligned `labels` (B, T); labels == -100 are ignored.

    Computed in float32 so bf16/fp16 training reports the same loss as float32 would."""
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction=reduction,
    )
