"""Load, validate, save and document retlab configs.

Precedence: dataclass defaults < YAML file < overrides (a dict of dotted keys, or CLI-style `--train.lr 3e-4`).
Every problem with user input becomes one `ConfigError` line that names the field and the fix."""

import ast
import dataclasses
import difflib
import inspect
import json
import operator
import re
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ConfigError, first_line
from ..utils.files import atomic_write_text
from . import RetlabConfig
from .model import Arch

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


# ---------------------------------------------------------------- schema introspection


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
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def leaf_fields(cls: type = RetlabConfig, prefix: str = "") -> dict[str, Any]:
    """Every settable field as dotted key -> type annotation (sections expanded)."""
    out = {}
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if _is_section(tp):
            out.update(leaf_fields(tp, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = tp
    return out


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


# ---------------------------------------------------------------- reading input


def read_yaml(path: str | Path) -> dict:
    """The YAML mapping in `path`; missing files and syntax errors become one-line ConfigErrors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("--config", f"file '{path}' not found", "check the path; configs/ has examples")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(
            str(path), f"malformed YAML at {where}: {problem}", "fix the YAML syntax there"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "is not a YAML mapping", "write `key: value` lines such as `seed: 0`")
    return data


def check_keys(data: dict, cls: type = RetlabConfig, prefix: str = "") -> None:
    """Reject unknown keys and sections that are not mappings, before any type checking."""
    hints = _hints(cls)
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in hints:
            raise ConfigError(dotted, "unknown key", suggest(dotted))
        if _is_section(hints[key]):
            if value is None:
                continue
            if not isinstance(value, dict):
                example = next(iter(field_docs(hints[key])))
                raise ConfigError(
                    dotted,
                    "is a section, not a value",
                    f"indent its fields below it, e.g. `{key}:` then `  {example}: ...`",
                )
            check_keys(value, hints[key], dotted + ".")


def _wrap_scalars(data: dict, prefix: str = "") -> None:
    """`compare: retnet` -> `compare: [retnet]`: a single value where a list is expected is a one-item list."""
    fields = leaf_fields()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in fields:
            _wrap_scalars(value, dotted + ".")
        elif (
            dotted in fields
            and typing.get_origin(fields[dotted]) is list
            and isinstance(value, str | int | float)
        ):
            data[key] = [value]


def set_dotted(data: dict, key: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts; a mapping given for a section is merged into it, not swapped for it."""
    *parents, leaf = key.split(".")
    for p in parents:
        if not isinstance(data.get(p), dict):
            data[p] = {}
        data = data[p]
    if isinstance(value, dict) and isinstance(data.get(leaf), dict) and key not in leaf_fields():
        for k, v in value.items():
            set_dotted(data[leaf], k, v)
    else:
        data[leaf] = value


def _flags(args: list[str]) -> list[str]:
    return [a[2:] for a in args if a.startswith("--")]


def _listify(args: list[str]) -> list[str]:
    """`--data.path a.txt,b.txt` -> `--data.path ["a.txt", "b.txt"]` for list fields given without brackets.
    `--key=value` is split into `--key value` first."""
    fields, out = leaf_fields(), []
    for arg in args:
        out += arg.split("=", 1) if arg.startswith("--") and "=" in arg else [arg]
    for i, arg in enumerate(out[:-1]):
        key = arg[2:] if arg.startswith("--") else None
        value = out[i + 1]
        if key in fields and typing.get_origin(fields[key]) is list and not value.lstrip().startswith("["):
            out[i + 1] = json.dumps([v.strip() for v in value.split(",")])
    return out


def check_cli_args(args: list[str]) -> None:
    valid = all_keys()
    for key in _flags(args):
        if key not in valid:
            raise ConfigError(f"--{key}", "unknown option", suggest(key, flag=True))


# ---------------------------------------------------------------- parsing


@cache
def config_parser():
    """jsonargparse parser over every config field (types, defaults; field docstrings are its help text)."""
    from jsonargparse import ArgumentParser, set_parsing_settings

    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    parser = ArgumentParser(prog="retlab", exit_on_error=False, default_env=False)
    parser.add_class_arguments(RetlabConfig, nested_key=None, as_group=False)
    return parser


def _condense(err: Exception) -> ConfigError:
    """jsonargparse's multi-line messages -> one ConfigError naming the field, what was given and what is expected."""
    msg = str(err)
    key = re.search(r'(?:Parser key|key) "([^"]+)"', msg)
    given = re.findall(r"(?:Got value|Given value): (.*)", msg)
    if key:
        field = key.group(1)
        tp = leaf_fields().get(field)
        expected = describe_type(tp) if tp is not None else "a valid value"
        got = f"got {given[-1].strip()!r}" if given else "invalid value"
        return ConfigError(field, f"{got}, expected {expected}", f"set {field} to {expected}")
    unknown = re.search(r"unrecognized arguments: (\S+)", msg)
    if unknown:
        flag = unknown.group(1)
        return ConfigError(flag, "unknown option", suggest(flag.lstrip("-"), flag=True))
    return ConfigError("", msg.strip().splitlines()[0], "see `retlab <command> --help`")


def from_dict(cls: type, data: dict) -> Any:
    """Build the dataclass `cls` (sections recursively) from a plain nested dict."""
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        kwargs[f.name] = from_dict(hints[f.name], value or {}) if _is_section(hints[f.name]) else value
    return cls(**kwargs)


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | list[str] | None = None, check: bool = True
) -> RetlabConfig:
    """Defaults, then the YAML file at `path`, then `overrides` (dotted dict or CLI-style list); validated."""
    data = read_yaml(path) if path else {}
    check_keys(data)
    _wrap_scalars(data)
    cli: list[str] = []
    if isinstance(overrides, dict):
        valid = all_keys()
        for key, value in overrides.items():
            if key not in valid:
                raise ConfigError(key, "unknown key", suggest(key))
            set_dotted(data, key, value)
    elif overrides:
        cli = _listify([str(a) for a in overrides])
        check_cli_args(cli)
    from jsonargparse import ArgumentError

    parser = config_parser()
    try:
        ns = parser.parse_object(data)
        if cli:
            ns = parser.parse_args(cli, namespace=ns)
    except ArgumentError as e:
        raise _condense(e) from None
    except (TypeError, AttributeError, ValueError) as e:  # values jsonargparse could not even inspect
        first = first_line(e)
        raise ConfigError(
            str(path or "config"), f"invalid value ({first})", "compare with configs/template.yaml"
        ) from None
    cfg = from_dict(RetlabConfig, ns.as_dict())
    if check:
        validate(cfg)
    return cfg


# ---------------------------------------------------------------- validation


def _null_problems(cfg: RetlabConfig) -> list[tuple[str, str, str]]:
    """Fields set to null that do not allow it (jsonargparse lets null through for any type)."""
    bad = []
    for key, tp in leaf_fields().items():
        if operator.attrgetter(key)(cfg) is None and type(None) not in typing.get_args(tp):
            bad.append((key, "is null", f"set it to {describe_type(tp)} or leave it out for the default"))
    return bad


def _problems(cfg: RetlabConfig) -> list[tuple[str, str, str]]:
    bad: list[tuple[str, str, str]] = _null_problems(cfg)
    if bad:  # the range checks below assume values of the declared types
        return bad

    def need(ok: bool, field: str, problem: str, fix: str) -> None:
        if not ok:
            bad.append((field, problem, fix))

    def positive(section: Any, prefix: str, *names: str, optional: bool = False) -> None:
        for n in names:
            v = getattr(section, n)
            if optional and v is None:
                continue
            need(v is not None and v > 0, f"{prefix}.{n}", f"must be > 0, got {v}", "use a positive value")

    def non_negative(section: Any, prefix: str, *names: str) -> None:
        for n in names:
            v = getattr(section, n)
            need(v >= 0, f"{prefix}.{n}", f"must be >= 0, got {v}", "use 0 or more")

    archs = typing.get_args(Arch)
    need(
        bool(cfg.name) and "/" not in cfg.name,
        "name",
        f"invalid run name {cfg.name!r}",
        "use a non-empty name without '/'",
    )
    need(bool(cfg.compare), "compare", "is empty", f"list one or more of {', '.join(archs)}")
    for a in cfg.compare:
        need(a in archs, "compare", f"unknown architecture {a!r}", f"use one of {', '.join(archs)}")

    d = cfg.data
    need(
        len(d.splits) == 3,
        "data.splits",
        f"needs 3 fractions [train, val, test], got {len(d.splits)}",
        "e.g. [0.98, 0.01, 0.01]",
    )
    if len(d.splits) == 3:
        need(
            min(d.splits) >= 0 and d.splits[0] > 0,
            "data.splits",
            "fractions must be >= 0 (train > 0)",
            "e.g. [0.98, 0.01, 0.01]",
        )
        need(
            abs(sum(d.splits) - 1) < 1e-6,
            "data.splits",
            f"fractions sum to {sum(d.splits):g}, not 1",
            "make them sum to 1",
        )
    need(d.seq_len >= 2, "data.seq_len", f"must be >= 2, got {d.seq_len}", "use e.g. 256")
    positive(d, "data", "num_proc")
    non_negative(d, "data", "num_workers")
    need(
        d.source != "hub" or bool(d.name),
        "data.name",
        "is required for source: hub",
        "set e.g. --data.name wikitext",
    )
    need(
        d.source != "local" or bool(d.path),
        "data.path",
        "is required for source: local",
        "set e.g. --data.path 'corpus/*.txt'",
    )
    if d.source == "mqar":
        bad += _mqar_problems(d.mqar, d.seq_len, "data.mqar")

    t = cfg.tokenizer
    need(
        t.path is not None or t.vocab_size >= 260,
        "tokenizer.vocab_size",
        f"must be >= 260 (256 bytes + 4 specials), got {t.vocab_size}",
        "use e.g. 8192",
    )
    positive(t, "tokenizer", "min_frequency")

    m = cfg.model
    positive(m, "model", "hidden_size", "num_hidden_layers", "num_heads", "chunk_size", "norm_eps")
    positive(m, "model", "intermediate_size", "value_dim", optional=True)
    if m.hidden_size > 0 and m.num_heads > 0:
        need(
            m.hidden_size % m.num_heads == 0,
            "model.hidden_size",
            f"{m.hidden_size} is not divisible by model.num_heads={m.num_heads}",
            "pick sizes with hidden_size % num_heads == 0",
        )
        if m.value_dim:
            need(
                m.value_dim % m.num_heads == 0,
                "model.value_dim",
                f"{m.value_dim} is not divisible by model.num_heads={m.num_heads}",
                "pick a multiple of num_heads",
            )
    need(0 <= m.dropout < 1, "model.dropout", f"must be in [0, 1), got {m.dropout}", "use e.g. 0.1")

    tr = cfg.train
    positive(
        tr,
        "train",
        "lr",
        "batch_size",
        "accumulate_grad_batches",
        "val_check_interval",
        "log_every_n_steps",
        "num_nodes",
        "limit_val_batches",
    )
    positive(tr, "train", "max_tokens", "max_epochs", "every_n_train_steps", "every_n_minutes", optional=True)
    non_negative(tr, "train", "weight_decay", "warmup_steps", "gradient_clip_val", "early_stopping_patience")
    need(
        len(tr.betas) == 2 and all(0 <= b < 1 for b in tr.betas),
        "train.betas",
        f"needs two values in [0, 1), got {tr.betas}",
        "e.g. [0.9, 0.95]",
    )
    need(
        0 <= tr.min_lr_ratio <= 1,
        "train.min_lr_ratio",
        f"must be in [0, 1], got {tr.min_lr_ratio}",
        "use e.g. 0.1",
    )
    need(
        tr.max_steps == -1 or tr.max_steps > 0,
        "train.max_steps",
        f"must be -1 (no limit) or > 0, got {tr.max_steps}",
        "use -1 or a step count",
    )
    need(
        tr.save_top_k >= -1, "train.save_top_k", f"must be >= -1, got {tr.save_top_k}", "-1 keeps all, 0 none"
    )

    e, g = cfg.eval, cfg.generate
    non_negative(e, "eval", "num_fewshot")
    positive(e, "eval", "batch_size")
    positive(e, "eval", "limit", "stride", optional=True)
    positive(g, "generate", "max_new_tokens", "temperature")
    positive(g, "generate", "top_k", optional=True)
    need(
        g.top_p is None or 0 < g.top_p <= 1,
        "generate.top_p",
        f"must be in (0, 1], got {g.top_p}",
        "use e.g. 0.9",
    )

    b = cfg.bench
    for n in ("contexts", "batch_sizes", "train_seq_lens"):
        v = getattr(b, n)
        need(
            bool(v) and all(x > 0 for x in v),
            f"bench.{n}",
            f"needs positive values, got {v}",
            "e.g. [256, 512]",
        )
    positive(b, "bench", "decode_steps", "train_steps")
    non_negative(b, "bench", "warmup_steps")

    s, fields = cfg.sweep, leaf_fields()
    for key, values in s.grid.items():
        if key not in fields:
            bad.append((f"sweep.grid.{key}", "is not a config field", suggest(key)))
        need(
            isinstance(values, list) and len(values) > 0,
            f"sweep.grid.{key}",
            "needs a non-empty list of values",
            "e.g. [1e-3, 5e-4]",
        )
    for a in s.compare:
        need(a in archs, "sweep.compare", f"unknown architecture {a!r}", f"use one of {', '.join(archs)}")
    need(bool(s.seeds), "sweep.seeds", "is empty", "e.g. [0, 1, 2]")
    positive(s, "sweep", "max_concurrent", "cpus_per_trial")
    non_negative(s, "sweep", "gpus_per_trial")

    # Hook: a section may define `problems() -> [(field, problem, fix)]` for checks of its own.
    for f in dataclasses.fields(cfg):
        hook = getattr(getattr(cfg, f.name), "problems", None)
        if callable(hook):
            bad += list(hook())
    return bad


def _mqar_problems(q: Any, seq_len: int, prefix: str) -> list[tuple[str, str, str]]:
    bad = []
    if not q.num_kv_pairs or min(q.num_kv_pairs) < 1:
        return [(f"{prefix}.num_kv_pairs", f"needs values >= 1, got {q.num_kv_pairs}", "e.g. [4, 8]")]
    for n in ("train_examples", "val_examples", "test_examples"):
        if getattr(q, n) < 1:
            bad.append((f"{prefix}.{n}", f"must be >= 1, got {getattr(q, n)}", "use a positive count"))
    if q.num_queries is not None and q.num_queries < 1:
        bad.append(
            (f"{prefix}.num_queries", f"must be >= 1, got {q.num_queries}", "or null for one per pair")
        )
    kv = max(q.num_kv_pairs)
    from ..data.mqar import NUM_SPECIAL

    if (q.vocab_size - NUM_SPECIAL) // 2 < kv:
        need = NUM_SPECIAL + 2 * kv
        bad.append(
            (f"{prefix}.vocab_size", f"{q.vocab_size} is too small for {kv} distinct keys", f"use >= {need}")
        )
    queries = q.num_queries or kv
    slots = (seq_len + 1 - 2 * kv) // 2
    if queries > max(slots, 0):
        bad.append(
            (
                "data.seq_len",
                f"{seq_len} is too short for {kv} key-value pairs and {queries} queries",
                f"use >= {2 * kv + 2 * queries}",
            )
        )
    return bad


def validate(cfg: RetlabConfig) -> RetlabConfig:
    """Check every range and cross-field rule; report all problems at once in one ConfigError line."""
    bad = _problems(cfg)
    if len(bad) == 1:
        raise ConfigError(*bad[0])
    if bad:
        parts = [f"{f}: {p} ({fix})" for f, p, fix in bad]
        raise ConfigError("", f"{len(bad)} problems: " + "; ".join(parts))
    return cfg


# ---------------------------------------------------------------- writing


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None, allow_unicode=True)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically."""
    return atomic_write_text(path, dump_yaml(cfg))


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _template_lines(obj: Any, indent: str = "") -> list[str]:
    docs = field_docs(type(obj))
    lines = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        for doc_line in docs.get(f.name, "").splitlines():
            lines.append(f"{indent}# {doc_line}".rstrip())
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{f.name}:")
            lines += _template_lines(value, indent + "  ")
        else:
            lines.append(f"{indent}{f.name}: {_yaml_value(value)}")
        if not indent:
            lines.append("")
    return lines


def template_yaml() -> str:
    """configs/template.yaml: every field with its default, commented with its docstring."""
    head = [
        "# retlab config template: every field, its default and what it means.",
        "# Generated from the dataclasses in src/retlab/config/ by retlab.config.loader.template_yaml();",
        "# regenerate it rather than editing by hand. Copy the fields you need into your own config.",
        "",
    ]
    return "\n".join(head + _template_lines(RetlabConfig())).rstrip() + "\n"


if (
    __name__ == "__main__"
):  # `python -m retlab.config.loader > configs/template.yaml` regenerates the template
    print(template_yaml(), end="")
