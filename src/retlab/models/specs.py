"""What each architecture is, in one place: one `ArchSpec` per name that `compare` and `model.arch` accept.

Adding an architecture = its model folder (configuration + modeling, registered with the Auto classes) and one
entry in `SPECS`. Everything that differs between architectures asks the spec: the factory (classes, which
`model` fields apply, the default feed-forward), sizing (closed-form count, the width that matching sets), FLOPs
and memory (how it mixes the sequence, what its decoding cache is), the benchmarks (which forms to time, what
they can run) and config validation (the names themselves).

This module imports nothing heavy, since the config sections import it to check architecture names; the model
classes are imported on first use (the TorchScale backends must not import torchscale unless asked for)."""

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

# `model` section fields every architecture takes, under the same name in its Hugging Face config.
SHARED_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_heads",
    "norm_eps",
    "dropout",
    "tie_word_embeddings",
)


@dataclass(frozen=True)
class DataShape:
    """What every model config needs to know about the data: its vocabulary, context and special token ids
    (under these names in every config)."""

    vocab_size: int
    max_position_embeddings: int
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    @classmethod
    def of(cls, info) -> "DataShape":
        """The shape of prepared data (a `DataInfo`): its vocabulary, block length and special ids."""
        return cls(info.vocab_size, info.seq_len, info.pad_token_id, info.bos_token_id, info.eos_token_id)


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: where its classes are, how the `model` section maps onto its config, how it is sized,
    and what the benchmarks can do with it."""

    name: str
    """Its name in `compare`, `model.arch`, `sweep.compare`, `bench.archs` and run folders."""
    model_type: str
    """Its Hugging Face `model_type`: in every export's config.json, and what loaders dispatch on."""
    module: str
    """Package under retlab.models that holds its config and causal-LM classes."""
    config_class: str
    model_class: str
    model_fields: tuple[str, ...] = ()
    """`model` section fields beyond SHARED_FIELDS that it takes; the others do not apply to it."""
    gated_ffn: bool = True
    """A three-matrix GLU feed-forward (default intermediate_size about 8/3 x hidden), else two (4 x hidden)."""
    mixer: Literal["attention", "retention"] = "attention"
    """How it mixes the sequence; a retention model's form is its config's `retention_mode`."""
    cache: Literal["kv", "recurrent", "none"] = "kv"
    """What decoding keeps: a KV cache, a recurrent state, or nothing (each token recomputes the prefix, so
    `bench infer` leaves it out with a note)."""
    score_matrix_forms: tuple[str, ...] = ()
    """Forms whose training keeps (T, T) score matrices for backward (the benchmarks' memory estimate)."""
    bench_train_forms: tuple[str, ...] = ()
    """Forms `bench train` times one by one (default: only the config's own)."""
    bench_train_default: bool = False
    """Timed by `bench train` when `bench.archs` is unset even if not in `compare` (a reference implementation)."""
    requires: str | None = None
    """An optional package it needs; without it the benchmarks skip it with a note."""
    layer_parameters: Callable[[Any], int] | None = None
    """Parameters of one block in closed form (embeddings and final norm are counted by sizing); None: count
    an instance on the meta device."""
    width_field: str = "intermediate_size"
    """The config field that parameter matching sizes (the parameter count must be affine in it)."""

    def classes(self) -> tuple[type, type]:
        """(config class, causal-LM class), importing their package on first use."""
        module = importlib.import_module(f"{__package__}.{self.module}")
        return getattr(module, self.config_class), getattr(module, self.model_class)

    def default_intermediate_size(self, hidden_size: int) -> int:
        """About 8/3 x hidden for a gated feed-forward (a multiple of 16), 4 x hidden for a plain one."""
        if not self.gated_ffn:
            return 4 * hidden_size
        return max(16, round(8 * hidden_size / 3 / 16) * 16)

    def config_fields(self, model, shape) -> dict[str, Any]:
        """Keyword arguments of its config class for the `model` section `model` and the data shape `shape`."""
        fields = dataclasses.asdict(shape)
        fields |= {name: getattr(model, name) for name in SHARED_FIELDS}
        fields["intermediate_size"] = model.intermediate_size or self.default_intermediate_size(
            model.hidden_size
        )
        fields |= {n: getattr(model, n) for n in self.model_fields if getattr(model, n) is not None}
        return fields

    def form(self, config) -> str:
        """The sequence-mixing form of a full-sequence forward of `config`: `attention` or a retention form."""
        return config.retention_mode if self.mixer == "retention" else "attention"


