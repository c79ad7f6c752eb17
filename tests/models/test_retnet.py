"""Native RetNet: the three retention forms compute one function (outputs and gradients), the recurrent state
continues a sequence exactly, generate/padding/loss follow Hugging Face, checkpoints round-trip and travel."""

import math
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, DynamicCache

from retlab.models.native import RetNetCache, RetNetConfig, RetNetForCausalLM, RetNetModel
from retlab.models.native.retention import (
    Decay,
    chunkwise_retention,
    log_gammas,
    parallel_retention,
    recurrent_retention,
    rotation_angles,
    rotation_cos_sin,
)

V = 61
FORMS = ("parallel", "chunkwise", "recurrent")
TOL = 1e-4  # the parity bar, float32


def tiny(**overrides) -> RetNetForCausalLM:
    """A 2-layer model with chunk_size 8. initializer_range 0.2 (not 0.02) so that retention moves the logits by
    O(1): a form that got the decay or the state hand-over wrong then misses the 1e-4 bar by orders of magnitude."""
    fields = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_heads=4, intermediate_size=48)
    fields.update(chunk_size=8, initializer_range=0.2, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    fields.update(overrides)
    torch.manual_seed(0)
    return RetNetForCausalLM(RetNetConfig(**fields)).eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: intra-op threads only add synchronisation (seconds per step on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> RetNetForCausalLM:
    return tiny()


def random_ids(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def logits_in(model, mode: str, ids, **kwargs) -> torch.Tensor:
    model.set_retention_mode(mode)
    with torch.no_grad():
        return model(ids, **kwargs).logits


# ---------------------------------------------------------------------------------------------------- structure


def test_parameter_names_follow_the_contract(model):
    names = {n: tuple(p.shape) for n, p in model.named_parameters()}
    d, dv, ffn = 32, 64, 48  # value_dim defaults to 2 * hidden
    expected = {"model.embed_tokens.weight": (V, d), "model.norm.weight": (d,), "lm_head.weight": (V, d)}
    for i in range(2):
        block = f"model.layers.{i}"
        expected |= {f"{block}.input_norm.weight": (d,), f"{block}.post_norm.weight": (d,)}
        expected |= {f"{block}.retention.{p}_proj.weight": (d, d) for p in "qk"}
        expected |= {f"{block}.retention.{p}_proj.weight": (dv, d) for p in "vg"}
        expected |= {f"{block}.retention.o_proj.weight": (d, dv)}
        expected |= {f"{block}.mlp.{p}_proj.weight": (ffn, d) for p in ("gate", "up")}
        expected |= {f"{block}.mlp.down_proj.weight": (d, ffn)}
    assert names == expected  # no biases, no group-norm parameters, no buffers to convert


def test_decay_and_rotation_are_the_specified_ones():
    h = torch.arange(4, dtype=torch.float64)
    torch.testing.assert_close(log_gammas(4, "torchscale").double().exp(), 1 - 2 ** (-5 - h))
    linspace = 1 - torch.exp(torch.linspace(math.log(1 / 32), math.log(1 / 512), 4, dtype=torch.float64))
    torch.testing.assert_close(log_gammas(4, "linspace").double().exp(), linspace)
    half = 1 / 10000 ** torch.linspace(0, 1, 4)
    torch.testing.assert_close(rotation_angles(8, 10000.0), torch.stack((half, half), -1).flatten())
    with pytest.raises(ValueError, match="decay"):
        log_gammas(4, "cosine")


def test_config_defaults_and_validation():
    config = RetNetConfig(hidden_size=32, num_heads=4, norm_eps=1e-5)
    assert (config.value_dim, config.groupnorm_eps, config.num_attention_heads) == (64, 1e-5, 4)
    with pytest.raises(ValueError) as err:
        RetNetConfig(hidden_size=30, num_heads=4, decay="cosine", retention_mode="fast", hidden_act="relu")
    for word in ("decay", "retention_mode", "hidden_act", "divisible"):
        assert word in str(err.value)  # every problem reported at once
    with pytest.raises(ValueError, match="retention_mode"):
        tiny().set_retention_mode("fast")


# ---------------------------------------------------------------------------------------------------- forms


def naive_retention(q, k, v, log_gamma, state):
    """o_n = sum_{m<=n} gamma^(n-m) (q_n . k_m) v_m + gamma^(n+1) q_n S_0, token by token in float64."""
    q, k, v, state = (t.double() for t in (q, k, v, state))
    gamma = log_gamma.double().exp()[:, None, None]  # (H, 1, 1)
    out = torch.zeros(*q.shape[:3], v.shape[-1], dtype=torch.float64)
    for n in range(q.shape[2]):
        total = gamma ** (n + 1) * state
        for m in range(n + 1):
            total = total + gamma ** (n - m) * k[:, :, m, :, None] * v[:, :, m, None, :]
        out[:, :, n] = (q[:, :, n, None, :] @ total)[:, :, 0]
    final = gamma ** q.shape[2] * state
    for m in range(q.shape[2]):
        final = final + gamma ** (q.shape[2] - 1 - m) * k[:, :, m, :, None] * v[:, :, m, None, :]
    return out, final


@pytest.mark.parametrize("length", [16, 13])  # chunk 4: divides, does not divide
def test_each_form_matches_the_definition_with_an_initial_state(length):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 3, length, 4, generator=g), torch.randn(2, 3, length, 4, generator=g)
    v, state = torch.randn(2, 3, length, 6, generator=g), torch.randn(2, 3, 4, 6, generator=g)
    log_gamma = log_gammas(3, "linspace")
    want_out, want_state = naive_retention(q, k, v, log_gamma, state)
    decay = Decay(log_gamma)
    for out, final in (
        parallel_retention(q, k, v, decay, state, output_final_state=True),
        chunkwise_retention(q, k, v, decay, 4, state, output_final_state=True),
        recurrent_retention(q, k, v, decay, state, output_final_state=True),
    ):
        torch.testing.assert_close(out.double(), want_out, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(final.double(), want_state, atol=1e-4, rtol=1e-5)


def outputs_and_grads(model, mode: str, ids):
    model.set_retention_mode(mode)
    model.zero_grad()
    out = model(ids, labels=ids)
    out.loss.backward()
    return out.logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("decay", ["torchscale", "linspace"])
@pytest.mark.parametrize("length", [24, 21])  # chunk_size 8: divides, does not divide
def test_forms_agree_on_logits_and_every_gradient(decay, length):
    model = tiny(decay=decay)
    ids = random_ids(2, length)
    logits, grads = outputs_and_grads(model, "parallel", ids)
    assert logits.std() > 0.5 and all(g.abs().max() > 1e-3 for g in grads.values())  # a meaningful comparison
    for mode in ("chunkwise", "recurrent"):
        other_logits, other_grads = outputs_and_grads(model, mode, ids)
        assert (other_logits - logits).abs().max() <= TOL, mode
        for name, grad in grads.items():
            assert (other_grads[name] - grad).abs().max() <= TOL, (mode, name)


def test_decay_kind_changes_the_function():
    ids = random_ids(1, 24)
    a = logits_in(tiny(decay="torchscale"), "parallel", ids)
    b = logits_in(tiny(decay="linspace"), "parallel", ids)
    assert (a - b).abs().max() > 1e-2


def test_is_causal(model):
    ids = random_ids(2, 20)
    changed = ids.clone()
    changed[:, 11:] = (changed[:, 11:] + 1) % V
    for mode in FORMS:
        a, b = logits_in(model, mode, ids), logits_in(model, mode, changed)
        torch.testing.assert_close(a[:, :11], b[:, :11])
        assert not torch.allclose(a[:, 11:], b[:, 11:])


# ---------------------------------------------------------------------------------------------------- cache


@pytest.mark.parametrize("mode", FORMS)
def test_prefill_then_one_token_steps_equals_full_forward(model, mode):
    ids = random_ids(2, 19)
    full = logits_in(model, "parallel", ids)
    model.set_retention_mode(mode)
    with torch.no_grad():
        out = model(ids[:, :11], use_cache=True)
        cache, steps = out.cache, [out.logits]
        assert isinstance(cache, RetNetCache) and cache.get_seq_length() == 11
        size = cache.nbytes()
        for t in range(11, 19):
            out = model(ids[:, t : t + 1], cache=cache, use_cache=True)
            steps.append(out.logits)
    assert (torch.cat(steps, dim=1) - full).abs().max() <= TOL
    assert cache.get_seq_length() == 19
    assert cache.nbytes() == size == 2 * 2 * 4 * 8 * 16 * 4  # L * B * H * d_k * d_v float32, not growing


@pytest.mark.parametrize("cache_arg", ["cache", "past_key_values"])
@pytest.mark.parametrize("mode", FORMS)
def test_split_sequence_through_cache_equals_one_call(model, mode, cache_arg):
    ids = random_ids(2, 29)
    full = logits_in(model, "parallel", ids)
    model.set_retention_mode(mode)
    with torch.no_grad():
        first = model(ids[:, :13], use_cache=True)  # 13 and 16: neither divides into chunks of 8 evenly
        second = model(ids[:, 13:], use_cache=True, **{cache_arg: first.cache})
    assert (torch.cat([first.logits, second.logits], dim=1) - full).abs().max() <= TOL


def test_cache_rejects_a_filled_foreign_cache_and_starts_from_an_empty_one(model):
    ids = random_ids(1, 6)
    out = model(ids, cache=DynamicCache(), use_cache=True)
    assert isinstance(out.cache, RetNetCache)
    foreign = DynamicCache()
    foreign.update(torch.zeros(1, 4, 3, 8), torch.zeros(1, 4, 3, 8), 0)
    with pytest.raises(TypeError, match="RetNetCache"):
        model(ids, cache=foreign)
    with pytest.raises(ValueError, match="not both"):
        model(ids, cache=out.cache, past_key_values=out.cache)


# ---------------------------------------------------------------------------------------------------- generate


def test_greedy_with_cache_equals_without(model):
    prompt = random_ids(2, 7)
    model.set_retention_mode("chunkwise")
    cached = model.generate(prompt, max_new_tokens=9, do_sample=False, use_cache=True)
    uncached = model.generate(prompt, max_new_tokens=9, do_sample=False, use_cache=False)
    assert cached.shape == (2, 7 + 9)
    assert torch.equal(cached, uncached)


def test_sampling_is_seeded(model):
    prompt = random_ids(2, 5)

    def sample(seed):
        torch.manual_seed(seed)
        return model.generate(prompt, max_new_tokens=12, do_sample=True, top_k=0, temperature=1.5)

    assert torch.equal(sample(3), sample(3))
    assert not torch.equal(sample(3), sample(4))


def test_left_padding_equals_the_unpadded_row(model):
    short, long = random_ids(1, 9, seed=2), random_ids(1, 14, seed=3)
    batch = torch.cat([torch.cat([torch.zeros(1, 5, dtype=torch.long), short], dim=1), long])
    mask = torch.ones_like(batch)
    mask[0, :5] = 0
    for mode in FORMS:
        padded = logits_in(model, mode, batch, attention_mask=mask)
        assert (padded[0, 5:] - logits_in(model, mode, short)[0]).abs().max() <= TOL, mode
        assert (padded[1] - logits_in(model, mode, long)[0]).abs().max() <= TOL, mode
    model.set_retention_mode("chunkwise")
    together = model.generate(batch, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=0)
    alone = model.generate(short, max_new_tokens=6, do_sample=False)
    assert torch.equal(together[0, 5:], alone[0])


# ---------------------------------------------------------------------------------------------------- save / load


def test_save_pretrained_round_trip_with_safetensors(model, tmp_path):
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    shipped = ("configuration_retnet.py", "configuration_native.py", "modeling_retnet.py", "layers.py")
    for name in (*shipped, "retention.py", "retention_fla.py"):
        assert (tmp_path / name).is_file(), name  # the code travels with the checkpoint
    loaded = RetNetForCausalLM.from_pretrained(tmp_path).eval()
    ids = random_ids(2, 10)
    torch.testing.assert_close(logits_in(loaded, "chunkwise", ids), logits_in(model, "chunkwise", ids))
    auto = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(auto, RetNetForCausalLM)


def test_auto_classes_know_the_model_type():
    config = AutoConfig.for_model("retlab-retnet", vocab_size=V, hidden_size=32, num_heads=4)
    assert isinstance(config, RetNetConfig)
    assert isinstance(AutoModel.from_config(config), RetNetModel)
    assert isinstance(AutoModelForCausalLM.from_config(config), RetNetForCausalLM)


LOAD_WITHOUT_RETLAB = textwrap.dedent(
    """
    import sys
    sys.modules["retlab"] = None  # any `import retlab...` now raises ImportError
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
    assert not type(model).__module__.startswith("retlab"), type(model).__module__
    ids = torch.load(sys.argv[2])
    with torch.no_grad():
        torch.save(model(ids).logits, sys.argv[3])
        out = model.generate(ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 3
    """
)


def test_trust_remote_code_loads_where_retlab_cannot_be_imported(model, tmp_path):
    model.set_retention_mode("chunkwise")
    model.save_pretrained(tmp_path / "ckpt")
    ids = random_ids(2, 10)
    torch.save(ids, tmp_path / "ids.pt")
    (tmp_path / "load.py").write_text(LOAD_WITHOUT_RETLAB)
    run = subprocess.run(
        [sys.executable, "load.py", "ckpt", "ids.pt", "logits.pt"],
        cwd=tmp_path,  # outside the repository
        capture_output=True,
        text=True,
        timeout=120,
        env={"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt"), logits_in(model, "chunkwise", ids))


# ---------------------------------------------------------------------------------------------------- precision


def test_decay_terms_and_angles_stay_float32_under_bf16_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        decay = Decay(log_gammas(4, "linspace"))
        mask = decay.mask(300, torch.bfloat16)
        cos, sin = rotation_cos_sin(rotation_angles(8, 10000.0), 5000, 4, torch.bfloat16)
    exact = torch.arange(300, dtype=torch.float64)
    exact = (exact[:, None] - exact[None]).clamp(min=0) * log_gammas(4, "linspace").double()[:, None, None]
    exact = exact.exp() * (torch.arange(300)[:, None] >= torch.arange(300)[None])
    assert torch.equal(mask, exact.to(torch.bfloat16))  # powers taken in float32, then rounded once
    theta = torch.arange(5000, 5004, dtype=torch.float64)[:, None] * rotation_angles(8, 10000.0).double()
    assert (cos.float() - theta.cos().float()).abs().max() < 1e-2  # bf16 positions would be off by up to 16
    assert (sin.float() - theta.sin().float()).abs().max() < 1e-2


@pytest.mark.parametrize("mode", FORMS)
def test_bf16_model_runs_close_to_float32(model, mode):
    ids = random_ids(2, 21)
    reference = logits_in(model, mode, ids)
    low = tiny().to(torch.bfloat16)
    logits = logits_in(low, mode, ids)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()
    # Loosely: where q_n . k_m nearly cancels, bf16 rounding decides the sign and the scale-free group norm
    # passes that on, so single positions may differ by O(1); on average the logits must agree.
    scale = reference.abs().mean()
    assert (logits.float() - reference).abs().mean() < 0.15 * scale
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = logits_in(model, mode, ids)
    assert (mixed.float() - reference).abs().mean() < 0.15 * scale


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fla kernels need CUDA")
def test_fla_chunkwise_matches_the_pytorch_reference():
    pytest.importorskip("fla")
    from retlab.models.native.retention_fla import fla_chunkwise_retention

    g = torch.Generator(device="cuda").manual_seed(0)
    q, k = (torch.randn(2, 4, 200, 16, device="cuda", generator=g) * 0.25 for _ in range(2))
    v, state = (
        torch.randn(2, 4, 200, 32, device="cuda", generator=g),
        torch.randn(2, 4, 16, 32, device="cuda"),
    )
    for kind in ("torchscale", "linspace"):
        decay = Decay(log_gammas(4, kind, "cuda"))
        want, want_state = chunkwise_retention(q, k, v, decay, 64, state, output_final_state=True)
        got, got_state = fla_chunkwise_retention(q, k, v, decay, state, output_final_state=True)
        torch.testing.assert_close(got.float(), want, atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(got_state.float(), want_state, atol=1e-3, rtol=1e-3)
