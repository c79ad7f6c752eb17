"""TorchScale backends: HF wrappers of the original study's models, and conversion into the native RetNet."""

import ast
import re
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("torchscale", reason="TorchScale backends need the torchscale extra")

from transformers import AutoModelForCausalLM  # noqa: E402

import retlab.models.torchscale  # noqa: E402
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


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and the CI machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_package_imports_torchscale_only_inside_functions():
    """Importing retlab (and registering these backends) must work without torchscale installed."""
    package = Path(retlab.models.torchscale.__file__).parent
    top_level = [
        f"{path.name}: {ast.unparse(node)}"
        for path in package.glob("*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any("torchscale" == name.split(".")[0] for name in imported_names(node))
    ]
    assert top_level == []


def imported_names(node) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if node.level == 0 else []
    return [alias.name for alias in node.names]


def test_building_without_torchscale_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "torchscale"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes `import` raise ImportError
    with pytest.raises(ImportError, match=re.escape('pip install -e ".[torchscale]"')):
        TorchScaleRetNetForCausalLM(TorchScaleRetNetConfig(**TINY))


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


# ---------------------------------------------------------------------------------------------------- conversion


def torchscale_decoder(seed: int = 0, **overrides):
    """A bare TorchScale `RetNetDecoder` with an embedding, as the original study built it, and its args."""
    from torchscale.architecture.config import RetNetConfig
    from torchscale.architecture.retnet import RetNetDecoder

    fields = dict(
        vocab_size=V,
        decoder_embed_dim=32,
        decoder_value_embed_dim=64,
        decoder_retention_heads=2,
        decoder_ffn_embed_dim=48,
        decoder_layers=2,
        recurrent_chunk_size=8,
        layernorm_eps=1e-12,
    )
    args = RetNetConfig(**{**fields, **overrides})
    torch.manual_seed(seed)
    return RetNetDecoder(args, embed_tokens=torch.nn.Embedding(V, 32)).eval(), args


@pytest.mark.parametrize("source_mode", ["parallel", "chunkwise"])
@pytest.mark.parametrize("native_mode", ["parallel", "chunkwise"])
def test_converted_native_retnet_matches_torchscale(source_mode, native_mode):
    """The native model computes TorchScale's RetNet up to the group norm's eps, hence the tiny eps here.

    TorchScale divides each row of retention scores by data-dependent positive scalars — |sum_j (q_i k_j) D_ij|
    clamped at 1, and the decay mask by the square root of its row sums (chunkwise: by per-chunk analogues) —
    which the native model does not. Each is one positive number per position and head, and the per-head RMS
    group norm without affine that follows maps x and c*x (c > 0) to the same output, except through its eps:
    rms(x) + eps versus rms(c*x) + eps. With eps ~ 0 the two models agree to float32 rounding; with TorchScale's
    default eps 1e-6 they differ by ~1e-2 in the logits, as TorchScale's own chunkwise and parallel forms do."""
    from retlab.models.torchscale import convert_torchscale_retnet

    decoder, args = torchscale_decoder(chunkwise_recurrent=source_mode == "chunkwise", activation_fn="swish")
    native = convert_torchscale_retnet(decoder, args, retention_mode=native_mode).eval()
    ids = random_ids(2, 21)  # not a multiple of the chunk size
    with torch.no_grad():
        expected, _ = decoder(ids)
        got = native(ids).logits
    assert (got - expected).abs().max() <= 1e-4


def test_conversion_maps_activation_embedding_scale_and_tying():
    from retlab.models.torchscale import convert_torchscale_retnet

    decoder, args = torchscale_decoder(no_scale_embedding=False, share_decoder_input_output_embed=True)
    native = convert_torchscale_retnet(decoder.state_dict(), args).eval()
    assert native.get_output_embeddings().weight is native.get_input_embeddings().weight
    ids = random_ids(1, 12)
    with torch.no_grad():
        assert (native(ids).logits - decoder(ids)[0]).abs().max() <= 1e-4


def test_conversion_from_the_hf_wrapper_and_refusals():
    from retlab.models.torchscale import convert_torchscale_retnet

    wrapper = tiny_model("retnet", norm_eps=1e-12, tie_word_embeddings=True).eval()
    native = convert_torchscale_retnet(wrapper).eval()
    ids = random_ids(1, 12)
    with torch.no_grad():
        assert (native(ids).logits - wrapper(ids).logits).abs().max() <= 1e-4
    decoder, args = torchscale_decoder(layernorm_embedding=True, xpos_rel_pos=True)
    with pytest.raises(ValueError, match="layernorm_embedding.*xpos_rel_pos"):
        convert_torchscale_retnet(decoder, args)
