"""The config's schema, read from the dataclasses: every field's dotted key, type and docstring; types and
unknown keys in words for error messages; and configs/template.yaml."""

import ast
import dataclasses
import difflib
import inspect
import types
import typing
from functools import cache
from typing import Any, Literal

import yaml

# The original study's YAML keys -> retlab's dotted key (None: no counterpart); docs/config-from-original-study.md
# explains each (a test keeps the two equal).
# Used to answer "unknown key 'embed_dim'" with the field to use instead.
ORIGINAL_STUDY_KEYS: dict[str, str | None] = {
    "embed_dim": "model.hidden_size",
    "value_embed_dim": "model.value_dim",
    "ffn_dim": "model.intermediate_size",
    "heads": "model.num_heads",
    "layers": "model.num_hidden_layers",
    "dropout": "model.dropout",
    "activation_dropout": None,
    "model_type": "model.arch",
    "seq_len": "data.seq_len",
    "vocab_size": "tokenizer.vocab_size",
    "learning_rate": "train.lr",
    "gamma": "train.min_lr_ratio",
    "batch_size": "train.batch_size",
    "betas": "train.betas",
    "weight_decay": "train.weight_decay",
    "gradient_clip_val": "train.gradient_clip_val",
    "precision": "train.precision",
    "epochs": "train.max_epochs",
    "val_check_interval": "train.val_check_interval",
    "accumulate_grad_batches": "train.accumulate_grad_batches",
    "early_stopping": "train.early_stopping_patience",
    "save_top_k": "train.save_top_k",
    "every_n_train_steps": "train.every_n_train_steps",
    "every_n_hours": "train.every_n_minutes",
    "checkpoints": "train.save_top_k",
    "rand_seed": "seed",
    "splits": "data.splits",
    "dataset_name": "data.name",
    "dataset_subset": "data.subset",
    "dataset_feature": "data.text_field",
    "root_data_path": "output_dir",
    "raw_dataset_path": "data.path",
    "tokenizer_path": "tokenizer.path",
    "tokenized_dataset_path": "output_dir",
    "models_path": "output_dir",
    "tboard_path": "output_dir",
    "checkpoint_path": "generate.model",
    "device": "train.accelerator",
    "num_devices": "train.devices",
    "num_nodes": "train.num_nodes",
    "strategy": "train.strategy",
    "use_slurm": None,
    "tasks": "eval.tasks",
    "nshot": "eval.num_fewshot",
    "gen_len": "generate.max_new_tokens",
    "input_starting_strings": "generate.prompts",
    "test_sequence_lengths": "bench.contexts",
    "grid_search_out_file": "sweep",
}


# ---------------------------------------------------------------- introspection


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal under each field) of a dataclass."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if (
                isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


@cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _leaves(cls: type | None, prefix: str = ""):
    """(dotted key, dataclass field, type annotation) of every settable field of `cls` (default: RetlabConfig),
    sections expanded."""
    if cls is None:
        from . import RetlabConfig

        cls = RetlabConfig
    for f in dataclasses.fields(cls):
        tp = hints(cls)[f.name]
        if is_section(tp):
            yield from _leaves(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, tp


@cache
def leaf_fields(cls: type | None = None, prefix: str = "") -> dict[str, Any]:
    """Every settable field of `cls` (default: RetlabConfig) as dotted key -> type annotation (sections
    expanded). Cached: do not change the result."""
    return {key: tp for key, _, tp in _leaves(cls, prefix)}


@cache
def path_fields() -> dict[str, str]:
    """Every path field (`checks.path_field`) as dotted key -> its kind (input, name or output)."""
    return {key: f.metadata["path"] for key, f, _ in _leaves(None) if "path" in f.metadata}


def all_keys() -> set[str]:
    """Dotted keys of every field and every section."""
    keys = set(leaf_fields())
    for k in list(keys):
        parts = k.split(".")
        keys.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return keys


def describe_type(tp: Any) -> str:
    """A type annotation in words, for error messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"a list of {describe_type(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    if tp is bool:
        return "true or false"
    return getattr(tp, "__name__", str(tp))


def suggest(key: str, flag: bool = False) -> str:
    """A hint for an unknown dotted key: the original-study mapping, a same-named field elsewhere, or the closest."""
    name = (lambda k: f"`--{k}`") if flag else (lambda k: f"`{k}`")
    leaf = key.rsplit(".", 1)[-1]
    if ORIGINAL_STUDY_KEYS.get(leaf):
        return f"the original study's `{leaf}` is {name(ORIGINAL_STUDY_KEYS[leaf])}"
    if leaf in ORIGINAL_STUDY_KEYS:
        return (
            f"the original study's `{leaf}` has no retlab counterpart, see docs/config-from-original-study.md"
        )
    keys = sorted(leaf_fields())
    same_leaf = [k for k in keys if k.rsplit(".", 1)[-1] == leaf]
    close = same_leaf or difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if not close:
        section = key.split(".")[0]
        in_section = [k for k in keys if k.startswith(section + ".")]
        close = difflib.get_close_matches(key, in_section, n=1, cutoff=0.3)
    if close:
        return f"did you mean {name(close[0])}?"
    return "see configs/template.yaml for every field"


# ---------------------------------------------------------------- template


def block_yaml(data: Any) -> str:
    """`data` as block-style YAML (one key per line, list items as `- item`), as LightningCLI prints configs."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _field_yaml(name: str, value: Any, indent: str) -> list[str]:
    text = block_yaml({name: value}).rstrip("\n").removesuffix("\n...")
    return [indent + line for line in text.splitlines()]


def commented_lines(obj: Any, indent: str = "") -> list[str]:
    """`obj` (a config or a section) as block-style YAML lines, each field under its docstring as comments."""
    docs = field_docs(type(obj))
    lines = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        for doc_line in docs.get(f.name, "").splitlines():
            lines.append(f"{indent}# {doc_line}".rstrip())
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{f.name}:")
            lines += commented_lines(value, indent + "  ")
        else:
            lines += _field_yaml(f.name, value, indent)
        if not indent:
            lines.append("")
    return lines


TEMPLATE_HEAD = [
    "# retlab config template: every field, its default and what it means.",
    "# Generated from the dataclasses in src/retlab/config/ by retlab.config.loader.template_yaml();",
    "# regenerate it rather than editing by hand. Copy the fields you need into your own config.",
    "#",
    "# Paths: a relative path in a config file is relative to the folder of that file (so a config runs from any",
    "# working directory); on the command line it is relative to the current directory. A path written as",
    "# $RETLAB_DATA_DIR/... starts at the shared data root (the environment variable RETLAB_DATA_DIR, default",
    "# ../shared/data beside the repository). Several --config files merge in order, later ones winning.",
    "",
]


def template_yaml() -> str:
    """configs/template.yaml: every field with its default, commented with its docstring."""
    from . import RetlabConfig

    return "\n".join(TEMPLATE_HEAD + commented_lines(RetlabConfig())).rstrip() + "\n"
