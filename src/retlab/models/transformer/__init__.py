"""Transformer++ registered with the transformers Auto classes (model type `retlab-transformer`).

`register_for_auto_class` makes `save_pretrained` ship the configuration and modeling files, so checkpoints
load with `trust_remote_code=True` where retlab is not installed."""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .configuration_transformer import TransformerConfig
from .modeling_transformer import TransformerForCausalLM, TransformerModel, TransformerPreTrainedModel

AutoConfig.register(TransformerConfig.model_type, TransformerConfig, exist_ok=True)
AutoModel.register(TransformerConfig, TransformerModel, exist_ok=True)
AutoModelForCausalLM.register(TransformerConfig, TransformerForCausalLM, exist_ok=True)
TransformerConfig.register_for_auto_class()
TransformerModel.register_for_auto_class("AutoModel")
TransformerForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = ["TransformerConfig", "TransformerModel", "TransformerForCausalLM", "TransformerPreTrainedModel"]
