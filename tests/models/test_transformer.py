"""Transformer++: forward/generate contract, cache parity, padding, save/load, Auto classes."""

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, DynamicCache, StaticCache

from retlab.models.native import TransformerConfig, TransformerForCausalLM, TransformerModel

V = 61


def tiny(**overrides) -> TransformerForCausalLM:
    fields = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_heads=4, intermediate_size=48)
    fields.update(pad_token_id=0, bos_token_id=1, eos_token_id=2)
    fields.update(overrides)
    torch.manual_seed(0)
    return TransformerForCausalLM(TransformerConfig(**fields)).eval()


@pytest.fixture(scope="module")
def model() -> TransformerForCausalLM:
    return tiny()


@pytest.fixture(scope="module")
def ids() -> torch.Tensor:
    return torch.randint(3, V, (2, 13), generator=torch.Generator().manual_seed(1))


def test_parameter_names_follow_the_contract(model):
    names = {n for n, _ in model.named_parameters()}
    expected = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
    for i in range(2):
        block = f"model.layers.{i}"
        expected |= {f"{block}.input_norm.weight", f"{block}.post_norm.weight"}
        expected |= {f"{block}.attn.{p}_proj.weight" for p in "qkvo"}
        expected |= {f"{block}.mlp.{p}_proj.weight" for p in ("gate", "up", "down")}
    assert names == expected  # also: no biases anywhere


def test_is_causal(model, ids):
    changed = ids.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % V
    torch.testing.assert_close(model(ids).logits[:, :8], model(changed).logits[:, :8])
    assert not torch.allclose(model(ids).logits[:, 8:], model(changed).logits[:, 8:])


@pytest.mark.parametrize("cache_arg", ["cache", "past_key_values"])
def test_split_sequence_through_cache_equals_one_call(model, ids, cache_arg):
    full = model(ids).logits
    first = model(ids[:, :5], use_cache=True)
    assert isinstance(first.cache, DynamicCache) and first.cache.get_seq_length() == 5
    second = model(ids[:, 5:9], **{cache_arg: first.cache}, use_cache=True)  # several tokens from a cache
    third = model(ids[:, 9:10], cache=second.cache, use_cache=True)  # one token
    pieces = torch.cat([first.logits, second.logits, third.logits], dim=1)
    assert (pieces - full[:, :10]).abs().max() < 1e-5


def test_cache_and_past_key_values_together_is_an_error(model, ids):
    cache = model(ids[:, :3], use_cache=True).cache
    with pytest.raises(ValueError, match="not both"):
        model(ids[:, 3:4], cache=cache, past_key_values=cache)


def test_greedy_generate_with_cache_equals_without(model, ids):
    prompt = ids[:, :4]
    with_cache = model.generate(prompt, max_new_tokens=10, do_sample=False, use_cache=True)
    without = model.generate(prompt, max_new_tokens=10, do_sample=False, use_cache=False)
    assert with_cache.shape == (2, 14)
    assert torch.equal(with_cache, without)
    # the generated continuation is the argmax of a plain forward over the final sequence
    logits = model(with_cache).logits
    assert torch.equal(logits[:, 3:-1].argmax(-1), with_cache[:, 4:])


def test_static_cache_split_sequence_equals_one_call(model, ids):
    full = model(ids).logits
    cache = StaticCache(config=model.config, max_cache_len=20)
    first = model(ids[:, :5], cache=cache, use_cache=True)
    assert first.cache is cache and int(cache.get_seq_length()) == 5
    second = model(ids[:, 5:9], cache=cache, use_cache=True)  # several tokens from a cache
    third = model(ids[:, 9:10], cache=cache, use_cache=True)  # one token
    pieces = torch.cat([first.logits, second.logits, third.logits], dim=1)
    assert (pieces - full[:, :10]).abs().max() < 1e-5
    assert cache.layers[0].keys.shape == (2, 4, 20, 8)  # pre-allocated: written in place, never grown


