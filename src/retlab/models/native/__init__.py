"""The native models, RetNet (`retlab-retnet`) and Transformer++ (`retlab-transformer`), registered with the
transformers Auto classes.

Both live in this one folder so that they share `layers.py` (RMSNorm, the gated MLP, the causal-LM head):
`register_for_auto_class` makes `save_pretrained` ship a model's configuration and modeling files together with
every sibling file they import relatively (layers.py; retention.py for RetNet), so checkpoints load with
`trust_remote_code=True` where retlab is not installed."""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .configuration_retnet import RetNetConfig
from .configuration_transformer import TransformerConfig
from .modeling_retnet import RetNetCache, RetNetForCausalLM, RetNetModel, RetNetPreTrainedModel
from .modeling_transformer import TransformerForCausalLM, TransformerModel, TransformerPreTrainedModel

for _config, _model, _causal_lm in (
    (RetNetConfig, RetNetModel, RetNetForCausalLM),
    (TransformerConfig, TransformerModel, TransformerForCausalLM),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModel.register(_config, _model, exist_ok=True)
    AutoModelForCausalLM.register(_config, _causal_lm, exist_ok=True)
    _config.register_for_auto_class()
    _model.register_for_auto_class("AutoModel")
    _causal_lm.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "RetNetCache",
    "RetNetConfig",
    "RetNetForCausalLM",
    "RetNetModel",
    "RetNetPreTrainedModel",
    "TransformerConfig",
    "TransformerForCausalLM",
    "TransformerModel",
    "TransformerPreTrainedModel",
]
