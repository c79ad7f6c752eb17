"""TorchScale's `RetNetDecoder` and `Decoder` as Hugging Face causal LMs: the original study's exact models.

TorchScale is imported when a model is built, not when this file is imported, so that retlab (and the Auto
registration) works without it. Generation works without a cache only: every new token recomputes the prefix.
This file is copied next to exported checkpoints (trust_remote_code), so it imports only torch, transformers,
torchscale (lazily) and its sibling configuration file (relatively)."""

from types import SimpleNamespace

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_torchscale import TorchScaleRetNetConfig, TorchScaleTransformerConfig

INSTALL_HINT = 'the TorchScale backends need torchscale: pip install -e ".[torchscale]"'


def import_torchscale() -> SimpleNamespace:
    """The torchscale classes retlab uses; a clear ImportError when torchscale is missing."""
    try:
        from torchscale.architecture.config import DecoderConfig, RetNetConfig
        from torchscale.architecture.decoder import Decoder
        from torchscale.architecture.retnet import RetNetDecoder
        from torchscale.component.embedding import PositionalEmbedding
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return SimpleNamespace(
        RetNetConfig=RetNetConfig,
        RetNetDecoder=RetNetDecoder,
        DecoderConfig=DecoderConfig,
        Decoder=Decoder,
        PositionalEmbedding=PositionalEmbedding,
    )


# ---------------------------------------------------------------------------------------------------- args


def common_args(config) -> dict:
    """TorchScale config fields both decoders share. Tying is left to Hugging Face (so save/load sees it)."""
    return dict(
        vocab_size=config.vocab_size,
        decoder_embed_dim=config.hidden_size,
        decoder_ffn_embed_dim=config.intermediate_size,
        decoder_layers=config.num_hidden_layers,
        activation_fn=config.activation_fn,
        dropout=config.dropout,
        activation_dropout=config.activation_dropout,
        no_scale_embedding=not config.scale_embedding,
        layernorm_eps=config.norm_eps,
        max_target_positions=config.max_position_embeddings,
        share_decoder_input_output_embed=False,
    )


def retnet_args(config: TorchScaleRetNetConfig):
    """TorchScale's `RetNetConfig` for `config`."""
    return import_torchscale().RetNetConfig(
        **common_args(config),
        decoder_value_embed_dim=config.value_dim,
        decoder_retention_heads=config.num_heads,
        chunkwise_recurrent=config.retention_mode == "chunkwise",
        recurrent_chunk_size=config.chunk_size,
    )


def decoder_args(config: TorchScaleTransformerConfig):
    """TorchScale's `DecoderConfig` for `config`."""
    return import_torchscale().DecoderConfig(
        **common_args(config),
        decoder_attention_heads=config.num_heads,
        attention_dropout=config.attention_dropout,
        subln=config.subln,
    )


def token_embedding(config) -> nn.Embedding:
    """As in the original study: a plain `nn.Embedding` whose padding row is zero and gets no gradient."""
    return nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)


# ---------------------------------------------------------------------------------------------------- models


class TorchScalePreTrainedModel(PreTrainedModel):
    """A TorchScale decoder (embedding, blocks, final norm and output projection in one module).

    The decoder holds `embed_tokens` and `output_projection`; tying follows `config.tie_word_embeddings`."""

    base_model_prefix = "decoder"
    main_input_name = "input_ids"
    _tied_weights_keys = {"decoder.output_projection.weight": "decoder.embed_tokens.weight"}
    position_limit: int | None = None  # longest input the decoder can embed, if it has a limit

    def _init_weights(self, module):
        """TorchScale initialises its modules itself (the original study's init); keep it."""

    def get_input_embeddings(self):
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value):
        self.decoder.embed_tokens = value

    def get_output_embeddings(self):
        return self.decoder.output_projection

    def set_output_embeddings(self, value):
        self.decoder.output_projection = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        cache=None,
        use_cache: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """Logits (B, T, V) of `input_ids` (B, T); `labels` equal the inputs and are shifted inside.

        There is no cache: `cache`/`past_key_values` must be empty and `.past_key_values` is None."""
        if input_ids is None:
            raise ValueError("TorchScale backends need input_ids (inputs_embeds is not supported)")
        if cache is not None or kwargs.get("past_key_values") is not None:
            raise ValueError("TorchScale backends keep no cache; call them with use_cache=False")
        check_right_padding(attention_mask)
        if self.position_limit is not None and input_ids.shape[1] > self.position_limit:
            raise ValueError(
                f"sequence length {input_ids.shape[1]} exceeds max_position_embeddings ({self.position_limit})"
            )
        logits, _ = self.decoder(input_ids)  # (B, T, V)
        loss = None
        if labels is not None:  # transformers' causal-LM loss: shifted, float32, labels == -100 ignored
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size)
        result = CausalLMOutputWithPast(loss=loss, logits=logits)
        return result if return_dict is not False else result.to_tuple()

    def prepare_inputs_for_generation(self, input_ids, attention_mask=None, **kwargs):
        """Every step feeds the whole sequence again (no cache)."""
        return {"input_ids": input_ids, "attention_mask": attention_mask}


class TorchScaleRetNetForCausalLM(TorchScalePreTrainedModel, GenerationMixin):
    """TorchScale's `RetNetDecoder` (parallel or chunkwise form, as `config.retention_mode` says)."""

    config_class = TorchScaleRetNetConfig
    _no_split_modules = ["DecoderLayer"]

    def __init__(self, config: TorchScaleRetNetConfig):
        super().__init__(config)
        ts = import_torchscale()
        self.decoder = ts.RetNetDecoder(retnet_args(config), embed_tokens=token_embedding(config))
        self.post_init()


class TorchScaleTransformerForCausalLM(TorchScalePreTrainedModel, GenerationMixin):
    """TorchScale's `Decoder`; no positional encoding unless `config.positional == "learned"`."""

    config_class = TorchScaleTransformerConfig
    _no_split_modules = ["DecoderLayer"]

    def __init__(self, config: TorchScaleTransformerConfig):
        super().__init__(config)
        ts = import_torchscale()
        positions = None
        if config.positional == "learned":
            # fairseq convention: positions start at 2, so the table needs two extra rows.
            positions = ts.PositionalEmbedding(config.max_position_embeddings + 2, config.hidden_size)
            self.position_limit = config.max_position_embeddings
        self.decoder = ts.Decoder(
            decoder_args(config), embed_tokens=token_embedding(config), embed_positions=positions
        )
        self.post_init()


# ---------------------------------------------------------------------------------------------------- helpers


def check_right_padding(attention_mask: torch.Tensor | None) -> None:
    """TorchScale's decoders take no padding mask. Causality makes trailing padding harmless to the real
    tokens before it; padding anywhere else would leak into them, so it is refused."""
    if attention_mask is None:
        return
    real = attention_mask.bool()  # (B, T)
    if bool((real[:, 1:] & ~real[:, :-1]).any()):
        raise ValueError(
            "TorchScale backends support only right padding (attention_mask 1...1 0...0 per row)"
        )
