"""TorchScale backends: HF wrappers of the original study's models, and conversion into the native RetNet."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("torchscale", reason="TorchScale backends need the torchscale extra")

from transformers import AutoModelForCausalLM  # noqa: E402

from retlab.models.torchscale import (  # noqa: E402
    TorchScaleRetNetConfig,
    TorchScaleRetNetForCausalLM,
    TorchScaleTransformerConfig,
    TorchScaleTransformerForCausalLM,
)

V = 64
TINY = dict(
    vocab_size=V, hidden_size=32, num_hidden_layers=2, num_heads=2, intermediate_size=48, pad_token_id=0
)


def tiny_model(kind: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    if kind == "retnet":
        return TorchScaleRetNetForCausalLM(TorchScaleRetNetConfig(**{**TINY, **overrides}))
    return TorchScaleTransformerForCausalLM(TorchScaleTransformerConfig(**{**TINY, **overrides}))


def random_ids(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(1, V, (batch, length), generator=torch.Generator().manual_seed(seed))


KINDS = ["retnet", "transformer"]


def test_import_registers_without_torchscale_and_building_names_the_extra():
    """retlab.models.torchscale imports (and registers) without torchscale; building a model says what to install."""
    code = (
        "import sys; sys.modules['torchscale'] = None\n"
        "from transformers import AutoConfig\n"
        "import retlab.models.torchscale as ts\n"
        "assert type(AutoConfig.for_model('retlab-torchscale-retnet')).__name__ == 'TorchScaleRetNetConfig'\n"
        "try:\n"
        "    ts.TorchScaleRetNetForCausalLM(ts.TorchScaleRetNetConfig(vocab_size=8, hidden_size=8, num_heads=2))\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'pip install -e ".[torchscale]"' in done.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_forward_backward_reaches_every_parameter(kind):
    model = tiny_model(kind)
    ids = random_ids(2, 12)
    out = model(ids, labels=ids)
    assert out.logits.shape == (2, 12, V) and torch.isfinite(out.loss)
    out.loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []
    assert (
        model.get_input_embeddings().weight.grad[0].abs().sum() == 0
    )  # padding row, as in the original study


@pytest.mark.parametrize("kind", KINDS)
def test_loss_is_hf_shifted_and_ignores_minus_100(kind):
    model = tiny_model(kind).eval()
    ids = random_ids(2, 10)
    labels = ids.clone()
    labels[0, 3:6] = -100
    labels[1, -1] = -100
    with torch.no_grad():
        out = model(ids, labels=labels)
    keep = labels[:, 1:] != -100
    expected = F.cross_entropy(out.logits[:, :-1][keep], labels[:, 1:][keep])
    torch.testing.assert_close(out.loss, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_through_auto_class(kind, tmp_path):
    model = tiny_model(kind, tie_word_embeddings=True).eval()
    ids = random_ids(1, 9)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    assert loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_right_padding_is_harmless_and_left_padding_refused(kind):
    model = tiny_model(kind).eval()
    ids = random_ids(1, 8)
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 8), torch.zeros(1, 3)], dim=1).long()
    with torch.no_grad():
        torch.testing.assert_close(model(padded, attention_mask=mask).logits[:, :8], model(ids).logits)
        with pytest.raises(ValueError, match="right padding"):
            model(padded.flip(1), attention_mask=mask.flip(1))


@pytest.mark.parametrize("kind", KINDS)
def test_generate_without_cache_is_greedy_argmax(kind):
    model = tiny_model(kind).eval()
    ids = random_ids(1, 5)
    generated = model.generate(ids, max_new_tokens=4, do_sample=False)
    expected = ids
    with torch.no_grad():
        for _ in range(4):
            expected = torch.cat([expected, model(expected).logits[:, -1:].argmax(-1)], dim=1)
    assert torch.equal(generated, expected)


def test_config_refuses_what_torchscale_lacks():
    with pytest.raises(ValueError, match="retention_mode"):
        TorchScaleRetNetConfig(**TINY, retention_mode="recurrent")
    with pytest.raises(ValueError, match="decay"):
        TorchScaleRetNetConfig(**TINY, decay="linspace")
    with pytest.raises(ValueError, match="positional"):
        TorchScaleTransformerConfig(**TINY, positional="rope")


def test_transformer_is_position_free_by_default_and_learned_positions_are_bounded():
    """The original study's Transformer has no positional encoding: with one repeated token every position sees
    the same set of keys and values, so all positions produce the same logits. Learned positions break that."""
    same = torch.full((1, 6), 5)
    with torch.no_grad():
        logits = tiny_model("transformer").eval()(same).logits
        torch.testing.assert_close(logits, logits[:, :1].expand_as(logits))
        learned = tiny_model("transformer", positional="learned", max_position_embeddings=8).eval()
        assert not torch.allclose(learned(same).logits[:, 0], learned(same).logits[:, -1])
        with pytest.raises(ValueError, match="max_position_embeddings"):
            learned(random_ids(1, 9))
