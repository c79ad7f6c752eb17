"""Load, check, save and document retlab configs: this module parses, merges and reports; each config section
checks its own fields (`problems()`), and `schema` knows the fields.

Precedence: dataclass defaults (or a `base` config) < YAML files, merged in order < overrides (a dict of dotted
keys, or CLI-style `--train.lr 3e-4`, where `--compare+ gla` appends to a list). Relative paths in a file are
relative to its folder, on the command line to the current directory (`retlab.paths`). Every problem with user input becomes one `ConfigError` line that names the field and the fix.

Values are typed once, by jsonargparse over the dataclasses, for every way a config is made: the CLI, YAML files,
dict overrides, and each sweep point (`load_config(base=..., overrides=point)`)."""

import dataclasses
import json
import operator
import re
import typing
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .. import paths
from ..errors import ConfigError, first_line
from ..layout import RunLayout
from ..utils.files import atomic_write_text
from . import RetlabConfig
from .schema import (  # noqa: F401  (field_docs, ORIGINAL_STUDY_KEYS, template_yaml: re-exported)
    ORIGINAL_STUDY_KEYS,
    all_keys,
    block_yaml,
    commented_lines,
    describe_type,
    field_docs,
    hints,
    is_section,
    leaf_fields,
    path_fields,
    suggest,
    template_yaml,
)

# ---------------------------------------------------------------- reading input


def read_yaml(path: str | Path) -> dict:
    """The YAML mapping in `path`; missing files and syntax errors become one-line ConfigErrors."""
    path = Path(path)
    fix = "give a YAML file; configs/ has examples"
    if path.is_dir():
        raise ConfigError("--config", f"'{path}' is a directory, not a file", fix)
    if not path.is_file():
        raise ConfigError("--config", f"file '{path}' not found", "check the path; configs/ has examples")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise ConfigError("--config", f"cannot read '{path}': {e.strerror or first_line(e)}", fix) from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            "--config", f"'{path}' is not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x})", fix
        ) from None
    try:
        data = yaml.safe_load(text)
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
    fields = hints(cls)
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(dotted, "unknown key", suggest(dotted))
        if is_section(fields[key]):
            if value is None:
                continue
            if not isinstance(value, dict):
                example = next(iter(field_docs(fields[key])))
                raise ConfigError(
                    dotted,
                    "is a section, not a value",
                    f"indent its fields below it, e.g. `{key}:` then `  {example}: ...`",
                )
            check_keys(value, fields[key], dotted + ".")


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


def _map_paths(data: dict, fn, prefix: str = "") -> None:
    """Apply `fn(value, kind)` to every path given in the nested dict `data` (lists item by item)."""
    fields = path_fields()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in fields:
            _map_paths(value, fn, dotted + ".")
        elif dotted in fields and isinstance(value, str):
            data[key] = fn(value, fields[dotted])
        elif dotted in fields and isinstance(value, list):
            data[key] = [fn(v, fields[dotted]) if isinstance(v, str) else v for v in value]


def read_config_file(path: str | Path) -> dict:
    """A config file's values, keys checked, with its relative paths made relative to its folder."""
    data = read_yaml(path)
    check_keys(data)
    _wrap_scalars(data)
    folder = Path(path).parent
    _map_paths(data, lambda value, kind: paths.resolve_in(value, folder, kind))
    return data


