"""Tables of bench results, for the terminal and the report's Markdown: one column list per table, timings shown as
median [q1–q3] (the interquartile range over the interleaved rounds), every number in the format of its kind
(report/format.py)."""

import re
from collections.abc import Sequence

from ..report.format import MISSING, show

INFER_DECODE = [  # (key, header, kind of number: report/format.py); units are in the cells
    ("decoder", "decoder", None),
    ("batch_size", "batch", "count"),
    ("context", "context", "count"),
    ("time_per_token_ms", "time per token, median [IQR]", "ms"),
    ("decode_tokens_per_s", "decode speed, median [IQR]", "rate"),
    ("mfu", "MFU, median [IQR]", "percent"),
    ("state_bytes", "state (exact)", "bytes"),
    ("decode_step_peak_mib", "working memory of one step", "mib"),
]
INFER_PREFILL = [
    ("arch", "arch", None),
    ("batch_size", "batch", "count"),
    ("context", "context", "count"),
    ("prefill_s", "prefill time, median [IQR]", "seconds"),
    ("prefill_tokens_per_s", "prefill speed, median [IQR]", "rate"),
    ("prefill_peak_mib", "peak memory of prefill", "mib"),
]
TRAIN = [
    ("variant", "variant", None),
    ("seq_len", "seq len", "count"),
    ("step_s", "step time, median [IQR]", "seconds"),
    ("tokens_per_s", "training speed, median [IQR]", "rate"),
    ("peak_mem_mib", "peak memory of a step", "mib"),
    ("flops_per_token", "FLOP/token", "number"),
    ("mfu", "MFU, median [IQR]", "percent"),
]


def fmt(value, kind: str | None = None) -> str:
    """A cell: a name as it is, a number or a spread (`median [q1–q3]`) in the format of its kind; missing as
    format.MISSING."""
    if value is None:
        return MISSING
    return str(value) if kind is None else show(value, kind)


def cells(
    rows: Sequence[dict], columns: Sequence[tuple[str, str, str | None]]
) -> tuple[list[str], list[list[str]]]:
    """(headers, rows of formatted cells)."""
    headers = [header for _, header, _ in columns]
    return headers, [[fmt(row.get(key), kind) for key, _, kind in columns] for row in rows]


def text_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    return grid_text(*cells(rows, columns))


def comparison_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """RetNet's decode speed-up per point: against each KV decoder and the headline against the faster one."""
    comparisons = result.get("comparisons", [])
    kv = list(dict.fromkeys(name for c in comparisons for name in c["speedup_vs"]))
    headers = (
        ["decoder", "batch", "context"]
        + [f"speed-up over {name}" for name in kv]
        + ["speed-up over the faster", "faster"]
    )
    body = [
        [c["decoder"], fmt(c["batch_size"], "count"), fmt(c["context"], "count")]
        + [fmt(c["speedup_vs"].get(name), "ratio") for name in kv]
        + [fmt(c["speedup"], "ratio"), c["baseline"]]
        for c in comparisons
    ]
    return headers, body


def result_tables(result: dict) -> str:
    """What `retlab bench infer` / `bench train` print for a result."""
    if result["kind"] == "infer":
        return infer_tables(result)
    return text_table(result["points"], TRAIN) + "\n" + context_line(result)


def result_line(result: dict) -> str:
    """A result in one line (`retlab run`'s, whose report and bench/<kind>.txt hold the tables): for decoding,
    each recurrent decoder's speed-up over the faster Transformer decoder at the largest context of the smallest
    batch size, median [IQR] over the interleaved rounds."""
    compared = result.get("comparisons") or []
    if not compared:
        return f"bench {result['kind']}: {len(result.get('points', []))} measurements"
    batch = min(c["batch_size"] for c in compared)
    context = max(c["context"] for c in compared if c["batch_size"] == batch)
    at = [c for c in compared if c["batch_size"] == batch and c["context"] == context]
    speedups = "; ".join(
        f"{c['decoder']} decodes {fmt(c['speedup'], 'ratio')} as fast as {c['baseline']}" for c in at
    )
    return f"bench {result['kind']}: {speedups} at {fmt(context, 'count')} tokens" + (
        f", batch {batch}" if batch != 1 else ""
    )


def infer_tables(result: dict) -> str:
    """Everything `bench infer` prints: decoding, RetNet's speed-ups and crossover, prefill, and what the MFU and
    the machine were."""
    parts = [text_table(result["points"], INFER_DECODE)]
    headers, body = comparison_rows(result)
    if body:
        parts.append(
            "Decode speed-up (tokens/s over tokens/s, per interleaved round; median [IQR]):\n"
            + grid_text(headers, body)
        )
    parts += [f"crossover, batch {x['batch_size']}: {x['text']}" for x in result.get("crossover", [])]
    if result.get("prefill"):
        parts.append(text_table(result["prefill"], INFER_PREFILL))
    parts.append(context_line(result))
    return "\n\n".join(parts)


def grid_text(headers: list[str], body: list[list[str]]) -> str:
    """The first column (a name) left-aligned, the rest right-aligned."""
    grid = [headers] + body
    widths = [max(len(r[i]) for r in grid) for i in range(len(headers))]
    lines = [
        "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])
        for r in grid
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def context_line(result: dict) -> str:
    """Where, when and against what the figures were measured: machine, MFU's peak and the load on the machine."""
    peak, load, machine = (
        result.get("peak") or {},
        result.get("load_average") or {},
        result.get("machine") or {},
    )
    when = str(result.get("measured_at", "at an unknown time")).replace("T", " ")
    when = re.sub(r"(\d\d:\d\d)(:\d\d)?Z$", r"\1 UTC", when)
    parts = [machine.get("cpu"), machine.get("gpu"), machine.get("torch") and f"torch {machine['torch']}"]
    parts.append(result.get("dtype"))
    tflops = peak.get("gemm_tflops") or peak.get("tflops")
    flops = {k: v * 1e12 for k, v in tflops.items()} if isinstance(tflops, dict) else tflops and tflops * 1e12
    return (
        f"measured {when} on {result.get('device')}: {', '.join(str(p) for p in parts if p)}; "
        f"MFU against {fmt(flops, 'flops')} ({peak.get('source', 'peak unknown')}); "
        f"load average {fmt(load.get('start'), 'number')} at the start, {fmt(load.get('end'), 'number')} at the end"
    )


def tokens_label(n: int) -> str:
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else str(n)
