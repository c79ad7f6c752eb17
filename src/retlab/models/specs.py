"""What each architecture is, in one place: one `ArchSpec` per name that `compare` and `model.arch` accept.

Adding an architecture = its model folder (configuration + modeling, registered with the Auto classes) and one
entry in `SPECS`. Any causal LM that `transformers` ships is an architecture too, named `hf:<model_type>`
(`hf:llama`, `hf:mamba`): its `HfArchSpec` is made on first use from the type's own config and model classes,
`HF_FIELD_NAMES` and the small per-type table `HF_TYPES`. Everything that differs between architectures asks
the spec: the factory (classes, which `model` fields apply, the default feed-forward), sizing (closed-form
count, the width that matching sets), FLOPs and memory (how it mixes the sequence, what its decoding cache is),
the benchmarks (which forms to time, what they can run) and config validation (the names themselves).

This module imports nothing heavy, since the config sections import it to check architecture names; the model
classes are imported on first use (the TorchScale backends must not import torchscale unless asked for), and
transformers' registries only when an `hf:` name is used."""

import dataclasses
import difflib
import functools
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
    mixer: Literal["attention", "retention", "other"] = "attention"
    """How it mixes the sequence; a retention model's form is its config's `retention_mode`. `other`: a mixer
    the FLOP formulas do not model (transformers' state-space and linear-attention models): its FLOPs count
    its parameters only."""
    cache: Literal["kv", "recurrent", "none"] = "kv"
    """What decoding keeps: a KV cache, a recurrent state, or nothing that decodes step by step (each token
    recomputes the prefix: `bench infer` leaves a native one out with a note, and times an `hf:` one that way,
    with a note)."""
    cache_argument: str = "cache"
    """The forward keyword that takes the cache, and the output field that returns it (`models/decoding.py`)."""
    cache_formula: bool = True
    """Whether the benchmarks' formulas give its cache size (a KV cache of hidden_size per layer and token, or
    RetNet's state); else only the measured bytes are reported."""
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
    """The config field that parameter matching sizes (the parameter count must grow with it)."""

    @property
    def is_hf(self) -> bool:
        """A causal LM that transformers ships (`hf:<model_type>`), not one of retlab's own."""
        return False

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
        """The sequence-mixing form of a full-sequence forward of `config`: `attention`, a retention form, or
        `other`."""
        return config.retention_mode if self.mixer == "retention" else self.mixer

    def read(self, config, name: str) -> Any:
        """The value of the `model` section's field `name` (or a DataShape field) in `config`, a config or its
        dict (config.json); None where the architecture has no such field."""
        if isinstance(config, dict):
            return config.get(name)
        return getattr(config, name, None)

    def width_field_of(self, model) -> str:
        """The config field that parameter matching sizes under the `model` section `model`."""
        return self.width_field

    def width_overrides(self, model, config) -> dict[str, Any]:
        """Dotted `model` section overrides that pin the width of `config` (a matched config), so that a config
        built from them alone (a sweep trial, which trains one architecture) gets the same size."""
        return {"model.intermediate_size": getattr(config, self.width_field)}


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


# ---------------------------------------------------------------------------------------------------- hf:<type>

HF_PREFIX = "hf:"

# The `model` section's fields (and the data shape's) under the names transformers' configs give them, most
# common first: a type takes the first name its config knows (its attribute_map included).
HF_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "vocab_size": ("vocab_size",),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "max_seq_len"),
    "pad_token_id": ("pad_token_id",),
    "bos_token_id": ("bos_token_id",),
    "eos_token_id": ("eos_token_id",),
    "hidden_size": ("hidden_size", "d_model", "n_embd"),
    "num_hidden_layers": ("num_hidden_layers", "num_layers", "n_layer"),
    "num_heads": ("num_attention_heads", "num_heads", "n_head"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "d_ff"),
    "norm_eps": ("rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps", "norm_eps", "norm_epsilon"),
    "tie_word_embeddings": ("tie_word_embeddings",),
}
# `model.dropout` goes to every one of these that the type's config has.
HF_DROPOUTS = (
    "dropout",
    "hidden_dropout",
    "attention_dropout",
    "resid_pdrop",
    "embd_pdrop",
    "attn_pdrop",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "activation_dropout",
)
# Cache layer types of transformers' that hold a fixed-size state rather than keys and values per token.
_STATE_LAYERS = {"linear_attention", "conv"}


