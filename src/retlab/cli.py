"""`retlab`: a thin command line over the stage functions. Parses the config, saves it, dispatches.

It follows LightningCLI's conventions: `-c/--config FILE` (repeatable, merged in order), `--section.field VALUE`
overrides, `--field+ VALUE` appends to a list, `--print_config[=comments]` prints the resolved config as
block-style YAML, and `retlab <command> --help` lists the config sections that command reads.

Stage modules (and with them torch, transformers and Lightning) are imported only when their command runs, so
`--help` and `--print_config` are instant and a missing optional dependency is reported for the one command that
needs it."""

import difflib
import json
import signal
import sys
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from .errors import RetlabError

USAGE = "retlab <command> [-c FILE ...] [--section.field VALUE ...] [--print_config] [--check] [--force]"

# Top-level fields every command reads; the commands' `reads` add sections (or other top-level fields).
COMMON = ("name", "output_dir", "seed", "num_threads")


@dataclass(frozen=True)
class Command:
    target: str
    """`module:function` called with the resolved config."""
    help: str
    call: str = "force"
    """How the target is called: `force` fn(cfg, force=...), `plain` fn(cfg), `runs` fn(cfg, runs)."""
    saves: str | None = "run"
    """Where the resolved config is saved once the command succeeded: `run` (runs/<name>/config.yaml), a run
    subfolder, or nowhere (the stage saves it itself, or writes nothing)."""
    check: str | None = None
    """`module:function(cfg)` that checks everything the command will read before it writes (for --check; the
    stage runs the same checks itself)."""
    reads: tuple[str, ...] = COMMON
    """The config sections and top-level fields the command reads: the ones its `--help` lists."""


COMMANDS: dict[str, Command] = {
    "data download": Command(
        "retlab.data.download:download",
        "Fetch the dataset (Hub or local files) into train/validation/test (streaming: validation, test).",
        check="retlab.data.preflight:check_corpus",
        reads=COMMON + ("data",),
    ),
    "data tokenizer": Command(
        "retlab.data.tokenizer:train_tokenizer",
        "Train the byte-level BPE on the train split (or copy in tokenizer.path).",
        check="retlab.data.preflight:check_corpus",
        reads=COMMON + ("data", "tokenizer"),
    ),
    "data tokenize": Command(
        "retlab.data.tokenize:tokenize",
        "Tokenize and pack every split into blocks of seq_len + 1 (MQAR: generate it).",
        check="retlab.data.preflight:check_corpus",
        reads=COMMON + ("data", "tokenizer"),
    ),
    "train": Command(
        "retlab.training.train:train",
        "Train one architecture (model.arch) and test its best checkpoint.",
        check="retlab.training.train:preflight",
        reads=COMMON + ("compare", "data", "tokenizer", "model", "train"),
    ),
    "run": Command(
        "retlab.pipeline:run",
        "Everything: data, train each architecture in `compare`, evaluate, report.",
        saves=None,
        check="retlab.pipeline:preflight",
        reads=COMMON + ("compare", "data", "tokenizer", "model", "train", "eval", "generate", "bench"),
    ),
    "eval": Command(
        "retlab.evaluation.evaluate:evaluate",
        "Perplexity, lm-eval tasks and MQAR accuracy of trained models.",
        saves="eval",
        check="retlab.evaluation.evaluate:preflight",
        reads=COMMON + ("compare", "data", "tokenizer", "eval", "generate"),
    ),
    "generate": Command(
        "retlab.evaluation.generate:generate",
        "Continue prompts with a trained model (--prompt TEXT, repeatable).",
        "plain",
        None,
        check="retlab.evaluation.generate:preflight",
        reads=COMMON + ("compare", "generate"),
    ),
    "bench infer": Command(
        "retlab.bench.infer:bench_infer",
        "Decoding speed and memory versus context: RetNet, Transformer with dynamic and static KV cache.",
        saves="bench",
        reads=COMMON + ("compare", "data", "tokenizer", "model", "bench"),
    ),
    "bench train": Command(
        "retlab.bench.train:bench_train",
        "Training-step speed and memory versus sequence length.",
        saves="bench",
        reads=COMMON + ("compare", "data", "tokenizer", "model", "bench"),
    ),
    "report": Command(
        "retlab.report.report:build_report",
        "HTML and Markdown report comparing runs: retlab report RUN [RUN ...].",
        "runs",
        None,
        reads=(),
    ),
    "sweep": Command(
        "retlab.sweep.run:sweep",
        "Grid search over any config fields (Ray Tune or sequential).",
        "force",
        None,
        check="retlab.sweep.run:preflight",
        reads=COMMON + ("compare", "data", "tokenizer", "model", "train", "eval", "sweep"),
    ),
    "scaling": Command(
        "retlab.scaling.run:scaling",
        "Train every architecture at several sizes, fit scaling laws, predict the loss at target sizes.",
        saves=None,  # it saves the config itself when the study has finished
        check="retlab.scaling.run:preflight",
        reads=COMMON + ("compare", "data", "tokenizer", "model", "train", "eval", "sweep", "scaling"),
    ),
}
GROUPS = {name.split()[0] for name in COMMANDS if " " in name}  # data, bench


