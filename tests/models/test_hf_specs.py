"""`hf:<model_type>` architectures: any causal LM that transformers ships, described by a spec made on demand.

The `model` section maps onto each type's own config names, `model.hf_overrides` adds the rest (checked against
the type's fields), parameter matching sizes the type's width field on meta-device counts, and unknown types
or fields are one-line errors naming the closest ones."""

import pytest
import torch

from retlab import cli
from retlab.config.loader import load_config
from retlab.config.model import ModelConfig
from retlab.errors import ConfigError
from retlab.models import DataShape, build_config, build_model, contender_configs, count_parameters, sizing
from retlab.models.native import RetNetConfig, TransformerConfig
from retlab.models.specs import arch_problem, spec_for, spec_of

DATA = DataShape(vocab_size=67, max_position_embeddings=48, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def small(**fields) -> ModelConfig:
    return ModelConfig(**{"hidden_size": 64, "num_hidden_layers": 2, "num_heads": 4, **fields})


def real_count(config) -> int:
    return sum(p.numel() for p in build_model(config, seed=0).parameters())


# ---------------------------------------------------------------------------------------------------- names


def test_transformers_causal_lm_types_are_architectures():
    for name in ("hf:llama", "hf:mamba", "hf:mamba2", "hf:gpt_neox", "hf:rwkv", "hf:gpt2"):
        assert arch_problem(name) is None, name
        assert spec_of(name).model_type == name.removeprefix("hf:")
    assert spec_of("hf:mamba").is_hf and not spec_of("retnet").is_hf


@pytest.mark.parametrize(
    "name, closest",
    [("hf:mambaa", "hf:mamba"), ("hf:lama", "hf:llama"), ("mamba", "hf:mamba"), ("hf:t5", None)],
)
def test_unknown_types_name_the_closest(name, closest):
    problem, fix = arch_problem(name)
    assert name.removeprefix("hf:") in problem
    if closest:
        assert f"did you mean {closest}" in fix
    assert "hf:<model_type>" in fix


def test_unknown_type_on_the_command_line_is_one_line_exit_2(capsys):
    try:
        code = cli.main(["train", "--model.arch", "hf:mambaa", "--compare", "[hf:mambaa]"])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("retlab: error: ") and err.count("\n") == 1
    assert "'mambaa'" in err and "hf:mamba" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------------- mapping


def test_common_fields_reach_each_types_own_names():
    model = small(norm_eps=1e-5, dropout=0.1, intermediate_size=96, tie_word_embeddings=True)
    llama = build_config(model, "hf:llama", DATA)
    assert (llama.hidden_size, llama.num_hidden_layers, llama.num_attention_heads) == (64, 2, 4)
    assert (llama.num_key_value_heads, llama.head_dim, llama.intermediate_size) == (4, 16, 96)
    assert (llama.rms_norm_eps, llama.attention_dropout, llama.max_position_embeddings) == (1e-5, 0.1, 48)
    assert (llama.vocab_size, llama.pad_token_id, llama.bos_token_id, llama.eos_token_id) == (67, 0, 1, 2)
    assert llama.tie_word_embeddings is True

    gpt2 = build_config(model, "hf:gpt2", DATA).to_dict()  # stored under GPT-2's own names
    assert (gpt2["n_embd"], gpt2["n_layer"], gpt2["n_head"], gpt2["n_inner"], gpt2["n_positions"]) == (
        64,
        2,
        4,
        96,
        48,
    )
    assert gpt2["resid_pdrop"] == gpt2["embd_pdrop"] == gpt2["attn_pdrop"] == 0.1
    assert gpt2["layer_norm_epsilon"] == 1e-5

    mamba = build_config(small(), "hf:mamba", DATA)  # no heads; the default width is its own 2 x hidden
    assert (mamba.hidden_size, mamba.intermediate_size, mamba.layer_norm_epsilon) == (64, 128, 1e-6)
    assert spec_of("hf:mamba").read(mamba, "num_heads") is None


def test_spec_reads_the_model_fields_back_from_a_config_and_its_json():
    config = build_config(small(intermediate_size=96), "hf:gpt2", DATA)
    spec = spec_for(config)
    for source in (config, config.to_dict()):
        assert [spec.read(source, k) for k in ("hidden_size", "num_heads", "intermediate_size")] == [
            64,
            4,
            96,
        ]
    assert spec_for(config.to_dict()) is spec


def test_overrides_win_and_derived_fields_follow_them():
    model = small(hf_overrides={"mamba2": {"expand": 4, "state_size": 8}})
    mamba2 = build_config(model, "hf:mamba2", DATA)
    assert (mamba2.expand, mamba2.state_size, mamba2.num_heads) == (4, 8, 4)
    assert mamba2.head_dim == 4 * 64 // 4  # Mamba-2's inner width split into num_heads heads
    llama = build_config(small(hf_overrides={"llama": {"num_key_value_heads": 2}}), "hf:llama", DATA)
    assert llama.num_key_value_heads == 2


# ---------------------------------------------------------------------------------------------------- overrides


def load(**overrides):
    return load_config(None, {"compare": ["retnet", "hf:mamba"], **overrides})


def test_an_unknown_override_names_the_closest_fields():
    with pytest.raises(ConfigError) as err:
        load(**{"model.hf_overrides": {"mamba": {"stat_size": 8}}})
    assert err.value.field == "model.hf_overrides.mamba.stat_size"
    assert "state_size" in err.value.fix and "\n" not in str(err.value)


def test_overrides_must_be_keyed_by_model_type():
    with pytest.raises(ConfigError) as err:
        load(**{"model.hf_overrides": {"state_size": 8}})
    assert err.value.field == "model.hf_overrides.state_size"
    assert "key it by model type" in err.value.fix


def test_a_width_field_must_be_a_field_of_its_type():
    with pytest.raises(ConfigError) as err:
        load(**{"model.hf_width_field": {"mamba": "expnad"}})
    assert err.value.field == "model.hf_width_field.mamba" and "expand" in err.value.fix
    assert load(**{"model.hf_width_field": {"mamba": "state_size"}}).model.hf_width_field == {
        "mamba": "state_size"
    }


@pytest.mark.parametrize(
    "name, problem",
    [
        ("n_head", "set from num_heads"),
        ("vocab_size", "set from vocab_size"),
        ("layer_norm_epsilon", "norm_eps"),
    ],
)
def test_a_width_field_is_one_that_only_matching_sets(name, problem):
    # Matching must not change what the model section or the data set, nor size a float.
    with pytest.raises(ConfigError) as err:
        load(**{"compare": ["retnet", "hf:gpt2"], "model.hf_width_field": {"gpt2": name}})
    assert err.value.field == "model.hf_width_field.gpt2" and problem in err.value.problem
    with pytest.raises(ConfigError, match="not a whole-number width"):
        load(**{"model.hf_width_field": {"mamba": "time_step_scale"}})


def test_a_sweep_point_whose_hf_model_cannot_be_built_fails_before_the_sweep_writes(tmp_path):
    from retlab.sweep.run import preflight

    cfg = load_config(
        None,
        {
            "output_dir": str(tmp_path),
            "model.hidden_size": 32,
            "model.num_heads": 2,
            "data.mqar.train_examples": 64,
            "sweep.compare": ["retnet", "hf:mamba"],
            "sweep.grid": {
                "model.hf_overrides": [{"mamba": {"state_size": 4}}, {"mamba": {"state_size": -4}}]
            },
        },
    )
    with pytest.raises(ConfigError) as err:
        preflight(cfg)
    assert "sweep.grid (point" in err.value.field and "model.hf_overrides.mamba" in err.value.problem
    assert not any(tmp_path.iterdir())


def test_a_bad_override_value_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as err:
        build_config(small(hf_overrides={"mamba2": {"num_heads": 3}}), "hf:mamba2", DATA)
    assert err.value.field == "model (hf:mamba2)" and "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    "compare", [["retnet", "hf:llama", "hf:mamba", "hf:gpt2"], ["hf:mamba", "transformer"]]
)
def test_hf_contenders_are_matched_within_one_percent_on_real_counts(compare):
    configs = contender_configs(small(), compare, DATA)
    reference = count_parameters(configs[compare[0]])
    for arch, config in configs.items():
        assert abs(count_parameters(config) - reference) <= 0.01 * reference, arch
        if spec_of(arch).is_hf:
            assert count_parameters(config) == real_count(config), arch  # meta count == the model built


