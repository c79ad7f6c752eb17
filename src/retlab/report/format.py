"""How every number is shown, in one place: one format per kind of number, and the kind (and name) of every metric
the runs write. The report's tables and plots and `retlab bench`'s terminal tables all format through here.

Kinds and their one format:
    count     integers with thousands separators                      137,536
    loss      4 decimals (nats/token, or bits/byte)                   2.7183
    ppl       2 decimals                                              15.15
    percent   3 significant figures, a stderr to the same decimals    97.3% ± 0.7%
    seconds   3 significant figures (thousands separators above 1e3)  61.2 s, 0.412 ms
    rate      3 significant figures, integers from 100 up             5,321 tokens/s
    bytes     B, KiB, MiB or GiB, whichever keeps 1 to 1023 of it     32.0 KiB, 1.50 MiB
    flops     3 significant figures and an SI prefix                  612 GFLOP/s
    ratio     2 decimals and a times sign                             1.23x
    magnitude 3 significant figures in powers of ten (decades apart)  1e+07, 2.63e+19
    number    3 significant figures (anything else)
    setting   a config value as YAML writes it                       0.003, true, 2, 4
A spread (`{"median", "q1", "q3", ...}` from bench/timer.py) shows as `median [q1–q3] unit` in its kind's format, a
score (`{"value", "stderr"}`) as `value ± stderr`."""

import math
import re
from collections.abc import Callable

import yaml

MIB = 2**20
MISSING = "–"


def _sig3(x: float) -> str:
    """3 significant figures without an exponent for everyday sizes; integers (with separators) from 100 up."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    decimals = 2 - math.floor(math.log10(abs(x)))
    return f"{x:.{decimals}f}" if decimals <= 8 else f"{x:.2e}"


def _decimals(text: str) -> int:
    return len(text.rpartition(".")[2]) if "." in text else 0


def count(n) -> str:
    return f"{round(n):,}"


def loss(x) -> str:
    return f"{x:,.4f}"


def ppl(x) -> str:
    return f"{x:,.2f}"


def percent(p, stderr=None) -> str:
    """`p` a fraction (0.973 -> 97.3%); its standard error, if any, to the same decimals."""
    text = _sig3(100 * p)
    if stderr is None or not math.isfinite(stderr):
        return f"{text}%"
    return f"{text}% ± {100 * stderr:.{_decimals(text)}f}%"


def seconds(s) -> str:
    return f"{_sig3(s)} s" if abs(s) >= 1 or s == 0 else f"{_sig3(s * 1e3)} ms"


def milliseconds(ms) -> str:
    return seconds(ms / 1e3)


def rate(x, unit: str = "tokens/s") -> str:
    return f"{_sig3(x)} {unit}"


def nbytes(b) -> str:
    """Bytes in the unit that keeps the figure between 1 and 1023 (binary units)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(b) >= size:
            return f"{_sig3(b / size)} {unit}"
    return f"{round(b):,} B"


def mib(m) -> str:
    return nbytes(m * MIB)


def flops(x) -> str:
    """FLOP/s with an SI prefix."""
    for prefix, size in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{_sig3(x / size)} {prefix}FLOP/s"
    return f"{_sig3(x)} FLOP/s"


def ratio(x) -> str:
    return f"{x:.2f}x"


def magnitude(x) -> str:
    """A size or budget that spans decades (scaling targets: parameters, FLOPs): its power of ten in view."""
    return f"{x:.3g}"


def number(x) -> str:
    return count(x) if isinstance(x, int) else _sig3(x)


def setting(value) -> str:
    """A config value as it reads in YAML: integers with separators, floats as written (0.003, 1e-05)."""
    if value is None or value == "" or value == [] or value == {}:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(setting(v) for v in value)
    if isinstance(value, dict):  # model.hf_overrides, inline as YAML writes it
        return yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return str(value)


KINDS: dict[str, Callable] = {
    "count": count,
    "loss": loss,
    "ppl": ppl,
    "percent": percent,
    "seconds": seconds,
    "ms": milliseconds,
    "rate": rate,
    "bytes": nbytes,
    "mib": mib,
    "flops": flops,
    "ratio": ratio,
    "magnitude": magnitude,
    "number": number,
    "setting": setting,
}


