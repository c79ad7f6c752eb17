"""What bench results say, computed once from their own points: RetNet's decode speed-up over the faster
Transformer decoder at each point (per round, then summarised), the context from which RetNet decodes faster
(crossover), how cost grows with context, and training speed ratios. Used by bench infer/train, the benchmark
scripts and the report."""

import json
import math

from ..report.format import count
from .table import tokens_label
from .timer import per_round_ratios, summarize


def measured(points: list[dict]) -> list[dict]:
    return [p for p in points if "skipped" not in p]


# ---------------------------------------------------------------------------------------------------- decoding


def comparisons(result: dict) -> list[dict]:
    """Per (batch size, context) and recurrent decoder (RetNet): its decode speed-up (tokens/s over tokens/s, i.e.
    the KV decoder's time per token over RetNet's, in the same round) against every KV decoder measured there, and
    as `speedup` against the FASTER one (`baseline`: the lower median time per token at that point)."""
    points = measured(result["points"])
    out = []
    for where in dict.fromkeys((p["batch_size"], p["context"]) for p in points):
        here = [p for p in points if (p["batch_size"], p["context"]) == where]
        kv = [p for p in here if p["cache"] != "recurrent"]
        if not kv:
            continue
        baseline = min(kv, key=lambda p: p["time_per_token_ms"]["median"])
        for r in (p for p in here if p["cache"] == "recurrent"):
            vs = {
                k["decoder"]: summarize(
                    per_round_ratios(k["time_per_token_ms_rounds"], r["time_per_token_ms_rounds"])
                )
                for k in kv
            }
            out.append(
                {
                    "batch_size": where[0],
                    "context": where[1],
                    "decoder": r["decoder"],
                    "baseline": baseline["decoder"],
                    "speedup": vs[baseline["decoder"]],
                    "speedup_vs": vs,
                }
            )
    return out


def crossovers(result: dict) -> list[dict]:
    """Per recurrent decoder and batch size: the context from which it decodes faster than the faster Transformer
    decoder (median speed-up >= 1), see `crossover_context`."""
    rows = result.get("comparisons") or comparisons(result)
    out = []
    for decoder, batch in dict.fromkeys((c["decoder"], c["batch_size"]) for c in rows):
        series = sorted(
            (c["context"], c["speedup"]["median"])
            for c in rows
            if (c["decoder"], c["batch_size"]) == (decoder, batch)
        )
        contexts, speedups = [c for c, _ in series], [s for _, s in series]
        context, status = crossover_context(contexts, speedups)
        out.append(
            {
                "decoder": decoder,
                "batch_size": batch,
                "context": context,
                "status": status,
                "text": crossover_text(decoder, contexts, context, status),
            }
        )
    return out


def crossover_context(contexts: list[int], speedups: list[float]) -> tuple[float | None, str]:
    """(context, status) from which the speed-ups stay >= 1. `within`: interpolated between the last measured context
    below 1 and the next, linearly in log-context against log-speed-up; `from_smallest`: >= 1 at every measured
    context (the smallest is returned); `not_within`: below 1 at the largest (None)."""
    below = [i for i, s in enumerate(speedups) if s < 1]
    if not below:
        return float(contexts[0]), "from_smallest"
    i = below[-1]
    if i == len(contexts) - 1:
        return None, "not_within"
    lo, hi = math.log(speedups[i]), math.log(speedups[i + 1])
    frac = -lo / (hi - lo)  # where the log-speed-up reaches 0
    log_context = math.log(contexts[i]) + frac * (math.log(contexts[i + 1]) - math.log(contexts[i]))
    return math.exp(log_context), "within"


def crossover_text(decoder: str, contexts: list[int], context: float | None, status: str) -> str:
    span = f"{tokens_label(contexts[0])}–{tokens_label(contexts[-1])}"
    if status == "from_smallest":
        return f"{decoder} decodes faster at every measured context ({span})"
    if status == "not_within":
        return f"{decoder} does not become faster within the measured range ({span})"
    below = max(c for c in contexts if c < context)
    above = min(c for c in contexts if c >= context)
    return (
        f"{decoder} decodes faster from about {count(context)} tokens of context "
        f"(interpolated on log-context between {tokens_label(below)} and {tokens_label(above)})"
    )