def test_a_user_width_field_is_the_one_sized():
    model = small(hf_width_field={"mamba": "state_size"})
    default = build_config(model, "hf:mamba", DATA)
    matched = contender_configs(model, ["retnet", "hf:mamba"], DATA)["hf:mamba"]
    assert matched.intermediate_size == default.intermediate_size
    assert matched.state_size != default.state_size
    reference = count_parameters(build_config(model, "retnet", DATA))
    assert abs(count_parameters(matched) - reference) <= 0.01 * reference


def test_an_impossible_match_is_a_clear_config_error():
    # A small Mamba as the reference: the Transformer++ has more than it already with intermediate_size=1.
    model = small(hidden_size=256, num_hidden_layers=6, intermediate_size=16)
    with pytest.raises(ConfigError) as err:
        contender_configs(
            model, ["hf:mamba", "transformer"], DataShape(vocab_size=16, max_position_embeddings=8)
        )
    assert err.value.field == "model.match_parameters" and "cannot match" in err.value.problem


def test_a_type_without_a_feed_forward_width_asks_for_one():
    with pytest.raises(ConfigError) as err:
        contender_configs(small(), ["retnet", "hf:xlstm"], DATA)
    assert err.value.field == "model.hf_width_field" and "xlstm" in err.value.fix


