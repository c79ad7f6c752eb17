"""Headline figures of bench results: how decoding cost grows with context, RetNet against the Transformer, and
whether the state stays constant. Used by the benchmark scripts and the report."""

import json


def measured(points: list[dict]) -> list[dict]:
    return [p for p in points if "skipped" not in p]


def infer_headline(result: dict, batch_size: int = 1, low: int = 512) -> dict:
    """For `batch_size`: per arch the growth of time per token from context `low` (or the smallest) to the
    largest, and whether its cache bytes are constant; RetNet's decode tokens/s over the Transformer's at the
    largest context."""
    points = [p for p in measured(result["points"]) if p["batch_size"] == batch_size]
    if not points:
        return {}
    by = {(p["arch"], p["context"]): p for p in points}
    contexts = sorted({p["context"] for p in points})
    lo = low if low in contexts else contexts[0]
    hi = contexts[-1]
    out: dict = {"batch_size": batch_size, "context_low": lo, "context_high": hi}
    for arch in dict.fromkeys(p["arch"] for p in points):
        if (arch, lo) in by and (arch, hi) in by:
            growth = by[arch, hi]["time_per_token_ms"] / by[arch, lo]["time_per_token_ms"] - 1
            out[f"{arch}/time_per_token_growth"] = growth
        out[f"{arch}/cache_bytes_constant"] = (
            len({p["cache_bytes"] for p in points if p["arch"] == arch}) == 1
        )
    if ("retnet", hi) in by and ("transformer", hi) in by:
        ratio = by["retnet", hi]["decode_tokens_per_s"] / by["transformer", hi]["decode_tokens_per_s"]
        out["retnet_over_transformer_decode_tokens_per_s"] = ratio
        mem = by["retnet", hi]["decode_peak_mem_mib"] / max(
            by["transformer", hi]["decode_peak_mem_mib"], 1e-9
        )
        out["retnet_over_transformer_decode_peak_mem"] = mem
    return out


def train_headline(
    result: dict, numerator: str = "retnet-chunkwise", denominators: tuple[str, ...] = ("transformer",)
) -> dict:
    """Training tokens/s of `numerator` over the fastest of `denominators` at each sequence length where both
    were measured. Several denominators are the forms of one arch, named after it (`torchscale-retnet-parallel`
    and `-chunkwise` -> `torchscale-retnet`)."""
    by = {(p["variant"], p["seq_len"]): p["tokens_per_s"] for p in measured(result["points"])}
    name = denominators[0] if len(denominators) == 1 else denominators[0].rsplit("-", 1)[0]
    out = {}
    for s in sorted({s for _, s in by}):
        fastest = max((by[d, s] for d in denominators if (d, s) in by), default=None)
        if (numerator, s) in by and fastest:
            out[f"{numerator}_over_{name}_tokens_per_s@{s}"] = by[numerator, s] / fastest
    return out


def print_summary(benchmark: str, result: dict, headline: dict, checks: dict) -> dict:
    """The ending of every benchmark script: headline figures and target checks one per line, then ONE JSON line."""
    print()
    for key, value in {**headline, **checks}.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    summary = {"benchmark": benchmark, "device": result["device"], "dtype": result["dtype"]}
    summary |= {
        "models": result["models"],
        "headline": headline,
        "targets": checks,
        "points": result["points"],
    }
    print(json.dumps(summary))
    return summary
