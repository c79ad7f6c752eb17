"""Reading the report back: its Markdown and HTML tables by section, and each formatted cell as numbers (value,
spread or stderr, in base units: bytes, seconds, fractions), so tests compare what is shown with the files it came
from, to the precision shown."""

import math
import re
from html.parser import HTMLParser

UNITS = {
    "": 1.0,
    "%": 0.01,
    "x": 1.0,
    "B": 1.0,
    "KiB": 2.0**10,
    "MiB": 2.0**20,
    "GiB": 2.0**30,
    "ms": 1e-3,
    "s": 1.0,
    "tokens/s": 1.0,
    "FLOP/s": 1.0,
    "kFLOP/s": 1e3,
    "MFLOP/s": 1e6,
    "GFLOP/s": 1e9,
    "TFLOP/s": 1e12,
}
NUMBER = r"[-+]?\d[\d,]*(?:\.\d+)?"
UNIT = r"%|x|B|KiB|MiB|GiB|ms|s|tokens/s|[kMGT]?FLOP/s"


def sections(markdown: str) -> dict[str, str]:
    """`## title` -> its text."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def md_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in `text`: rows of cells (header first, the alignment row left out), backslash
    escapes undone (as the HTML shows them)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [re.sub(r"\\(.)", r"\1", c.strip()) for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r"-*:?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def keyed(table: list[list[str]]) -> dict[str, dict[str, str]]:
    """{first cell of a row: {column header: cell}}."""
    header = table[0]
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in table[1:]}


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(" ".join(self._cell.split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def html_tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _number(text: str, unit: str) -> tuple[float, float]:
    """(value, half of the last shown digit), in base units."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    scale = UNITS[unit]
    return float(text.replace(",", "")) * scale, 0.5 * 10.0**-decimals * scale


def parse(cell: str) -> dict:
    """A formatted cell as numbers: {"value", "tol"} plus {"q1", "q3"} (a spread) or {"stderr"} (a score)."""
    m = re.fullmatch(
        rf"({NUMBER})\s?({UNIT})? \[({NUMBER})\s?({UNIT})?–({NUMBER})\s?({UNIT})?\]\s?({UNIT})?", cell
    )
    if m:
        median, u1, q1, u2, q3, u3, unit = m.groups()
        out = dict(zip(("value", "tol"), _number(median, u1 or unit or ""), strict=True))
        out |= dict(zip(("q1", "q1_tol"), _number(q1, u2 or unit or ""), strict=True))
        return out | dict(zip(("q3", "q3_tol"), _number(q3, u3 or unit or ""), strict=True))
    m = re.fullmatch(rf"({NUMBER})\s?({UNIT})?(?: ± ({NUMBER})\s?({UNIT})?)?", cell)
    if not m:
        raise ValueError(f"not a formatted number: {cell!r}")
    value, unit, stderr, stderr_unit = m.groups()
    out = dict(zip(("value", "tol"), _number(value, unit or ""), strict=True))
    if stderr is not None:
        out["stderr"], out["stderr_tol"] = _number(stderr, stderr_unit or "")
    return out


def shows(cell: str, expected, scale: float = 1.0) -> bool:
    """Whether `cell` shows `expected` (a number, a {"median", "q1", "q3"} spread or a {"value", "stderr"} score,
    times `scale` into base units) to the precision it is shown with."""
    got = parse(cell)

    def near(a: float, b: float, tol: float) -> bool:
        return math.isclose(a, b, abs_tol=tol * 1.0001 + 1e-12)

    if isinstance(expected, dict) and "median" in expected:
        return all(
            near(got[k], expected[s] * scale, got[t])
            for k, s, t in (("value", "median", "tol"), ("q1", "q1", "q1_tol"), ("q3", "q3", "q3_tol"))
        )
    if isinstance(expected, dict):
        ok = near(got["value"], expected["value"] * scale, got["tol"])
        if expected.get("stderr") is None:
            return ok and "stderr" not in got
        return ok and near(got.get("stderr", math.nan), expected["stderr"] * scale, got["stderr_tol"])
    return near(got["value"], expected * scale, got["tol"])


def interval(cell: str) -> dict:
    """A `value [lo, hi]` cell (a point estimate and its 95% interval, as scaling's tables show them) as numbers:
    {"value", "lo", "hi"} and the half of the last shown digit of each ({"value_tol", ...})."""
    figure = rf"{NUMBER}(?:e[-+]\d+)?"  # a magnitude shows its power of ten: 1.92e+09
    m = re.fullmatch(rf"({figure}) \[({figure}), ({figure})\]", cell)
    if not m:
        raise ValueError(f"not a value with its interval: {cell!r}")
    out = {}
    for name, text in zip(("value", "lo", "hi"), m.groups(), strict=True):
        mantissa, _, power = text.partition("e")
        value, tol = _number(mantissa, "")
        out[name], out[f"{name}_tol"] = value * 10.0 ** int(power or 0), tol * 10.0 ** int(power or 0)
    return out


def shows_interval(cell: str, value: float, lo: float, hi: float, rel: float = 0.0) -> bool:
    """Whether `cell` shows `value [lo, hi]` to the precision it is shown with (`rel`: also within that relative
    error, for figures shown to 3 significant figures)."""
    got = interval(cell)
    return all(
        math.isclose(got[k], want, abs_tol=got[f"{k}_tol"] * 1.0001 + 1e-12, rel_tol=rel)
        for k, want in (("value", value), ("lo", lo), ("hi", hi))
    )
