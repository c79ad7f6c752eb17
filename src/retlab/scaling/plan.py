"""From the `scaling` section to trials: each size's shape (through the factory and sizing, as every model gets
its size), its token budget, the sweep points, and the checks that need the data's vocabulary (sizes that
collapse into one shape, budgets below one batch or within the warm-up, targets below the smallest size).

The checks raise ConfigError before any trial trains; data repeated within a budget is only warned about."""

import dataclasses
import math
from dataclasses import dataclass

from ..config import RetlabConfig
from ..errors import ConfigError
from ..models.factory import build_config, model_for_parameters, shaped_model
from ..models.sizing import count_parameters
from ..models.specs import DataShape

SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "num_heads", "intermediate_size", "value_dim")


@dataclass(frozen=True)
class Size:
    """One trained size: its `model` fields, the reference architecture's N (as `scaling.count` counts) and
    its training tokens."""

    label: str
    """`1`, `2`, ... in increasing N."""
    requested: str
    """What the config asked for: a parameter count or a shape."""
    model: dict[str, int]
    parameters: int
    tokens: int

    @property
    def point(self) -> dict[str, int]:
        """The sweep point of this size: its model fields and token budget."""
        return {f"model.{k}": v for k, v in self.model.items()} | {"train.max_tokens": self.tokens}


def scaling_base(cfg: RetlabConfig) -> RetlabConfig:
    """The config every size starts from: a sweep over `compare` with the study's seeds and no grid, trained by
    tokens alone (no step or epoch limit), with the feed-forward and value widths following each size's width."""
    sweep = dataclasses.replace(cfg.sweep, grid={}, compare=list(cfg.compare), seeds=list(cfg.scaling.seeds))
    train = dataclasses.replace(cfg.train, max_steps=-1, max_epochs=None, max_tokens=None)
    model = dataclasses.replace(cfg.model, intermediate_size=None, value_dim=None)
    return dataclasses.replace(cfg, sweep=sweep, train=train, model=model)


def embeddings_counted(cfg: RetlabConfig) -> bool:
    return cfg.scaling.count == "total"


def counted(cfg: RetlabConfig, model, arch: str, shape: DataShape) -> int:
    """N of `arch` built from the `model` section, as `scaling.count` counts it."""
    return count_parameters(build_config(model, arch, shape), embeddings_counted(cfg))


def plan_sizes(cfg: RetlabConfig, shape: DataShape) -> list[Size]:
    """Every size of the study in increasing N; ConfigError when a size makes no valid model or two sizes give
    one shape."""
    sc = cfg.scaling
    where = "scaling.shapes" if sc.shapes else "scaling.parameters"
    asked = [f"{n:.3g} parameters" for n in sc.parameters] or [str(s) for s in sc.shapes]
    sized = [_size(cfg, shape, n) for n in sc.parameters] or [_size(cfg, shape, s) for s in sc.shapes]
    fields = [{k: getattr(m, k) for k in SHAPE_KEYS if getattr(m, k) is not None} for m, _ in sized]
    _check_distinct(asked, fields, where)
    order = sorted(range(len(sized)), key=lambda i: sized[i][1])
    return [
        Size(str(rank + 1), asked[i], fields[i], sized[i][1], budget(cfg, sized[i][1]))
        for rank, i in enumerate(order)
    ]


def _size(cfg: RetlabConfig, shape: DataShape, asked: float | dict):
    """(model section, N of the reference) of one size: a parameter count shaped by the aspect-ratio rule, or an
    explicit shape; ConfigError naming the size when its model is invalid (e.g. heads not dividing the width)."""
    sc, ref = cfg.scaling, cfg.compare[0]
    try:
        if isinstance(asked, dict):
            extra = {k: v for k, v in asked.items() if k not in ("hidden_size", "num_hidden_layers")}
            model = shaped_model(
                cfg.model, asked["hidden_size"], asked["num_hidden_layers"], sc.head_dim, **extra
            )
        else:
            embeddings = embeddings_counted(cfg)
            model = model_for_parameters(
                cfg.model, ref, shape, asked, sc.aspect_ratio, sc.head_dim, embeddings
            )
        return model, counted(cfg, model, ref, shape)
    except ConfigError as e:
        what = f"scaling.shapes {asked}" if isinstance(asked, dict) else f"scaling.parameters {asked:.3g}"
        raise ConfigError(what, e.problem, "change that size, or scaling.head_dim") from None


