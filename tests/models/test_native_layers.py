"""What both native models share (models/native/layers.py, configuration_native.py): the causal-LM head, its loss,
tied embeddings, the shared config fields and checks, and that these files travel with every export."""

import pytest
import torch

from retlab.models.native import RetNetConfig, RetNetForCausalLM, TransformerConfig, TransformerForCausalLM

V = 61
KINDS = {
    "retnet": (RetNetConfig, RetNetForCausalLM),
    "transformer": (TransformerConfig, TransformerForCausalLM),
}


def tiny(kind: str, **overrides):
    config_class, model_class = KINDS[kind]
    fields = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_heads=4, intermediate_size=48)
    torch.manual_seed(0)
    return model_class(config_class(**fields, pad_token_id=0, **overrides)).eval()


@pytest.mark.parametrize("kind", KINDS)
def test_loss_is_hf_shifted_and_ignores_minus_100(kind):
    model = tiny(kind)
    ids = torch.randint(3, V, (2, 12), generator=torch.Generator().manual_seed(1))
    out = model(ids, labels=ids)
    logits = out.logits
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    torch.testing.assert_close(out.loss, expected)
    masked = ids.clone()
    masked[:, 6:] = -100
    expected = torch.nn.functional.cross_entropy(logits[:, :5].reshape(-1, V), ids[:, 1:6].reshape(-1))
    torch.testing.assert_close(model(ids, labels=masked).loss, expected)
    assert model(ids, labels=ids.to(torch.long)).loss.dtype == torch.float32


@pytest.mark.parametrize("kind", KINDS)
def test_tied_embeddings_share_one_tensor(kind):
    tied, untied = tiny(kind, tie_word_embeddings=True), tiny(kind)
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight


@pytest.mark.parametrize("kind", KINDS)
def test_logits_to_keep_and_tuple_output(kind):
    model = tiny(kind)
    ids = torch.randint(3, V, (1, 9), generator=torch.Generator().manual_seed(2))
    full = model(ids).logits
    torch.testing.assert_close(model(ids, logits_to_keep=1).logits, full[:, -1:])
    assert torch.equal(model(ids, return_dict=False)[0], full)


@pytest.mark.parametrize("kind", KINDS)
def test_shared_fields_are_checked_all_at_once(kind):
    config_class, _ = KINDS[kind]
    with pytest.raises(
        ValueError, match=f"invalid {config_class.__name__}: .*hidden_size \\(30\\) must be divisible"
    ):
        config_class(hidden_size=30, num_heads=4)


@pytest.mark.parametrize("kind", KINDS)
def test_the_shared_files_travel_with_the_export(kind, tmp_path):
    tiny(kind).save_pretrained(tmp_path)
    assert {"layers.py", "configuration_native.py", f"configuration_{kind}.py", f"modeling_{kind}.py"} <= {
        p.name for p in tmp_path.iterdir()
    }