OPTIONS = (  # (flag, help) of the options every command takes, as both help texts show them
    (
        "-c, --config FILE",
        "YAML config (configs/template.yaml has every field); repeatable: later files merge "
        "over earlier ones; its relative paths are relative to its folder",
    ),
    ("--section.field VALUE", "override one field, e.g. --train.lr 3e-4 (beats the config files)"),
    ("--section.field+ VALUE", "append to a list field, e.g. --compare+ transformer"),
    (
        "--print_config[=comments]",
        "print the resolved config (block-style YAML; with each field's meaning as comments) and exit",
    ),
    ("--check", "check the config and every input the command would use; write nothing"),
    ("--force", "rerun stages that are up to date"),
)


def _option_line(flag: str, text: str, width: int = 28) -> str:
    """`  flag   text`, the text wrapped to 100 columns under itself."""
    import textwrap

    lines = textwrap.wrap(text, 100 - width)
    head = f"  {flag}".ljust(width) if len(flag) + 3 <= width else f"  {flag}\n" + " " * width
    return head + ("\n" + " " * width).join(lines)


def top_help() -> str:
    width = max(len(name) for name in COMMANDS) + 2
    lines = [
        f"usage: {USAGE}",
        "",
        "Train, evaluate and compare Retentive Networks and Transformers as language models from one YAML config.",
        "",
        "commands:",
        *(f"  {name:<{width}}{c.help}" for name, c in COMMANDS.items()),
        "",
        "options of every command:",
        *(_option_line(flag, text) for flag, text in OPTIONS),
        "",
        "`retlab <command> --help` lists the config fields the command reads, with their meaning.",
    ]
    return "\n".join(lines)


