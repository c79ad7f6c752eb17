"""Export a model as a self-contained Hugging Face checkpoint that loads without retlab installed."""

import os
from pathlib import Path

from transformers import PreTrainedModel

from ..utils.files import atomic_dir


def export_hf(model: PreTrainedModel, out_dir: str | os.PathLike, tokenizer=None) -> Path:
    """Write safetensors weights, config, generation config, the modeling code and the tokenizer to `out_dir`.

    The folder appears whole or not at all (written beside it, then renamed). retlab's model classes are
    registered with `register_for_auto_class` when retlab is imported, so `save_pretrained` copies their source
    files and `AutoModelForCausalLM.from_pretrained(out_dir, trust_remote_code=True)` works anywhere transformers
    does; an `hf:` model is transformers' own class and loads with a plain `from_pretrained(out_dir)`."""
    own = type(model).__module__.startswith("transformers.")
    if not own and getattr(type(model), "_auto_class", None) is None:
        raise ValueError(
            f"{type(model).__name__} is not registered for an Auto class; its code would not travel"
        )
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    return Path(out_dir)