def set_dotted(data: dict, key: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts; a mapping given for a section is merged into it, not swapped for it."""
    *parents, leaf = key.split(".")
    nested = {leaf: value}
    for parent in reversed(parents):
        nested = {parent: nested}
    merge(data, nested)


def merge(data: dict, new: dict, prefix: str = "") -> None:
    """Merge the nested dict `new` into `data`: sections merge key by key, a field's value replaces the old one."""
    fields = leaf_fields()
    for key, value in new.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in fields:
            if not isinstance(data.get(key), dict):
                data[key] = {}
            merge(data[key], value, dotted + ".")
        else:
            data[key] = value


def _flags(args: list[str]) -> list[str]:
    return [a[2:] for a in args if a.startswith("--")]


def _listify(args: list[str]) -> list[str]:
    """`--data.path a.txt,b.txt` -> `--data.path ["a.txt", "b.txt"]` for list fields given without brackets
    (`--compare+ gla` too). `--key=value` is split into `--key value` first."""
    fields, out = leaf_fields(), []
    for arg in args:
        out += arg.split("=", 1) if arg.startswith("--") and "=" in arg else [arg]
    for i, arg in enumerate(out[:-1]):
        key = arg[2:].removesuffix("+") if arg.startswith("--") else None
        value = out[i + 1]
        if key in fields and typing.get_origin(fields[key]) is list and not value.lstrip().startswith("["):
            out[i + 1] = json.dumps([v.strip() for v in value.split(",")])
    return out


def check_cli_args(args: list[str]) -> None:
    valid, fields = all_keys(), leaf_fields()
    for key in _flags(args):
        if key.endswith("+"):
            tp = fields.get(key[:-1])
            if tp is None or typing.get_origin(tp) is not list:
                what = "not a list field" if key[:-1] in valid else "unknown option"
                raise ConfigError(f"--{key}", f"{what}: `+` appends to a list", suggest(key[:-1], flag=True))
        elif key not in valid:
            raise ConfigError(f"--{key}", "unknown option", suggest(key, flag=True))


def _chunks(cli: list[str]) -> list[tuple[str | None, list[str]]]:
    """`--key value` pairs in order, cut at each `--key+ value`: [(None, plain pairs), (key, [value]), ...]."""
    chunks: list[tuple[str | None, list[str]]] = [(None, [])]
    for flag, value in zip(cli[::2], cli[1::2], strict=False):
        if flag.endswith("+"):
            chunks += [(flag[2:-1], [value]), (None, [])]
        else:
            chunks[-1][1].extend([flag, value])
    if len(cli) % 2:  # a flag without its value: jsonargparse words the error
        chunks[-1][1].append(cli[-1])
    return [c for c in chunks if c[0] or c[1]]


def _get(data: dict, key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


def apply_cli(given: dict, cli: list[str], base: RetlabConfig | None) -> dict:
    """The typed values of `given` (nested) updated by `cli` in order: `--key value` replaces, `--key+ value`
    appends to the value so far (the files', else the base's or default)."""
    for key, args in _chunks(cli):
        if key is None:
            merge(given, parse({}, args, "command line"))
            continue
        try:
            current = list(_get(given, key))
        except KeyError:
            current = list(operator.attrgetter(key)(base if base is not None else RetlabConfig()))
        set_dotted(given, key, current + _get(parse({}, [f"--{key}", *args], "command line"), key))
    return given


# ---------------------------------------------------------------- parsing


@cache
def config_parser():
    """jsonargparse parser over every config field: it types the values (the help text is `cli.command_help`'s,
    from the same docstrings)."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog="retlab", exit_on_error=False, default_env=False)
    parser.add_class_arguments(RetlabConfig, nested_key=None, as_group=False)
    return parser


def parse(data: dict, cli: list[str], where: str = "config") -> dict:
    """The values given in `data` (nested) and `cli` (`--key value` pairs), typed by their fields: only those
    given come back (defaults are the dataclasses'), so typing a few overrides costs little."""
    from jsonargparse import ArgumentError

    parser = config_parser()
    try:
        ns = parser.parse_object(data, defaults=False)
        if cli:
            ns = parser.parse_args(cli, namespace=ns, defaults=False)
    except ArgumentError as e:
        raise _condense(e) from None
    except (TypeError, AttributeError, ValueError) as e:  # values jsonargparse could not even inspect
        raise ConfigError(
            where, f"invalid value ({first_line(e)})", "compare with configs/template.yaml"
        ) from None
    return ns.as_dict()


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
        return ConfigError(field, got, f"expected {expected}")
    unknown = re.search(r"unrecognized arguments: (\S+)", msg)
    if unknown:
        flag = unknown.group(1)
        return ConfigError(flag, "unknown option", suggest(flag.lstrip("-"), flag=True))
    return ConfigError("", msg.strip().splitlines()[0], "see `retlab <command> --help`")


def from_dict(cls: type, data: dict) -> Any:
    """Build the dataclass `cls` (sections recursively) from a plain nested dict; missing fields keep defaults."""
    fields = hints(cls)
    kwargs = {}
    for name, tp in fields.items():
        if name in data:
            kwargs[name] = from_dict(tp, data[name] or {}) if is_section(tp) else data[name]
    return cls(**kwargs)


def load_config(
    path: str | Path | list[str | Path] | tuple[str | Path, ...] | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    check: bool = True,
    base: RetlabConfig | None = None,
) -> RetlabConfig:
    """The defaults, or `base`, then the YAML file(s) at `path` merged in order, then `overrides` (dotted dict or
    CLI-style list); validated unless `check` is False."""
    files = [] if path is None else [path] if isinstance(path, str | Path) else list(path)
    data: dict = {}
    for file in files:
        merge(data, read_config_file(file))
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
    given = apply_cli(parse(data, [], str(files[-1]) if files else "config"), cli, base)
    _map_paths(given, lambda value, _: paths.expand(value))
    merged = config_to_dict(base) if base is not None else {}
    merge(merged, given)
    cfg = from_dict(RetlabConfig, merged)
    return validate(cfg) if check else cfg


# ---------------------------------------------------------------- validation


def _null_problems(cfg: RetlabConfig) -> list[tuple[str, str, str]]:
    """Fields set to null that do not allow it (jsonargparse lets null through for any type)."""
    bad = []
    for key, tp in leaf_fields().items():
        if operator.attrgetter(key)(cfg) is None and type(None) not in typing.get_args(tp):
            bad.append((key, "is null", f"set it to {describe_type(tp)} or leave it out for the default"))
    return bad


def validate(cfg: RetlabConfig) -> RetlabConfig:
    """Report every problem of `cfg` at once in one ConfigError line: nulls where a field allows none, else every
    section's own `problems()` (their range checks assume values of the declared types)."""
    bad = _null_problems(cfg) or cfg.problems()
    if len(bad) == 1:
        raise ConfigError(*bad[0])
    if bad:
        parts = [f"{f}: {p} ({fix})" if fix else f"{f}: {p}" for f, p, fix in bad]
        raise ConfigError("", f"{len(bad)} problems: " + "; ".join(parts))
    return cfg


# ---------------------------------------------------------------- writing


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def with_absolute_paths(cfg: RetlabConfig) -> RetlabConfig:
    """A copy whose relative paths are made absolute against the current directory (names such as Hub ids and
    `auto` stay), so that it means the same read from anywhere: printed, saved, or handed to a Ray worker."""
    data = config_to_dict(cfg)
    _map_paths(data, paths.absolute)
    return from_dict(type(cfg), data)


def dump_yaml(cfg: RetlabConfig, comments: bool = False) -> str:
    """The config as block-style YAML with absolute paths (what --print_config prints and runs save), with each
    field's docstring above it when `comments`."""
    cfg = with_absolute_paths(cfg)
    return "\n".join(commented_lines(cfg)).rstrip() + "\n" if comments else block_yaml(config_to_dict(cfg))


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically."""
    return atomic_write_text(path, dump_yaml(cfg))


def save_run_config(cfg: RetlabConfig, stage: str | None = None) -> Path:
    """Record the config a run ran with: the one writer of `runs/<name>/config.yaml`, or with `stage` of
    `runs/<name>/<stage>/config.yaml` (eval and bench keep theirs beside their results)."""
    layout = RunLayout.of(cfg)
    return save_config(cfg, layout.config if stage is None else layout.root / stage / "config.yaml")


if (
    __name__ == "__main__"
):  # `python -m retlab.config.loader > configs/template.yaml` regenerates the template
    print(template_yaml(), end="")
