"""Tables of bench results, for the terminal and the report's Markdown: one column list per table, timings shown as
median [q1-q3] (the interquartile range over the interleaved rounds)."""

from collections.abc import Sequence

INFER_DECODE = [  # (key, header, format spec)
    ("decoder", "decoder", ""),
    ("batch_size", "batch", ""),
    ("context", "context", ""),
    ("time_per_token_ms", "ms/token median [IQR]", ".2f"),
    ("decode_tokens_per_s", "tokens/s median [IQR]", ".1f"),
    ("mfu", "MFU median", ".2%"),
    ("state_mib", "state MiB (exact)", ".3f"),
    ("decode_step_peak_mib", "step working MiB", ".2f"),
]
INFER_PREFILL = [
    ("arch", "arch", ""),
    ("batch_size", "batch", ""),
    ("context", "context", ""),
    ("prefill_s", "prefill s median [IQR]", ".3f"),
    ("prefill_tokens_per_s", "prefill tokens/s median", ".0f"),
    ("prefill_peak_mib", "prefill peak MiB", ".1f"),
]
TRAIN = [
    ("variant", "variant", ""),
    ("seq_len", "seq len", ""),
    ("step_s", "step s median [IQR]", ".3f"),
    ("tokens_per_s", "tokens/s median [IQR]", ".1f"),
    ("peak_mem_mib", "step peak MiB", ".1f"),
    ("flops_per_token", "FLOP/token", ".3g"),
    ("mfu", "MFU median", ".2%"),
]


def fmt(value, spec: str = "") -> str:
    """A cell: a spread as `median [q1-q3]` (only the median where the header says so), a number in `spec`."""
    if value is None:
        return "N/A"
    if isinstance(value, dict) and "median" in value:
        if spec.endswith("%"):
            return format(value["median"], spec)
        return f"{value['median']:{spec}} [{value['q1']:{spec}}-{value['q3']:{spec}}]"
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


def cells(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows of formatted cells); a header ending in "median" shows only a spread's median."""
    headers = [header for _, header, _ in columns]
    body = []
    for row in rows:
        line = []
        for key, header, spec in columns:
            value = row.get(key)
            if isinstance(value, dict) and header.endswith("median"):
                value = value["median"]
            line.append(fmt(value, spec))
        body.append(line)
    return headers, body


def text_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    return grid_text(*cells(rows, columns))


def comparison_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """RetNet's decode speed-up per point: against each KV decoder and the headline against the faster one."""
    comparisons = result.get("comparisons", [])
    kv = list(dict.fromkeys(name for c in comparisons for name in c["speedup_vs"]))
    headers = (
        ["decoder", "batch", "context"] + [f"x over {name}" for name in kv] + ["x over the faster", "faster"]
    )
    body = [
        [c["decoder"], str(c["batch_size"]), str(c["context"])]
        + [fmt(c["speedup_vs"].get(name), ".2f") for name in kv]
        + [fmt(c["speedup"], ".2f"), c["baseline"]]
        for c in comparisons
    ]
    return headers, body


def result_tables(result: dict) -> str:
    """What `retlab bench infer` / `bench train` print for a result."""
    if result["kind"] == "infer":
        return infer_tables(result)
    return text_table(result["points"], TRAIN) + "\n" + context_line(result)


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
    """Where and against what the figures were measured: device, MFU's peak and the load on the machine."""
    peak = result.get("peak") or {}
    load = result.get("load_average") or {}
    return (
        f"device: {result.get('device')}, {result.get('dtype')}; MFU against {fmt(peak.get('tflops'), '.4g')} "
        f"TFLOP/s ({peak.get('source', 'unknown')}); load average {load.get('start')} at the start, "
        f"{load.get('end')} at the end"
    )


def tokens_label(n: int) -> str:
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else str(n)