def left_padded(ids: torch.Tensor, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Row i keeps its last `lengths[i]` tokens, left-padded with 0 to the longest; and its attention mask."""
    width = max(lengths)
    batch = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros_like(batch)
    for i, n in enumerate(lengths):
        batch[i, width - n :], mask[i, width - n :] = ids[i % len(ids), -n:], 1
    return batch, mask


@pytest.mark.parametrize("lengths", [[1, 1], [4, 4], [13, 13], [3, 11], [13, 2, 7]])
def test_static_cache_generates_the_dynamic_caches_greedy_tokens(model, ids, lengths):
    batch, mask = left_padded(ids, lengths)
    kwargs = dict(attention_mask=mask, max_new_tokens=12, do_sample=False, min_new_tokens=12)
    dynamic = model.generate(batch, cache_implementation="dynamic", **kwargs)
    static = model.generate(batch, cache_implementation="static", **kwargs)
    assert static.shape == (len(lengths), max(lengths) + 12)
    assert torch.equal(static, dynamic)
    for i, n in enumerate(lengths):  # and each row is what it would be alone, unpadded
        alone = model.generate(
            batch[i : i + 1, -n:], cache_implementation="static", **kwargs | {"attention_mask": None}
        )
        assert torch.equal(static[i, -(n + 12) :], alone[0])


def test_static_cache_decode_steps_match_the_dynamic_caches_logits(model, ids):
    static = StaticCache(config=model.config, max_cache_len=ids.shape[1] + 8)
    out_d, out_s = model(ids, use_cache=True), model(ids, cache=static, use_cache=True)
    dynamic, token = out_d.cache, out_d.logits[:, -1:].argmax(-1)
    for _ in range(8):
        out_d = model(token, cache=dynamic, use_cache=True)
        out_s = model(token, cache=static, use_cache=True)
        torch.testing.assert_close(out_s.logits, out_d.logits, rtol=0, atol=1e-6)
        token = out_d.logits[:, -1:].argmax(-1)
    assert int(static.get_seq_length()) == dynamic.get_seq_length() == ids.shape[1] + 8


def test_sampling_generate_runs_and_is_seeded(model, ids):
    def sample(seed):
        torch.manual_seed(seed)
        return model.generate(ids[:, :4], max_new_tokens=5, do_sample=True, top_k=10)

    out = sample(0)
    assert out.shape == (2, 9) and torch.equal(out[:, :4], ids[:, :4])
    assert torch.equal(sample(0), out)
    assert not torch.equal(sample(1), out)  # it samples: another seed gives other tokens


def test_left_padding_gives_the_unpadded_result(model, ids):
    short = ids[:1, :8]
    padded = torch.cat([torch.zeros(1, 5, dtype=torch.long), short], dim=1)
    batch = torch.cat([padded, ids[1:]], dim=0)
    mask = torch.ones_like(batch)
    mask[0, :5] = 0
    out = model(batch, attention_mask=mask).logits
    assert (out[0, 5:] - model(short).logits[0]).abs().max() < 1e-5
    assert (out[1] - model(ids[1:]).logits[0]).abs().max() < 1e-5
    assert torch.isfinite(out).all()
    gen = model.generate(batch, attention_mask=mask, max_new_tokens=6, do_sample=False)
    assert torch.equal(gen[0, 5:], model.generate(short, max_new_tokens=6, do_sample=False)[0])
    assert torch.equal(gen[1], model.generate(ids[1:], max_new_tokens=6, do_sample=False)[0])


def test_positional_none_is_permutation_equivariant_in_the_prefix():
    # Without positions, one attention layer sees its context as a set: swapping two earlier tokens cannot
    # change the last logits (with more layers the earlier positions' own causal contexts would differ).
    m = tiny(positional="none", num_hidden_layers=1)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    swapped = torch.tensor([[6, 5, 7, 8, 9]])
    torch.testing.assert_close(m(ids).logits[:, -1], m(swapped).logits[:, -1])
    rope = tiny(num_hidden_layers=1)
    assert not torch.allclose(rope(ids).logits[:, -1], rope(swapped).logits[:, -1])


def test_gradients_reach_every_parameter(ids):
    m = tiny().train()
    m(ids, labels=ids).loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_save_load_round_trip_and_auto_classes(model, ids, tmp_path):
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "retlab-transformer"
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is TransformerForCausalLM
    assert torch.equal(loaded(ids).logits, model(ids).logits)
    base = AutoModel.from_pretrained(tmp_path)
    assert type(base) is TransformerModel


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="positional"):
        TransformerConfig(positional="alibi")
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(hidden_size=30, num_heads=4)
