"""Convert a TorchScale `RetNetDecoder` (with its embedding and output projection) into retlab's native
`RetNetForCausalLM`.

The two compute the same network except for TorchScale's data-dependent normalisations of the retention scores
(see `tests/models/test_torchscale.py`), which the per-head RMS group norm cancels up to its eps."""

import copy
import math

import torch
from torch import nn

# TorchScale GLU: fc2(act(fc1(x)) * gate(x)); native MLP: down(act(gate(x)) * up(x)).
LAYER_KEYS = {
    "retention_layer_norm.weight": "input_norm.weight",
    "retention.q_proj.weight": "retention.q_proj.weight",
    "retention.k_proj.weight": "retention.k_proj.weight",
    "retention.v_proj.weight": "retention.v_proj.weight",
    "retention.g_proj.weight": "retention.g_proj.weight",
    "retention.out_proj.weight": "retention.o_proj.weight",
    "final_layer_norm.weight": "post_norm.weight",
    "ffn.fc1.weight": "mlp.gate_proj.weight",
    "ffn.gate.weight": "mlp.up_proj.weight",
    "ffn.fc2.weight": "mlp.down_proj.weight",
}
TOP_KEYS = {
    "embed_tokens.weight": "model.embed_tokens.weight",
    "layer_norm.weight": "model.norm.weight",
    "output_projection.weight": "lm_head.weight",
}
BUFFERS = ("retnet_rel_pos.angle", "retnet_rel_pos.decay")  # recomputed by the native model
ACTIVATIONS = {"gelu": "gelu", "swish": "silu"}
# TorchScale options with no native counterpart; converting would silently change the network.
UNSUPPORTED = {
    "layernorm_embedding": False,
    "deepnorm": False,
    "moe_freq": 0,
    "multiway": False,
    "xpos_rel_pos": False,
    "drop_path_rate": 0.0,
    "no_output_layer": False,
    "decoder_normalize_before": True,
}


def convert_torchscale_retnet(
    source: nn.Module | dict[str, torch.Tensor],
    torchscale_args=None,
    embed_weight: torch.Tensor | None = None,
    output_weight: torch.Tensor | None = None,
    **config_overrides,
):
    """A native `RetNetForCausalLM` computing what the TorchScale RetNet `source` computes.

    `source`: a `RetNetDecoder`, a `TorchScaleRetNetForCausalLM`, or the state dict of either.
    `torchscale_args`: the TorchScale `RetNetConfig` it was built with (default: the module's own).
    `embed_weight` / `output_weight` supply the embedding and output projection of a decoder built without them.
    `config_overrides` go to the native `RetNetConfig` (e.g. `retention_mode="chunkwise"`)."""
    from ..native import RetNetForCausalLM

    state, args = state_and_args(source, torchscale_args)
    if embed_weight is not None:
        state["embed_tokens.weight"] = embed_weight
    if output_weight is not None:
        state["output_projection.weight"] = output_weight
    model = RetNetForCausalLM(native_config_from_torchscale(args, **config_overrides))
    model.load_state_dict(native_state_dict(state, args), strict=True)
    return model


def state_and_args(source, torchscale_args) -> tuple[dict[str, torch.Tensor], object]:
    """The decoder's state dict (keys relative to the `RetNetDecoder`) and its TorchScale args."""
    if not isinstance(source, nn.Module):
        if torchscale_args is None:
            raise ValueError("converting a state dict needs the TorchScale args it was built with")
        return {k.removeprefix("decoder."): v for k, v in source.items()}, torchscale_args
    decoder = getattr(source, "decoder", source)  # the HF wrapper holds the RetNetDecoder as `.decoder`
    args = torchscale_args
    if args is None:
        args = copy.copy(decoder.args)
        if decoder is not source:  # the wrapper ties through Hugging Face, not through TorchScale
            args.share_decoder_input_output_embed = source.config.tie_word_embeddings
    return dict(decoder.state_dict()), args


def native_config_from_torchscale(args, **overrides):
    """The native `RetNetConfig` equal to TorchScale's `RetNetConfig` `args` (decay and rotation are TorchScale's)."""
    from ..native import RetNetConfig

    check_supported(args)
    d = args.decoder_embed_dim
    fields = dict(
        vocab_size=args.vocab_size,
        hidden_size=d,
        num_hidden_layers=args.decoder_layers,
        num_heads=args.decoder_retention_heads,
        intermediate_size=args.decoder_ffn_embed_dim,
        value_dim=args.decoder_value_embed_dim,
        max_position_embeddings=args.max_target_positions,
        hidden_act=ACTIVATIONS[args.activation_fn],
        embed_scale=1.0 if args.no_scale_embedding else math.sqrt(d),
        norm_eps=args.layernorm_eps,
        groupnorm_eps=args.layernorm_eps,
        decay="torchscale",
        rope_base=10000.0,
        dropout=args.dropout,
        tie_word_embeddings=args.share_decoder_input_output_embed,
        chunk_size=args.recurrent_chunk_size,
        retention_mode="chunkwise" if args.chunkwise_recurrent else "parallel",
    )
    fields.update(overrides)
    return RetNetConfig(**fields)


def check_supported(args) -> None:
    """Refuse TorchScale options the native model does not have, naming all of them at once."""
    problems = [
        f"{name}={getattr(args, name)!r} (need {want!r})"
        for name, want in UNSUPPORTED.items()
        if getattr(args, name, want) != want
    ]
    if args.activation_fn not in ACTIVATIONS:
        problems.append(f"activation_fn={args.activation_fn!r} (need one of {sorted(ACTIVATIONS)})")
    if args.vocab_size <= 0:
        problems.append(f"vocab_size={args.vocab_size} (need the real vocabulary size)")
    if problems:
        raise ValueError("cannot convert this TorchScale RetNet: " + "; ".join(problems))


def native_state_dict(state: dict[str, torch.Tensor], args) -> dict[str, torch.Tensor]:
    """TorchScale decoder keys renamed to native ones; an unknown or missing key is an error."""
    out = {}
    for key, value in state.items():
        if key in BUFFERS:
            continue
        out[native_key(key)] = value
    if args.share_decoder_input_output_embed and "model.embed_tokens.weight" in out:
        out["lm_head.weight"] = out["model.embed_tokens.weight"]  # tied in both models
    missing = [k for k in TOP_KEYS.values() if k not in out]
    if missing:
        raise ValueError(f"TorchScale state dict lacks {missing}: pass embed_weight= / output_weight=")
    return out


def native_key(key: str) -> str:
    if key in TOP_KEYS:
        return TOP_KEYS[key]
    parts = key.split(".", 2)  # layers, i, rest
    if len(parts) == 3 and parts[0] == "layers" and parts[2] in LAYER_KEYS:
        return f"model.layers.{parts[1]}.{LAYER_KEYS[parts[2]]}"
    raise ValueError(f"unexpected TorchScale RetNet parameter {key!r}")