def _command_name(argv: list[str]) -> tuple[str, list[str]]:
    first = argv[0]
    name = f"{first} {argv[1]}" if first in GROUPS and len(argv) > 1 else first
    if name in COMMANDS:
        return name, argv[len(name.split()) :]
    if first in GROUPS:
        subs = [n.split()[1] for n in COMMANDS if n.startswith(first + " ")]
        raise RetlabError(f"`retlab {first}` needs a subcommand: {', '.join(subs)}")
    close = difflib.get_close_matches(first, [n.split()[0] for n in COMMANDS], n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise RetlabError(f"unknown command '{first}'{hint}; `retlab --help` lists the commands")


@dataclass
class Invocation:
    configs: list[str] = field(default_factory=list)
    print_config: str | None = None
    """None, "" (plain YAML) or "comments"."""
    check: bool = False
    force: bool = False
    help: bool = False
    prompts: list[str] | None = None
    positionals: list[str] | None = None
    overrides: list[str] | None = None


def parse_invocation(name: str, args: list[str]) -> Invocation:
    """Split the arguments of a command into its own options, positionals and `--section.field value` overrides."""
    inv = Invocation(positionals=[], overrides=[])
    i = 0
    while i < len(args):
        arg = args[i]
        key, eq, inline = arg.partition("=")
        if arg in ("-h", "--help"):
            inv.help = True
        elif key in ("--print_config", "--print-config"):
            if inline not in ("", "comments"):
                raise RetlabError(f"{key}: unknown variant '{inline}' (use {key} or {key}=comments)")
            inv.print_config = inline
        elif arg == "--force":
            inv.force = True
        elif arg == "--check":
            inv.check = True
        elif key.startswith("--") or key == "-c":  # --config, --prompt or an override
            if not eq:
                if i + 1 >= len(args) or args[i + 1].startswith("--"):
                    raise RetlabError(f"{key}: needs a value (e.g. {key} VALUE)")
                i += 1
                inline = args[i]
            if key in ("-c", "--config"):
                inv.configs.append(inline)
            elif key == "--prompt" and name == "generate":
                inv.prompts = (inv.prompts or []) + [inline]
            else:
                inv.overrides += [key, inline]
        elif name == "report":
            inv.positionals.append(arg)
        else:
            raise RetlabError(f"unexpected argument '{arg}' (options look like --train.lr 3e-4)")
        i += 1
    return inv


def command_help(name: str) -> str:
    """`retlab <command> --help`: the command's options, then the config fields it reads, one group per section,
    each with its docstring, type and default (argparse's layout; no jsonargparse, so it is instant)."""
    import argparse

    from .config import RetlabConfig
    from .config.schema import field_docs, hints, is_section

    cmd = COMMANDS[name]
    runs = " RUN [RUN ...]" if name == "report" else ""
    parser = argparse.ArgumentParser(
        prog=f"retlab {name}",
        usage=f"retlab {name}{runs}" + (" [-c FILE ...] [--section.field VALUE ...]" if cmd.reads else ""),
        description=cmd.help,
        add_help=False,
    )
    options = parser.add_argument_group("options")
    options.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    for flag, text in OPTIONS if cmd.reads else ():  # report reads run folders, no config
        flags, _, metavar = flag.partition(" ")
        if flags.endswith("]"):  # --print_config[=comments]
            flags, _, variant = flags[:-1].partition("[=")
            options.add_argument(flags, nargs="?", metavar=variant, help=text)
        elif metavar:
            options.add_argument(*flags.split(", "), metavar=metavar, help=text)
        else:
            options.add_argument(flags, action="store_true", help=text)
    if name == "generate":
        options.add_argument(
            "--prompt", metavar="TEXT", help="a prompt (repeatable); replaces generate.prompts"
        )
    defaults, docs = RetlabConfig(), field_docs(RetlabConfig)
    top = [n for n in cmd.reads if not is_section(hints(RetlabConfig)[n])]
    if top:
        _add_fields(parser.add_argument_group("run"), RetlabConfig, defaults, "", top)
    for section in (n for n in cmd.reads if n not in top):
        group = parser.add_argument_group(section, docs.get(section))
        _add_fields(group, hints(RetlabConfig)[section], getattr(defaults, section), f"{section}.")
    return parser.format_help()


def _add_fields(group, cls, defaults, prefix: str, only: list[str] | None = None) -> None:
    """One `--prefix.field` per field of the dataclass `cls` (nested sections flattened), help from its docstring."""
    from .config.schema import describe_type, field_docs, hints, is_section

    docs = field_docs(cls)
    for fname, tp in hints(cls).items():
        if only is not None and fname not in only:
            continue
        if is_section(tp):
            _add_fields(group, tp, getattr(defaults, fname), f"{prefix}{fname}.")
            continue
        default = getattr(defaults, fname)
        plus = "; --field+ appends" if describe_type(tp).startswith("a list") else ""
        text = f"{docs.get(fname, '')} (type: {describe_type(tp)}; default: {default!r}{plus})"
        group.add_argument(f"--{prefix}{fname}", metavar=fname.upper(), help=text.replace("%", "%%"))


def resolve_target(name: str, target: str | None = None):
    """Import `module:function` of a command (its target, or `target`), turning a missing module into a
    one-line error."""
    module, func = (target or COMMANDS[name].target).split(":")
    try:
        return getattr(import_module(module), func)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            raise RetlabError(
                f"`retlab {name}` is not available in this installation ({module} is missing)"
            ) from None
        raise RetlabError(f"`retlab {name}` needs the package '{e.name}', which is not installed") from None


def save_resolved(name: str, cfg) -> Path | None:
    """Record the config a command ran with in the run folder (eval and bench keep theirs beside their
    results). Called once the command has succeeded: a failed command leaves config.yaml as it was."""
    from .config.loader import save_run_config

    where = COMMANDS[name].saves
    if where is None:
        return None
    return save_run_config(cfg, None if where == "run" else where)


def run_command(name: str, args: list[str]) -> int:
    inv = parse_invocation(name, args)
    if inv.help:
        print(command_help(name))
        return 0
    if not COMMANDS[name].reads:
        reject_config(name, inv)
    from .config.loader import dump_yaml, load_config

    overrides = list(inv.overrides)
    if inv.prompts:
        overrides += ["--generate.prompts", json.dumps(inv.prompts)]
    cfg = load_config(inv.configs, overrides)
    if inv.print_config is not None:
        print(dump_yaml(cfg, comments=inv.print_config == "comments"), end="")
        return 0
    if name == "report" and not inv.positionals:
        raise RetlabError("report: needs one or more run folders (retlab report runs/a runs/b)")
    if name not in ("generate", "report"):  # the commands that write into the run folder
        from .preflight import check_output_dir

        check_output_dir(cfg)
    if inv.check:
        if COMMANDS[name].check:
            resolve_target(name, COMMANDS[name].check)(cfg)
        print(f"retlab {name}: config and inputs check out (nothing was written)")
        return 0
    quiet_library_progress()
    if cfg.num_threads:
        from .utils.device import use_threads

        use_threads(cfg.num_threads)
    fn = resolve_target(name)
    call = COMMANDS[name].call
    if call == "runs":
        fn(cfg, inv.positionals)
    elif call == "plain":
        fn(cfg)
    else:
        fn(cfg, force=inv.force)
    save_resolved(name, cfg)
    return 0


def reject_config(name: str, inv: Invocation) -> None:
    """A command that reads no config (report: it reads run folders) refuses config files and fields rather
    than ignore them silently."""
    given = inv.configs and "-c/--config" or inv.overrides and inv.overrides[0]
    given = given or (inv.print_config is not None and "--print_config")
    if given:
        raise RetlabError(
            f"{name}: takes no config ({given}); it reads run folders: retlab {name} RUN [RUN ...]"
        )


def quiet_library_progress() -> None:
    """transformers draws a progress bar for every one-file save and load; retlab's own stages report progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(top_help())
        return 0 if argv else 2
    if argv[0] == "--version":
        from . import __version__

        print(f"retlab {__version__}")
        return 0
    try:
        name, rest = _command_name(argv)
        return run_command(name, rest)
    except RetlabError as e:
        print(f"retlab: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except MemoryError as e:  # sizes far beyond this machine, not caught by a check of their own
        print(
            f"retlab: error: out of memory ({e or 'allocation failed'}); use smaller sizes", file=sys.stderr
        )
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("retlab: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except SystemExit as e:
        if type(e).__name__ != "SIGTERMException" and e.code != signal.SIGTERM:
            raise
        # Lightning turns SIGTERM into a SystemExit without a code (exit 0): a killed run must not look finished.
        # Ray's driver handler, once Ray has started in this process, exits with the signal's number instead.
        print(
            "retlab: terminated (SIGTERM); the same command resumes from the last checkpoint", file=sys.stderr
        )
        raise SystemExit(128 + signal.SIGTERM) from None


if __name__ == "__main__":
    sys.exit(main())
