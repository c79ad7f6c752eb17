"""Perplexity: equal to exp(mean token loss) computed by hand, sliding windows equal the full context when they
cover the text, every token is scored once, and bits per byte divides by the text's UTF-8 bytes."""

import math

import pytest
import torch
import torch.nn.functional as F

from retlab.evaluation.perplexity import perplexity, plan_windows, stream_nll, summarize, text_stream

from .conftest import ARCHS, tiny_model

DOCS = [
    "To be, or not to be: that is the question.",
    "Café crème — naïve résumé.",
    "All the world's a stage.",
]


@pytest.fixture(scope="module", params=ARCHS)
def model(request, tokenizer):
    return tiny_model(request.param, len(tokenizer), seed=3)


def by_hand(model, stream: torch.Tensor) -> tuple[float, int]:
    """Sum of -log p(token | all earlier tokens) over stream[1:], from one full-context forward pass."""
    with torch.no_grad():
        logits = model(stream[None]).logits[0, :-1].float()  # (N-1, V)
    return F.cross_entropy(logits, stream[1:], reduction="sum").item(), len(stream) - 1


def test_stream_is_eos_separated_documents_and_counts_bytes(tokenizer):
    stream, n_bytes = text_stream(DOCS, tokenizer)
    eos = tokenizer.eos_token_id
    assert stream[0] == eos and stream[-1] == eos and int((stream == eos).sum()) == len(DOCS) + 1
    assert (
        n_bytes == sum(len(d.encode("utf-8")) for d in DOCS) > sum(len(d) for d in DOCS)
    )  # multi-byte chars
    assert tokenizer.decode(stream, skip_special_tokens=True) == "".join(DOCS)


def test_perplexity_is_exp_of_mean_token_loss(model, tokenizer):
    stream, n_bytes = text_stream(DOCS, tokenizer)
    nll, tokens = by_hand(model, stream)
    r = perplexity(model, tokenizer, DOCS, window=len(stream))
    assert r["tokens"] == tokens and r["bytes"] == n_bytes
    assert r["loss"] == pytest.approx(nll / tokens, rel=1e-5)
    assert r["ppl"] == pytest.approx(math.exp(nll / tokens), rel=1e-5)
    assert r["bits_per_byte"] == pytest.approx(nll / math.log(2) / n_bytes, rel=1e-5)


@pytest.mark.parametrize("stride", [1, 5, 16])
def test_sliding_window_equals_full_context_when_it_covers_the_text(model, tokenizer, stride):
    stream, _ = text_stream(DOCS, tokenizer)
    full = by_hand(model, stream)
    nll, tokens = stream_nll(model, stream, window=len(stream) + 7, stride=stride, batch_size=3)
    assert tokens == full[1]
    assert nll == pytest.approx(full[0], rel=1e-5)


def test_short_windows_score_every_token_once_with_less_context(model, tokenizer):
    stream, _ = text_stream(DOCS, tokenizer)
    full_nll, n = by_hand(model, stream)
    for window, stride in [(8, 8), (8, 3)]:
        nll, tokens = stream_nll(model, stream, window, stride, batch_size=16)
        assert tokens == n
        assert nll != pytest.approx(full_nll, rel=1e-6)  # the context really is cut


@pytest.mark.parametrize("n_tokens,window,stride", [(2, 4, 4), (10, 4, 4), (10, 4, 1), (33, 8, 3), (9, 9, 2)])
def test_window_plan_covers_each_target_once_with_enough_context(n_tokens, window, stride):
    scored = []
    for begin, end, first in plan_windows(n_tokens, window, stride):
        assert end - begin <= window and begin <= first < end
        scored += list(range(first, end))
        if begin > 0:
            assert first - begin >= window - stride  # context of every scored position
    assert scored == list(range(n_tokens - 1))


def test_stride_larger_than_window_is_rejected():
    with pytest.raises(ValueError, match="stride"):
        plan_windows(10, 4, 5)


def test_bits_per_byte_arithmetic():
    # 100 tokens at 2 bits each over 50 bytes: loss 2 ln 2 nats/token, ppl 4, 4 bits per byte.
    r = summarize(nll=100 * 2 * math.log(2), tokens=100, n_bytes=50)
    assert r["loss"] == pytest.approx(2 * math.log(2))
    assert r["ppl"] == pytest.approx(4.0)
    assert r["bits_per_byte"] == pytest.approx(4.0)


def test_unigram_baseline_is_the_smoothed_train_frequencies_on_the_scored_test_tokens(tokenizer):
    from collections import Counter

    from retlab.evaluation.perplexity import unigram_loss

    train, test = DOCS[:2], DOCS[2:]
    eos = tokenizer.eos_token_id
    train_ids = [t for d in train for t in tokenizer(d, add_special_tokens=False)["input_ids"] + [eos]]
    test_ids = [t for d in test for t in tokenizer(d, add_special_tokens=False)["input_ids"] + [eos]]
    counts, total = Counter(train_ids), len(train_ids) + len(tokenizer)  # add-one: every id seen once more
    expected = -sum(math.log((counts[t] + 1) / total) for t in test_ids) / len(test_ids)
    assert unigram_loss(tokenizer, train, test) == pytest.approx(expected, rel=1e-9)
