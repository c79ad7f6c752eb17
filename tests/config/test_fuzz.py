"""Fuzzing the config path: random mutations of every shipped config and random command-line overrides (wrong
types, huge, negative and zero numbers, unicode, raw bytes, missing and mangled sections). Whatever the input,
`retlab <command> --check` ends with exit 0, or exit 2 and at most three lines that name the field or file, never a
traceback; it validates and writes nothing, so each example takes milliseconds in-process."""

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retlab import cli
from retlab.config.loader import all_keys, leaf_fields

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
SHIPPED = {p.name: yaml.safe_load(p.read_text()) for p in CONFIGS}
KEYS = sorted(leaf_fields())
SECTIONS = sorted(k for k in all_keys() if k not in leaf_fields())
FLAGS = ["--config", "--print_config", "--force", "--prompt"]
COMMANDS = ["train", "run", "eval", "generate", "sweep", "scaling", "data download", "bench infer", "report"]

NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2, -(10**30), 10**30, 2**63, 0.5, -0.0, 1e308, float("inf"), float("nan")]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "auto", "gpu", "cpuu", "1,2", "-1", "0", "1e9", "null", "[1,", "{a: 1}", "é∂\u200b"]
    ),
    st.sampled_from(KEYS),
)
SCALARS = st.one_of(NUMBERS, TEXT, st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=6,
)


def _set(data: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        if not isinstance(data.get(p), dict):
            data[p] = {}
        data = data[p]
    data[leaf] = value


def _delete(data: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        data = data.get(p)
        if not isinstance(data, dict):
            return
    data.pop(leaf, None)


MUTATION = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(KEYS + SECTIONS), VALUES),
    st.tuples(st.just("set"), st.text(max_size=10), VALUES),  # unknown (possibly empty or odd) keys
    st.tuples(st.just("delete"), st.sampled_from(KEYS + SECTIONS), st.none()),
)


@st.composite
def config_file(draw) -> bytes:
    """A shipped config, mutated, serialised; sometimes with raw bytes spliced into the text."""
    data = yaml.safe_load(yaml.safe_dump(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))]))
    for op, key, value in draw(st.lists(MUTATION, max_size=4)):
        if op == "set" and key:
            _set(data, key, value)
        elif op == "delete":
            _delete(data, key)
    text = yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    if draw(st.integers(0, 20)) == 0:
        text = draw(
            st.sampled_from([b"", b"\x00\x01\xff\xfe", b"- a\n- b\n", b"42\n", b"\xef\xbb\xbfseed: 1\n"])
        )
    return text


def _value_text(v) -> str:
    return v if isinstance(v, str) else yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...")


OVERRIDE = st.one_of(
    st.tuples(st.sampled_from(KEYS + SECTIONS).map(lambda k: f"--{k}"), VALUES.map(_value_text)),
    st.tuples(st.sampled_from(FLAGS) | st.text(max_size=8).map(lambda t: f"--{t}"), TEXT),
)


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    command=st.sampled_from(COMMANDS),
    text=st.none() | config_file(),
    overrides=st.lists(OVERRIDE, max_size=3),
    print_config=st.booleans(),
)
def test_any_config_ends_in_exit_0_or_a_short_error(command, text, overrides, print_config):
    with tempfile.TemporaryDirectory() as tmp:
        argv = command.split() + ["--output_dir", str(Path(tmp) / "runs")]
        if text is not None:
            (Path(tmp) / "c.yaml").write_bytes(text)
            argv += ["--config", str(Path(tmp) / "c.yaml")]
        for flag, value in overrides:
            argv += [flag, value]
        argv.append("--print_config" if print_config else "--check")
        code, out, err = _main(argv)
        assert code in (0, 2), (argv, code, err[-2000:])
        assert "Traceback" not in out + err, (argv, err[-2000:])
        if code == 2:
            lines = err.strip().splitlines()
            assert 1 <= len(lines) <= 3 and lines[0].startswith("retlab: error: "), (argv, err)
        assert not (Path(tmp) / "runs").exists(), "validation must write nothing"
