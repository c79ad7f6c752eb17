"""What the benchmark scripts share: their config, read by retlab's own loader, so a script takes exactly the
flags `retlab bench` takes (`-c/--config FILE`, `--section.field VALUE`, `--force`), plus `--quick`.

Precedence: the script's defaults < its `--quick` settings (when given) < the `--config` file < the flags."""

import sys

from ..cli import parse_invocation
from ..config import RetlabConfig
from ..config.loader import load_config
from ..errors import RetlabError


def script_config(argv: list[str], defaults: dict, quick: dict, doc: str) -> RetlabConfig:
    """The config a benchmark script runs with; `--help` prints the script's docstring `doc`. (The benchmark
    applies `num_threads`.)"""
    args = list(argv)
    if "-h" in args or "--help" in args:
        print(doc.strip() + "\n\nEvery config field is a flag: `retlab bench train --help` lists them.")
        raise SystemExit(0)
    base = dict(defaults)
    if "--quick" in args:
        args.remove("--quick")
        base |= quick
    inv = parse_invocation("script", args)  # the command line's own parsing: -c/--config (repeatable), `+`
    return load_config(inv.configs or None, inv.overrides, base=load_config(None, base, check=False))


def pop_flag(argv: list[str], flag: str) -> bool:
    """Whether `flag` (e.g. `--force`) is in `argv`, removing it."""
    found = flag in argv
    while flag in argv:
        argv.remove(flag)
    return found


def pop_option(argv: list[str], name: str) -> str | None:
    """The value of `name VALUE` in `argv` (None when absent), removing both."""
    if name not in argv:
        return None
    at = argv.index(name)
    if at + 1 >= len(argv):
        raise RetlabError(f"{name}: needs a value")
    value = argv.pop(at + 1)
    argv.pop(at)
    return value


def run_script(main) -> None:
    """`sys.exit(main(argv))` with retlab's one-line errors (exit code 2), as the CLI prints them."""
    try:
        sys.exit(main(sys.argv[1:]))
    except RetlabError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
