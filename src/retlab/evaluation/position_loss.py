"""Loss by token position, out to several times the training length: length extrapolation (RetNet's decay
against the Transformer's RoPE).

The test split's token stream (`perplexity.text_stream`: documents joined by <eos>) is cut into consecutive,
non-overlapping windows of max_len + 1 tokens, max_len = max(multiples) x seq_len, as training packs its blocks
(a window may start inside a document). Position t of a window is the loss of predicting token t + 1 from
tokens 0..t, i.e. with t + 1 tokens of context; positions >= seq_len were never trained on.

    bands:  for each multiple m (ascending, previous one p, p = 0 first): the mean loss over positions
            [p x seq_len, m x seq_len), e.g. loss_0x_1x, loss_1x_2x, loss_2x_4x
    curve:  the mean loss over buckets of positions (edges 0, 1, 2, 4, ... doubling below seq_len / 8, then
            every seq_len / 8, and every band edge), for plots

Every mean is over all windows and positions of its range (each window contributes equally); its stderr is
the standard error of the per-window means (None with a single window)."""

import math

import torch

from ..models.loss import aligned_lm_loss
from .perplexity import batched, text_stream


def band_name(low: int, high: int) -> str:
    """`loss_0x_1x` for [0, 1x), `loss_1x_2x` for [1x, 2x) (multiples of the training length)."""
    return f"loss_{low}x_{high}x"


def bucket_edges(max_len: int, seq_len: int, multiples: list[int]) -> list[int]:
    """Edges of the curve's position buckets: fine where the loss falls fastest (the first tokens), even
    after, and always at the band edges."""
    width = max(1, seq_len // 8)
    fine = [1 << i for i in range(max(0, (width - 1).bit_length()))]  # 1, 2, 4, ... below width
    return sorted({0, *fine, *range(width, max_len, width), *(m * seq_len for m in multiples)})


def windows(stream: torch.Tensor, max_len: int) -> torch.Tensor:
    """(N, max_len + 1) consecutive, non-overlapping windows of `stream` (the tail that does not fill one is
    dropped)."""
    n = (len(stream) - 1) // max_len
    return torch.stack([stream[i * max_len : (i + 1) * max_len + 1] for i in range(n)]) if n else stream[:0]


@torch.no_grad()
def token_losses(model, blocks: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """(N, L) loss in nats of every token of `blocks` (N, L + 1): row i, column t predicts blocks[i, t + 1]."""
    device = next(model.parameters()).device
    out = []
    for rows in batched(range(len(blocks)), batch_size):
        block = blocks[rows].to(device)  # (B, L + 1)
        logits = model(block[:, :-1]).logits  # (B, L, V)
        out.append(aligned_lm_loss(logits, block[:, 1:], reduction="none").view(len(rows), -1).float().cpu())
    return torch.cat(out)


def range_mean(losses: torch.Tensor, low: int, high: int) -> dict:
    """Mean loss over positions [low, high) of every window, with the standard error of the window means."""
    per_window = losses[:, low:high].mean(dim=1)  # (N,)
    n = len(per_window)
    stderr = float(per_window.std(unbiased=True)) / math.sqrt(n) if n > 1 else None
    return {"value": float(per_window.mean()), "stderr": stderr}


def summarize(losses: torch.Tensor, seq_len: int, multiples: list[int]) -> dict:
    """The bands and the bucketed curve of per-token `losses` (N, max(multiples) x seq_len)."""
    multiples = sorted(set(multiples))
    bands = {}
    for low, high in zip([0, *multiples], multiples, strict=False):
        bands[band_name(low, high)] = range_mean(losses, low * seq_len, high * seq_len)
    edges = bucket_edges(losses.shape[1], seq_len, multiples)
    buckets = [range_mean(losses, a, b) for a, b in zip(edges, edges[1:], strict=False)]
    curve = {
        "start": edges[:-1],
        "end": edges[1:],
        "loss": [b["value"] for b in buckets],
        "stderr": [b["stderr"] for b in buckets],
    }
    return {"n": len(losses), **bands, "seq_len": seq_len, "multiples": multiples, "curve": curve}


def position_loss(model, tokenizer, docs, seq_len: int, multiples: list[int], batch_size: int = 8) -> dict:
    """{"n": windows, band: {"value", "stderr"} ..., "seq_len", "multiples", "curve": {...}} of `model` on
    `docs`; raises ValueError when they do not fill one window."""
    max_len = max(multiples) * seq_len
    stream, _ = text_stream(docs, tokenizer)
    blocks = windows(stream, max_len)
    if len(blocks) == 0:
        raise ValueError(f"{len(stream):,} tokens, fewer than the {max_len + 1:,} of one window")
    return summarize(token_losses(model, blocks, batch_size), seq_len, multiples)
