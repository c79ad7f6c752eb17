"""The models a benchmark compares: trained exports of the run when present, else random inits of exactly the
sizes `retlab train` would give them (speed and memory depend on the shapes, not on the weights' values)."""

import dataclasses
from dataclasses import dataclass

import torch

from ..layout import RunLayout
from ..models.factory import DataShape, build_model, contender_configs, has_weights, load_config, load_model
from ..preflight import check_export, check_models
from ..utils.device import resolve_device

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class BenchModel:
    arch: str
    config: object  # a retlab PreTrainedConfig
    source: str  # "trained: <path>" or "random init"
    path: str | None = None  # the trained export, loaded with its weights


def bench_device(cfg) -> torch.device:
    return resolve_device(cfg.bench.device, "bench.device")


def bench_dtype(cfg) -> torch.dtype:
    return DTYPES[cfg.bench.dtype]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads > 1 else ''})"


def bench_archs(cfg) -> list[str]:
    return list(cfg.bench.archs or cfg.compare)


def bench_configs(cfg, archs: list[str], max_len: int) -> list[BenchModel]:
    """One model per arch: the trained export when `bench.use_trained` and it exists, else the config that
    `contender_configs` gives it (matched to `compare`'s first arch, whether or not that one is benchmarked)."""
    shape = DataShape(vocab_size(cfg), max_len)
    check_models(dataclasses.replace(cfg, compare=cfg.compare or archs), archs, shape)
    built = contender_configs(cfg.model, cfg.compare or archs, shape, archs)
    out = []
    for arch in archs:
        trained = RunLayout.of(cfg).arch(arch).best
        if cfg.bench.use_trained and has_weights(trained):
            check_export(trained, "bench.use_trained")
            out.append(BenchModel(arch, load_config(trained), f"trained: {trained}", str(trained)))
        else:
            out.append(BenchModel(arch, built[arch], "random init"))
    return out


def vocab_size(cfg) -> int:
    """`bench.vocab_size`, else the data's (as `retlab train` will see it)."""
    from ..data.stages import planned_shape

    return cfg.bench.vocab_size or planned_shape(cfg).vocab_size


def instantiate(bench_model: BenchModel, device: torch.device, dtype: torch.dtype, seed: int = 0):
    """The trained export, or a seeded random init, on `device` in `dtype`."""
    if bench_model.path:
        model = load_model(bench_model.path)
    else:
        model = build_model(bench_model.config, seed=seed)
    return model.to(device=device, dtype=dtype)
