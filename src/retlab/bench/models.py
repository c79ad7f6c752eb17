"""The models a benchmark compares: trained exports of the run when present, else parameter-matched random inits
(speed and memory depend on the shapes, not on the weights' values)."""

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.files import read_json

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class BenchModel:
    arch: str
    config: object  # a retlab PreTrainedConfig
    source: str  # "trained: <path>" or "random init"
    path: str | None = None  # the trained export, loaded with its weights


def bench_device(cfg) -> torch.device:
    device = cfg.bench.device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ConfigError("bench.device", f"unknown device {device!r}", "use auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("bench.device", "cuda requested but no GPU is visible", "use --bench.device cpu")
    return torch.device(device)


def bench_dtype(cfg) -> torch.dtype:
    if cfg.bench.dtype not in DTYPES:
        raise ConfigError("bench.dtype", f"unknown dtype {cfg.bench.dtype!r}", "use float32 or bfloat16")
    return DTYPES[cfg.bench.dtype]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads > 1 else ''})"


def bench_archs(cfg) -> list[str]:
    return list(cfg.bench.archs or cfg.compare)


def bench_configs(cfg, archs: list[str], max_len: int) -> list[BenchModel]:
    """One config per arch: the trained export's when `bench.use_trained` and it exists, else built from the
    `model` section with intermediate_size matched to the parameter count of `compare`'s first arch (the
    reference `retlab run` matches to), whether or not that arch is benchmarked itself."""
    from ..models.sizing import match_parameters

    reference = None
    if cfg.model.match_parameters and cfg.model.intermediate_size is None:
        reference = trained_or_built(cfg, (cfg.compare or archs)[0], max_len).config
    out: list[BenchModel] = []
    for arch in archs:
        model = trained_or_built(cfg, arch, max_len)
        if model.path is None and reference is not None:
            try:
                model.config = match_parameters(reference, model.config)
            except ValueError as err:
                raise ConfigError("model", str(err), "change the model size") from err
        out.append(model)
    return out


def trained_or_built(cfg, arch: str, max_len: int) -> BenchModel:
    from ..models.factory import build_config

    trained = RunLayout.of(cfg).arch(arch).best
    if cfg.bench.use_trained and has_weights(trained):
        return BenchModel(arch, load_trained_config(trained), f"trained: {trained}", str(trained))
    return BenchModel(arch, build_config(cfg.model, arch, vocab_size(cfg), max_len), "random init")


def has_weights(export) -> bool:
    files = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
    return (export / "config.json").is_file() and any((export / f).is_file() for f in files)


def load_trained_config(path):
    from transformers import AutoConfig

    import retlab.models  # noqa: F401  (registers retlab's model types with the Auto classes)

    return AutoConfig.from_pretrained(path)


def vocab_size(cfg) -> int:
    if cfg.bench.vocab_size:
        return cfg.bench.vocab_size
    info = RunLayout.of(cfg).data / "info.json"
    if info.is_file():
        return int(read_json(info)["vocab_size"])
    if cfg.data.source == "mqar":
        return cfg.data.mqar.vocab_size
    return cfg.tokenizer.vocab_size


def instantiate(bench_model: BenchModel, device: torch.device, dtype: torch.dtype, seed: int = 0):
    """The trained export, or a seeded random init, on `device` in `dtype`."""
    from ..models.factory import build_model, causal_lm_class

    if bench_model.path:
        model = causal_lm_class(bench_model.config).from_pretrained(bench_model.path)
    else:
        model = build_model(bench_model.config, seed=seed)
    return model.to(device=device, dtype=dtype)
