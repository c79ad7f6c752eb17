"""Perplexity and bits per byte of a causal LM on text, with a sliding window for text longer than its context.

The documents are joined as in training (`<eos>` after each) behind one leading `<eos>`, so the first token of
the first document is predicted too: the scored tokens are exactly the documents' tokens and their `<eos>`.

Sliding window of `window` tokens and `stride` <= window: window k reads stream[k*stride : k*stride + window]
and scores only targets that no earlier window scored, so each token is scored exactly once, with at least
window - stride tokens of context (all of its history when the window covers the text). stride == window is
the plain split into consecutive chunks, as in training.

    loss          = sum of token NLLs (nats) / scored tokens        (nats per token)
    ppl           = exp(loss)
    bits_per_byte = sum of token NLLs / ln(2) / UTF-8 bytes of the documents
    unigram_loss  = the same loss for a model that ignores context (token frequencies of a training text)

Bits per byte does not depend on the tokenizer (it charges the <eos> predictions to the text as well), so it
compares models with different vocabularies; token perplexity does not."""

import math
from collections.abc import Iterable, Iterator
from itertools import islice

import torch

from ..models.loss import IGNORE_INDEX, aligned_lm_loss


def batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def text_stream(docs: Iterable[str], tokenizer, batch: int = 256) -> tuple[torch.Tensor, int]:
    """([eos] + doc_1 + [eos] + doc_2 + [eos] ..., UTF-8 bytes of the docs)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("perplexity needs a tokenizer with an eos token to separate documents")
    ids, n_bytes = [eos], 0
    for chunk in batched(docs, batch):
        for doc, doc_ids in zip(chunk, tokenizer(chunk, add_special_tokens=False)["input_ids"], strict=True):
            ids += doc_ids
            ids.append(eos)
            n_bytes += len(doc.encode("utf-8"))
    return torch.tensor(ids, dtype=torch.long), n_bytes


def plan_windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first) per window over a stream of n_tokens: input positions [begin, end) are fed, and
    positions [first, end) are scored (position t predicts token t + 1)."""
    if not 0 < stride <= window:
        raise ValueError(f"need 0 < stride <= window, got stride {stride}, window {window}")
    last = n_tokens - 1  # the final token is only ever a target
    plan, scored, begin = [], 0, 0
    while scored < last:
        end = min(begin + window, last)
        plan.append((begin, end, scored))
        scored, begin = end, begin + stride
    return plan


@torch.no_grad()
def stream_nll(
    model, stream: torch.Tensor, window: int, stride: int, batch_size: int = 8
) -> tuple[float, int]:
    """(sum of NLLs in nats, scored tokens) of `stream` (N,) under `model`, windows batched `batch_size` at a time."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for chunk in batched(plan_windows(len(stream), window, stride), batch_size):
        width = max(end - begin for begin, end, _ in chunk)
        # Right padding is harmless for causal models: padded positions come after every scored one.
        ids = torch.full((len(chunk), width), int(stream[0]), dtype=torch.long)  # (B, W)
        labels = torch.full((len(chunk), width), IGNORE_INDEX, dtype=torch.long)  # (B, W), aligned targets
        for row, (begin, end, first) in enumerate(chunk):
            ids[row, : end - begin] = stream[begin:end]
            labels[row, first - begin : end - begin] = stream[first + 1 : end + 1]
        logits = model(ids.to(device)).logits  # (B, W, V)
        total += aligned_lm_loss(logits, labels.to(device), reduction="sum").item()
        count += int((labels != IGNORE_INDEX).sum())
    return total, count


def summarize(nll: float, tokens: int, n_bytes: int) -> dict[str, float]:
    """loss (nats/token), ppl and bits_per_byte from a summed NLL in nats."""
    loss = nll / tokens
    return {"loss": loss, "ppl": math.exp(loss), "bits_per_byte": nll / math.log(2) / n_bytes}


def unigram_loss(tokenizer, train_docs: Iterable[str], test_docs: Iterable[str]) -> float:
    """The baseline a language model must beat: loss (nats/token) on the tokens that `perplexity` scores in
    `test_docs` of the add-one smoothed unigram distribution of the tokens of `train_docs` (context ignored)."""
    train, _ = text_stream(train_docs, tokenizer)
    test, _ = text_stream(test_docs, tokenizer)
    counts = torch.bincount(train[1:], minlength=len(tokenizer)).double() + 1  # (V,)
    log_p = counts.log() - counts.sum().log()
    return float(-log_p[test[1:]].mean())


def perplexity(
    model, tokenizer, docs: Iterable[str], window: int, stride: int | None = None, batch_size: int = 8
) -> dict:
    """loss, ppl, bits_per_byte, tokens, bytes, window and stride of `model` on `docs`."""
    stride = stride or window
    stream, n_bytes = text_stream(docs, tokenizer)
    if n_bytes == 0:
        raise ValueError("no text to evaluate: the documents are empty")
    nll, tokens = stream_nll(model, stream, window, stride, batch_size)
    return {
        **summarize(nll, tokens, n_bytes),
        "tokens": tokens,
        "bytes": n_bytes,
        "window": window,
        "stride": stride,
    }