def test_counts_not_affine_in_the_width_are_matched_by_bisection(monkeypatch):
    calls = []
    bisect = sizing.bisect_width
    monkeypatch.setattr(sizing, "bisect_width", lambda *a: calls.append(a) or bisect(*a))
    reference = TransformerConfig(vocab_size=101, hidden_size=96, num_hidden_layers=2, num_heads=2)
    target = RetNetConfig(
        vocab_size=101, hidden_size=32, num_hidden_layers=2, num_heads=1, intermediate_size=64
    )
    matched = sizing.match_parameters(reference, target, "hidden_size")  # value_dim = 2 x hidden: quadratic
    assert calls, "the affine solution should have missed"
    assert abs(count_parameters(matched) - count_parameters(reference)) <= 0.01 * count_parameters(reference)
    assert count_parameters(matched) == sum(p.numel() for p in build_model(matched).parameters())


def test_a_decoding_cache_is_known_for_each_kind_of_type():
    assert (spec_of("hf:llama").cache, spec_of("hf:llama").mixer) == ("kv", "attention")
    assert (spec_of("hf:mamba").cache, spec_of("hf:mamba").mixer) == ("recurrent", "other")
    assert (spec_of("hf:rwkv").cache, spec_of("hf:rwkv").cache_argument) == ("recurrent", "state")
    assert spec_of("hf:minimax").cache == "none"  # its own cache format: no step-by-step DynamicCache


@pytest.mark.parametrize(
    "arch, batch", [("hf:llama", 2), ("hf:mamba", 2), ("hf:gpt_neox", 2), ("hf:rwkv", 1)]
)
def test_decoding_through_the_cache_equals_the_full_forward(arch, batch):
    # RWKV at batch 1: transformers 5.25's single-token RWKV step mixes the sequences of a batch.
    from retlab.models.decoding import Decoder

    config = contender_configs(small(), [arch], DATA)[arch]
    model = build_model(config, seed=0).eval()
    ids = torch.randint(3, 67, (batch, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(ids).logits  # (B, T, V)
        decoder = Decoder(model)
        stepped = [decoder.prefill(ids[:, :5])] + [decoder.step(ids[:, t : t + 1]) for t in range(5, 12)]
    torch.testing.assert_close(torch.stack(stepped, 1), full[:, 4:], atol=1e-4, rtol=1e-4)
    assert decoder.cache is not None


def test_mambas_parallel_scan_matches_its_sequential_loop_with_gradients(monkeypatch):
    # `use_mambapy` (the three-way quickstart's setting) swaps transformers' per-token loop for mambapy's scan.
    scan_module = pytest.importorskip("mambapy.pscan")
    scans = []
    pscan = scan_module.pscan
    monkeypatch.setattr(scan_module, "pscan", lambda *a: scans.append(1) or pscan(*a))
    ids = torch.randint(3, 67, (2, 24), generator=torch.Generator().manual_seed(0))
    outputs = []
    for parallel in (False, True):
        model_cfg = small(hf_overrides={"mamba": {"use_mambapy": parallel}})
        model = build_model(build_config(model_cfg, "hf:mamba", DATA), seed=0)
        logits = model(ids).logits
        logits.square().mean().backward()
        outputs.append((logits.detach(), [p.grad for p in model.parameters()]))
        assert bool(scans) == parallel
    (loop, loop_grads), (scan, scan_grads) = outputs
    torch.testing.assert_close(scan, loop, atol=1e-5, rtol=1e-4)
    for a, b in zip(scan_grads, loop_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("width_field", [{}, {"mamba": "state_size"}])
def test_a_sweep_trial_pins_the_matched_width_for_training_alone(width_field):
    # A sweep trial trains one architecture (`compare: [arch]`): the matched width must travel in its config.
    sizes = {"model.hidden_size": 64, "model.num_hidden_layers": 2, "model.num_heads": 4}
    base = load_config(
        None, {"compare": ["retnet", "hf:mamba"], "model.hf_width_field": width_field, **sizes}
    )
    matched = contender_configs(base.model, base.compare, DATA)["hf:mamba"]
    pinned = spec_of("hf:mamba").width_overrides(base.model, matched)
    trial = load_config(base=base, overrides={"compare": ["hf:mamba"], **pinned})
    alone = contender_configs(trial.model, trial.compare, DATA)["hf:mamba"]
    assert count_parameters(alone) == count_parameters(matched)
    assert (alone.intermediate_size, alone.state_size) == (matched.intermediate_size, matched.state_size)
