"""Native RetNet registered with the transformers Auto classes (model type `retlab-retnet`).

`register_for_auto_class` makes `save_pretrained` ship the configuration and modeling files (and the retention
files they import), so checkpoints load with `trust_remote_code=True` where retlab is not installed."""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .configuration_retnet import RetNetConfig
from .modeling_retnet import RetNetCache, RetNetForCausalLM, RetNetModel, RetNetPreTrainedModel

AutoConfig.register(RetNetConfig.model_type, RetNetConfig, exist_ok=True)
AutoModel.register(RetNetConfig, RetNetModel, exist_ok=True)
AutoModelForCausalLM.register(RetNetConfig, RetNetForCausalLM, exist_ok=True)
RetNetConfig.register_for_auto_class()
RetNetModel.register_for_auto_class("AutoModel")
RetNetForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = ["RetNetCache", "RetNetConfig", "RetNetForCausalLM", "RetNetModel", "RetNetPreTrainedModel"]