# ---------------------------------------------------------------------------------------------------- counts


def retnet_layer(config) -> int:
    """input_norm, q, k (d x d), v, g (d x dv), o (dv x d), group norm (no affine), post_norm, GLU (3 d ffn)."""
    d, dv = config.hidden_size, config.value_dim or 2 * config.hidden_size
    return d + 2 * d * d + 3 * d * dv + d + 3 * d * config.intermediate_size


def transformer_layer(config) -> int:
    """input_norm, q, k, v, o (d x d), post_norm, SwiGLU (3 d ffn)."""
    d = config.hidden_size
    return 2 * d + 4 * d * d + 3 * d * config.intermediate_size


# ---------------------------------------------------------------------------------------------------- the specs

SPECS: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec(
            name="retnet",
            model_type="retlab-retnet",
            module="native",
            config_class="RetNetConfig",
            model_class="RetNetForCausalLM",
            model_fields=("value_dim", "decay", "retention_mode", "chunk_size"),
            mixer="retention",
            cache="recurrent",
            score_matrix_forms=("parallel",),
            bench_train_forms=("parallel", "chunkwise"),
            layer_parameters=retnet_layer,
        ),
        ArchSpec(
            name="transformer",
            model_type="retlab-transformer",
            module="native",
            config_class="TransformerConfig",
            model_class="TransformerForCausalLM",
            model_fields=("positional",),
            layer_parameters=transformer_layer,  # SDPA's fused kernels keep no score matrix
        ),
        ArchSpec(
            name="torchscale-retnet",
            model_type="retlab-torchscale-retnet",
            module="torchscale",
            config_class="TorchScaleRetNetConfig",
            model_class="TorchScaleRetNetForCausalLM",
            model_fields=("value_dim", "retention_mode", "chunk_size"),  # TorchScale's decay is fixed
            mixer="retention",
            cache="none",
            score_matrix_forms=("parallel",),
            bench_train_forms=("parallel", "chunkwise"),  # TorchScale's default and its faster form
            bench_train_default=True,
            requires="torchscale",
        ),
        ArchSpec(
            name="torchscale-transformer",
            model_type="retlab-torchscale-transformer",
            module="torchscale",
            config_class="TorchScaleTransformerConfig",
            model_class="TorchScaleTransformerForCausalLM",
            # No rotary in TorchScale's Decoder: position-free, as in the original study; a plain two-matrix FFN.
            gated_ffn=False,
            cache="none",
            score_matrix_forms=("attention",),
            bench_train_default=True,
            requires="torchscale",
        ),
    )
}
ARCHS: tuple[str, ...] = tuple(SPECS)
BY_MODEL_TYPE: dict[str, ArchSpec] = {spec.model_type: spec for spec in SPECS.values()}


# ---------------------------------------------------------------------------------------------------- lookups


def arch_problem(name: Any) -> tuple[str, str] | None:
    """(problem, fix) when `name` is not an architecture, else None; the fix names the closest ones."""
    if isinstance(name, str) and name in SPECS:
        return None
    close = difflib.get_close_matches(str(name), ARCHS, n=2, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown architecture {name!r}", f"{hint}use one of: {', '.join(ARCHS)}"


def spec_of(name: str) -> ArchSpec:
    """The spec of the architecture `name`; ConfigError (naming the closest names) for an unknown one."""
    problem = arch_problem(name)
    if problem:
        from ..errors import ConfigError

        raise ConfigError("model.arch", *problem)
    return SPECS[name]


def spec_for(config) -> ArchSpec:
    """The spec of a Hugging Face config (by its `model_type`, so configs of exports with copied code count)."""
    spec = BY_MODEL_TYPE.get(getattr(config, "model_type", None))
    if spec is None:
        raise ValueError(f"not a retlab model config: model_type {getattr(config, 'model_type', None)!r}")
    return spec


def is_retlab_model_type(model_type: str | None) -> bool:
    return model_type in BY_MODEL_TYPE