@dataclass(frozen=True)
class HfType:
    """What retlab must be told about a transformers model type beyond what its classes declare."""

    width_field: str | None = None
    """The field parameter matching sizes (default: its feed-forward width under the type's name for it)."""
    cache: Literal["kv", "recurrent", "none"] | None = None
    """What decoding keeps (default: from transformers' declarations: the config's cache layer types, and
    whether the model takes a DynamicCache at all)."""
    cache_argument: str = "cache"
    adjust: Callable[[dict, Any], dict] | None = None
    """Fields derived from the mapped ones and `model.hf_overrides` (given both and the type's default
    config); an override of the same field wins."""


def mamba2_fields(fields: dict, default) -> dict:
    """Mamba-2 splits its inner width (expand x hidden_size) into num_heads heads: head_dim follows; one group
    of B and C projections (the default 8 would have to divide num_heads)."""
    heads = fields.get("num_heads", default.num_heads)
    return {"head_dim": fields.get("expand", default.expand) * fields["hidden_size"] // heads, "n_groups": 1}


HF_TYPES: dict[str, HfType] = {
    # RWKV's state travels as `state`, not as a transformers Cache.
    "rwkv": HfType(cache="recurrent", cache_argument="state"),
    # Mamba-2's inner width is an integer multiple (expand) of hidden_size: its state size is the finest knob.
    "mamba2": HfType(width_field="state_size", adjust=mamba2_fields),
}


@dataclass(frozen=True)
class HfArchSpec(ArchSpec):
    """A causal LM that transformers ships, `hf:<model_type>`: the `model` section's fields under the type's
    own names, the remaining ones from `model.hf_overrides[<model_type>]`, counted on the meta device.
    Built by `hf_spec` from the type's classes and `HF_TYPES`."""

    names: dict[str, str] = dataclasses.field(default_factory=dict)
    """`model` section field -> the type's config field, for those it has."""
    dropouts: tuple[str, ...] = ()
    known: frozenset[str] = frozenset()
    """Every field its config knows (what `model.hf_overrides` may set)."""
    intermediate_ratio: float | None = None
    """Its default config's intermediate size over hidden size (None: the type derives it)."""
    adjust: Callable[[dict, Any], dict] | None = None

    @property
    def is_hf(self) -> bool:
        return True

    def classes(self) -> tuple[type, type]:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

        config_class = CONFIG_MAPPING[self.model_type]
        return config_class, MODEL_FOR_CAUSAL_LM_MAPPING[config_class]

    def default_intermediate_size(self, hidden_size: int) -> int | None:
        """The type's own ratio to hidden_size, in multiples of 16 (None: left to the type)."""
        if self.intermediate_ratio is None:
            return None
        return max(16, round(self.intermediate_ratio * hidden_size / 16) * 16)

    def config_fields(self, model, shape) -> dict[str, Any]:
        values = dataclasses.asdict(shape) | {name: getattr(model, name) for name in SHARED_FIELDS}
        values["intermediate_size"] = model.intermediate_size or self.default_intermediate_size(
            model.hidden_size
        )
        fields = {self.names[k]: v for k, v in values.items() if k in self.names and v is not None}
        fields |= {name: model.dropout for name in self.dropouts}
        # Attention as in the native Transformer++: every head has its own keys and values, hidden/heads wide.
        if "num_key_value_heads" in self.known:
            fields["num_key_value_heads"] = model.num_heads
        if "head_dim" in self.known:
            fields["head_dim"] = model.hidden_size // model.num_heads
        overrides = dict(model.hf_overrides.get(self.model_type) or {})
        if self.adjust:
            derived = self.adjust(fields | overrides, hf_default_config(self.model_type))
            fields |= {k: v for k, v in derived.items() if k not in overrides}
        return fields | overrides

    def read(self, config, name: str) -> Any:
        field = self.dropouts[0] if name == "dropout" and self.dropouts else self.names.get(name)
        if field is None:
            return None
        return config.get(field) if isinstance(config, dict) else getattr(config, field, None)

    def width_field_of(self, model) -> str:
        field = self._width_field(model)
        if not field:
            from ..errors import ConfigError

            raise ConfigError(
                "model.hf_width_field",
                f"{self.name} has no feed-forward width for parameter matching to size",
                f"name one of its config fields, e.g. `hf_width_field: {{{self.model_type}: <field>}}`, "
                "or set model.match_parameters: false",
            )
        return field

    def width_overrides(self, model, config) -> dict[str, Any]:
        field = self._width_field(model)
        if not field:  # nothing to pin: it is trained at the size this section gives it
            return {}
        own = dict(model.hf_overrides.get(self.model_type) or {}) | {field: getattr(config, field)}
        return {"model.hf_overrides": dict(model.hf_overrides) | {self.model_type: own}}

    def _width_field(self, model) -> str:
        return (model.hf_width_field or {}).get(self.model_type) or self.width_field


@functools.cache
def hf_model_types() -> tuple[str, ...]:
    """The model types transformers registers for AutoModelForCausalLM."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return tuple(sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES))


@functools.cache
def hf_default_config(model_type: str):
    """The type's config with its defaults (None for one that cannot be made from defaults alone)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    try:
        return CONFIG_MAPPING[model_type]()
    except Exception:
        return None


@functools.cache
def hf_config_fields(model_type: str) -> tuple[frozenset[str], dict[str, str]]:
    """(every field the type's config knows, its attribute_map): the fields of its default config (those set
    in `__post_init__` too, like Mamba's intermediate_size), and the standard names its attribute_map
    redirects."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config_class, default = CONFIG_MAPPING[model_type], hf_default_config(model_type)
    if default is not None:
        names = set(default.to_dict())
    else:  # its declared fields
        names = (
            {f.name for f in dataclasses.fields(config_class)}
            if dataclasses.is_dataclass(config_class)
            else set()
        )
    attribute_map = dict(getattr(config_class, "attribute_map", {}) or {})
    return frozenset(names | set(attribute_map)), attribute_map


@functools.cache
def hf_spec(model_type: str) -> HfArchSpec:
    """The spec of transformers' model type `model_type` (one of `hf_model_types()`)."""
    known, attribute_map = hf_config_fields(model_type)
    facts = HF_TYPES.get(model_type, HfType())
    names = {}
    for field, candidates in HF_FIELD_NAMES.items():
        name = next((c for c in candidates if c in known), None)
        if name is not None:
            names[field] = attribute_map.get(name, name)  # the name it is stored under in config.json
    spec = HfArchSpec(
        name=HF_PREFIX + model_type,
        model_type=model_type,
        module="",
        config_class="",
        model_class="",
        names=names,
        dropouts=tuple(d for d in HF_DROPOUTS if d in known),
        known=known,
        adjust=facts.adjust,
        cache_argument=facts.cache_argument,
        cache_formula=False,
        width_field=facts.width_field or names.get("intermediate_size", ""),
    )
    default = hf_default_config(model_type)
    cache = facts.cache or hf_cache_kind(spec.classes()[1], default)
    ratio = None
    if default is not None and "intermediate_size" in names:
        inner, hidden = spec.read(default, "intermediate_size"), spec.read(default, "hidden_size")
        ratio = inner / hidden if isinstance(inner, int | float) and hidden else None
    mixer = "other" if cache == "recurrent" else "attention"
    return dataclasses.replace(spec, cache=cache, mixer=mixer, intermediate_ratio=ratio)


def hf_cache_kind(model_class, default) -> str:
    """`none` when transformers says the model cannot take a DynamicCache (its own cache format, or none),
    `recurrent` when every cache layer of its config holds a fixed-size state, else `kv`."""
    supports = getattr(model_class, "_supports_default_dynamic_cache", None)
    if supports is not None and not supports():
        return "none"
    layer_types = set(getattr(default, "layer_types", None) or ())
    return "recurrent" if layer_types and layer_types <= _STATE_LAYERS else "kv"


def hf_field_problem(model_type: str, name: str) -> tuple[str, str] | None:
    """(problem, fix) when the config of `model_type` has no field `name`, naming the closest ones."""
    known, _ = hf_config_fields(model_type)
    if name in known:
        return None
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (
        f"{model_type!r} configs have no field {name!r}",
        f"{hint}see the fields of transformers' {model_type} config",
    )


def hf_width_problem(model_type: str, name: str) -> tuple[str, str] | None:
    """(problem, fix) when `name`, a field of the config of `model_type`, cannot be the width that parameter
    matching sizes: one the `model` section or the data already set (matching would change them), or one that
    is not a whole number."""
    spec = hf_spec(model_type)
    owner = next((k for k, v in spec.names.items() if v == name and k != "intermediate_size"), None)
    fix = "name a width of its own, e.g. intermediate_size or expand, or set model.match_parameters: false"
    if owner:
        return (
            f"{name!r} is set from {owner} (the model section or the data); matching must not change it",
            fix,
        )
    default = getattr(hf_default_config(model_type), name, 0)
    if isinstance(default, bool) or not isinstance(default, int | None):
        return f"{model_type!r} {name!r} is not a whole-number width (its default is {default!r})", fix
    return None


# ---------------------------------------------------------------------------------------------------- lookups


def arch_problem(name: Any) -> tuple[str, str] | None:
    """(problem, fix) when `name` is not an architecture, else None; the fix names the closest ones."""
    if isinstance(name, str) and name in SPECS:
        return None
    if isinstance(name, str) and name.startswith(HF_PREFIX):
        model_type = name.removeprefix(HF_PREFIX)
        if model_type in hf_model_types():
            return None
        close = difflib.get_close_matches(model_type, hf_model_types(), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(HF_PREFIX + c for c in close)}? " if close else ""
        return (
            f"transformers registers no causal LM of model type {model_type!r}",
            f"{hint}use hf:<model_type> with a type of AutoModelForCausalLM, e.g. hf:llama or hf:mamba",
        )
    close = difflib.get_close_matches(str(name), ARCHS, n=2, cutoff=0.5) or difflib.get_close_matches(
        str(name), [HF_PREFIX + t for t in hf_model_types()], n=2, cutoff=0.6
    )  # `mamba` -> did you mean hf:mamba?
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown architecture {name!r}", f"{hint}use one of: {', '.join(ARCHS)}, or hf:<model_type>"


def spec_of(name: str) -> ArchSpec:
    """The spec of the architecture `name`; ConfigError (naming the closest names) for an unknown one."""
    problem = arch_problem(name)
    if problem:
        from ..errors import ConfigError

        raise ConfigError("model.arch", *problem)
    return SPECS[name] if name in SPECS else hf_spec(name.removeprefix(HF_PREFIX))


def spec_for(config) -> ArchSpec:
    """The spec of a Hugging Face config or its dict (by its `model_type`, so configs of exports with copied
    code count); transformers' own model types get their `hf:` spec."""
    model_type = config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None)
    spec = BY_MODEL_TYPE.get(model_type)
    if spec is None and model_type in hf_model_types():
        spec = hf_spec(model_type)
    if spec is None:
        raise ValueError(f"not a retlab or transformers causal-LM config: model_type {model_type!r}")
    return spec


def is_retlab_model_type(model_type: str | None) -> bool:
    return model_type in BY_MODEL_TYPE