def show(value, kind: str = "number") -> str:
    """`value` in `kind`'s format: a number, a spread (median [IQR]), a {"value", "stderr"} score, or missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if kind == "setting":
        return setting(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "median" in value:
        return spread(value, kind)
    if isinstance(value, dict) and "value" in value:
        return score(value, kind)
    if isinstance(value, str):
        return value
    return KINDS[kind](value)


def tick(value, kind: str) -> str:
    """An axis tick: the kind's format without trailing zeros (`4 KiB`, `10 ms`, `1x`)."""
    trimmed = re.sub(r"(\.\d*?)0+(?=\D|$)", r"\1", show(value, kind))
    return re.sub(r"\.(?=\D|$)", "", trimmed)


def spread(s: dict, kind: str) -> str:
    """`median [q1–q3] unit`, the unit written once after the bracket (`1.86 [1.67–5.99] ms`, `0.50 [0.16–0.56]%`);
    each figure in full where the quartiles' units differ (bytes can change unit between them)."""
    shown = [KINDS[kind](s[k]) for k in ("median", "q1", "q3")]
    parts = [re.fullmatch(r"([-+\d,.]+(?:e[-+]\d+)?)(\s?)(.*)", text) for text in shown]
    if all(parts) and len({p.group(2) + p.group(3) for p in parts}) == 1:
        median, q1, q3 = (p.group(1) for p in parts)
        return f"{median} [{q1}–{q3}]{parts[0].group(2)}{parts[0].group(3)}"
    return f"{shown[0]} [{shown[1]}–{shown[2]}]"


def score(v: dict, kind: str) -> str:
    """A {"value", "stderr"} score: `value ± stderr`, the stderr to the value's decimals."""
    if v.get("value") is None:
        return MISSING
    if kind == "percent":
        return percent(v["value"], v.get("stderr"))
    text = KINDS[kind](v["value"])
    if v.get("stderr") is None:
        return text
    return f"{text} ± {v['stderr']:.{_decimals(text)}f}"


# ---------------------------------------------------------------------------------------------------- metrics

METRICS: dict[
    str, tuple[str, str]
] = {  # metrics.json key -> (what it is, with its unit; kind), in table order
    "params": ("parameters", "count"),
    "intermediate_size": ("feed-forward width (intermediate_size)", "count"),
    "steps": ("optimiser steps", "count"),
    "tokens": ("training tokens", "count"),
    "best_val_loss": ("best validation loss (nats/token)", "loss"),
    "best_val_ppl": ("best validation perplexity", "ppl"),
    "test_loss": ("test loss, best checkpoint (nats/token)", "loss"),
    "test_ppl": ("test perplexity, best checkpoint", "ppl"),
    "test_mqar_accuracy": ("test MQAR accuracy, best checkpoint", "percent"),
    "train_tokens_per_s": ("training throughput, mean over the fit", "rate"),
    "fit_time_s": ("time in fit, every session of a resumed run together (one measurement)", "seconds"),
    "wall_time_s": (
        "wall time of the last training command: fit, test, exports (one measurement)",
        "seconds",
    ),
    "peak_rss_mib": ("peak resident memory of training", "mib"),
    "emissions_kg": ("emissions (kg CO2eq)", "number"),
}
NOT_SHOWN = {"arch", "seed", "fingerprint", "best_checkpoint"}  # identifiers, not measurements


def kind_of(key: str) -> str:
    """The kind of a metric by its name (units are in the names: `_s`, `_ms`, `_mib`, `_bytes`, `_per_s`)."""
    if key in METRICS:
        return METRICS[key][1]
    name = key.rsplit("/", 1)[-1].lower()
    for suffix, kind in (
        ("_per_s", "rate"),
        ("_ms", "ms"),
        ("_mib", "mib"),
        ("_bytes", "bytes"),
        ("_s", "seconds"),
    ):
        if name.endswith(suffix):
            return kind
    if "ppl" in name or "perplexity" in name:
        return "ppl"
    if "loss" in name or "bits_per_byte" in name:
        return "loss"
    if name.startswith("acc") or "accuracy" in name or name in ("exact_match", "f1"):
        return "percent"
    return "number"


def name_of(key: str) -> str:
    """What a metrics.json key measures, in words (the key itself for one not listed)."""
    return METRICS[key][0] if key in METRICS else key


def metric(key: str, value) -> str:
    return show(value, kind_of(key))