def infer_headline(result: dict, batch_size: int = 1) -> dict:
    """For `batch_size`: each decoder's growth of median time per token from the smallest to the largest context
    and whether its state bytes are constant; each recurrent decoder's speed-up over the faster Transformer decoder
    at the largest context (median, IQR, and which decoder that was) and its crossover."""
    points = [p for p in measured(result["points"]) if p["batch_size"] == batch_size]
    if not points:
        return {}
    by = {(p["decoder"], p["context"]): p for p in points}
    contexts = sorted({p["context"] for p in points})
    lo, hi = contexts[0], contexts[-1]
    out: dict = {"batch_size": batch_size, "context_low": lo, "context_high": hi}
    for decoder in dict.fromkeys(p["decoder"] for p in points):
        if (decoder, lo) in by and (decoder, hi) in by:
            growth = (
                by[decoder, hi]["time_per_token_ms"]["median"]
                / by[decoder, lo]["time_per_token_ms"]["median"]
            )
            out[f"{decoder}/time_per_token_growth"] = growth - 1
        if by.get((decoder, lo), {}).get("cache") != "static":  # a static cache's size is its capacity
            out[f"{decoder}/state_bytes_constant"] = (
                len({p["state_bytes"] for p in points if p["decoder"] == decoder}) == 1
            )
    for c in result.get("comparisons") or comparisons(result):
        if c["batch_size"] == batch_size and c["context"] == hi:
            out[f"{c['decoder']}/speedup_over_faster_transformer"] = c["speedup"]["median"]
            out[f"{c['decoder']}/speedup_over_faster_transformer_iqr"] = [
                c["speedup"]["q1"],
                c["speedup"]["q3"],
            ]
            out[f"{c['decoder']}/faster_transformer"] = c["baseline"]
    for x in result.get("crossover") or crossovers(result):
        if x["batch_size"] == batch_size:
            out[f"{x['decoder']}/crossover_context"] = x["context"]
            out[f"{x['decoder']}/crossover"] = x["text"]
    return out


# ---------------------------------------------------------------------------------------------------- training


def train_headline(
    result: dict, numerator: str = "retnet-chunkwise", denominators: tuple[str, ...] = ("transformer",)
) -> dict:
    """Training tokens/s of `numerator` over the fastest of `denominators` (by median) at each sequence length
    where both were measured: the median of the per-round ratios (their steps were interleaved), with its IQR.
    Several denominators are the forms of one arch, named after it (`torchscale-retnet-parallel` and `-chunkwise`
    -> `torchscale-retnet`)."""
    by = {(p["variant"], p["seq_len"]): p for p in measured(result["points"])}
    name = denominators[0] if len(denominators) == 1 else denominators[0].rsplit("-", 1)[0]
    out = {}
    for seq in sorted({s for _, s in by}):
        present = [by[d, seq] for d in denominators if (d, seq) in by]
        if (numerator, seq) not in by or not present:
            continue
        fastest = min(present, key=lambda p: p["step_s"]["median"])
        ratio = summarize(per_round_ratios(fastest["step_s_rounds"], by[numerator, seq]["step_s_rounds"]))
        out[f"{numerator}_over_{name}_tokens_per_s@{seq}"] = ratio["median"]
        out[f"{numerator}_over_{name}_tokens_per_s_iqr@{seq}"] = [ratio["q1"], ratio["q3"]]
    return out


def print_summary(benchmark: str, result: dict, headline: dict, checks: dict) -> dict:
    """The ending of every benchmark script: headline figures and target checks one per line, then ONE JSON line."""
    print()
    for key, value in {**headline, **checks}.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    summary = {"benchmark": benchmark, "device": result["device"], "dtype": result["dtype"]}
    summary |= {
        "machine": result.get("machine"),
        "load_average": result.get("load_average"),
        "peak": result.get("peak"),
        "models": result["models"],
        "headline": headline,
        "targets": checks,
        "comparisons": result.get("comparisons"),
        "crossover": result.get("crossover"),
        "points": [{k: v for k, v in p.items() if not k.endswith("_rounds")} for p in result["points"]],
    }
    print(json.dumps(summary))
    return summary