def budget(cfg: RetlabConfig, parameters: float) -> int:
    """Training tokens of a size with N = `parameters`: the fixed budget, or tokens_per_parameter x N."""
    sc = cfg.scaling
    return int(sc.tokens) if sc.tokens is not None else int(round(sc.tokens_per_parameter * parameters))


def _check_distinct(asked: list[str], fields: list[dict], where: str) -> None:
    seen: dict[tuple, str] = {}
    for what, f in zip(asked, fields, strict=True):
        key = tuple(sorted(f.items()))
        if key in seen:
            shape = ", ".join(f"{k}={v}" for k, v in f.items())
            raise ConfigError(
                where,
                f"{seen[key]} and {what} give the same shape ({shape})",
                "space the sizes further apart, or lower scaling.head_dim for finer widths",
            )
        seen[key] = what


def check_budgets(cfg: RetlabConfig, sizes: list[Size], per_step: int) -> None:
    """Every size trains at least one batch and more optimiser steps than the warm-up."""
    where = "scaling.tokens" if cfg.scaling.tokens is not None else "scaling.tokens_per_parameter"
    for size in sizes:
        what = f"size {size.label} ({size.parameters:,} parameters)"
        if size.tokens < per_step:
            raise ConfigError(
                where,
                f"{what} gets {size.tokens:,} training tokens, less than one batch ({per_step:,} tokens)",
                "raise the budget, or lower train.batch_size or data.seq_len",
            )
        steps = math.ceil(size.tokens / per_step)
        if cfg.train.warmup_steps >= steps:
            raise ConfigError(
                "train.warmup_steps",
                f"{cfg.train.warmup_steps} >= the {steps} optimiser steps of {what}: its learning rate would "
                "never reach its peak",
                f"use at most about {max(steps // 10, 0)}, or raise the budget",
            )


def repeated_data(sizes: list[Size], train_tokens: int) -> list[str]:
    """Warnings for sizes whose budget passes over the training split more than once."""
    return [
        f"size {s.label} trains on {s.tokens:,} tokens, {s.tokens / train_tokens:.1f} passes over the "
        f"{train_tokens:,} training tokens: repeated data bends scaling curves (more text, or smaller budgets)"
        for s in sizes
        if s.tokens > train_tokens
    ]


def plan_targets(cfg: RetlabConfig, shape: DataShape, sizes: list[Size]) -> list[dict[str, float]]:
    """Each target as {"parameters": N, "flops": C}: C trains the reference architecture shaped by the aspect
    ratio rule to N with the study's token budget. ConfigError for a target below the smallest size."""
    from ..bench.flops import train_flops_per_token

    sc, ref = cfg.scaling, cfg.compare[0]
    smallest = sizes[0].parameters
    out = []
    for n in sc.targets:
        if n < smallest:
            raise ConfigError(
                "scaling.targets",
                f"{n:.3g} is below the smallest trained size ({smallest:,} parameters)",
                "targets extrapolate upwards: drop it or add a smaller size",
            )
        model = model_for_parameters(
            cfg.model, ref, shape, n, sc.aspect_ratio, sc.head_dim, embeddings_counted(cfg)
        )
        per_token = train_flops_per_token(build_config(model, ref, shape), cfg.data.seq_len)
        out.append({"parameters": float(n), "flops": per_token * budget(cfg, n)})
    return out
