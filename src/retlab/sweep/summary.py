"""`sweep/summary.md`: best configuration per architecture, the most similar and most different points, and
which architecture wins where (overall and per swept value)."""

import math
from typing import Any

from ..report import format as fmt


def summary_markdown(
    title: str, rows: list[dict], trials: list[dict], keys: list[str], compare: list[str]
) -> str:
    counts = {s: sum(t["status"] == s for t in trials) for s in ("done", "failed", "pending", "stale")}
    lines = [
        f"# Sweep `{title}`",
        "",
        f"{len(rows)} grid points x {len(compare)} architectures ({', '.join(compare)}) x "
        f"{len(trials) // max(1, len(rows) * len(compare))} seeds = {len(trials)} trials: "
        f"{counts['done']} done, {counts['failed']} failed, {counts['pending'] + counts['stale']} pending. "
        "Losses are mean test loss over seeds (± half-width of the Student-t 95% CI), in nats/token.",
        "",
    ]
    lines += _best(rows, keys, compare)
    if len(compare) > 1:
        pair = f"{compare[0]}-{compare[1]}"
        lines += _wins(rows, keys, compare, pair)
        lines += _extremes(rows, keys, compare, pair)
    lines += _failures(trials)
    return "\n".join(lines) + "\n"


def _best(rows: list[dict], keys: list[str], compare: list[str]) -> list[str]:
    out = [
        "## Best configuration per architecture",
        "",
        "| architecture | test loss | test ppl | params | " + " | ".join(keys) + " |",
        "|---" * (4 + len(keys)) + "|",
    ]
    for arch in compare:
        done = [r for r in rows if _ok(r.get(f"{arch}/test_loss_mean"))]
        if not done:
            out.append(f"| {arch} | (no finished trials) |" + " |" * (2 + len(keys)))
            continue
        r = min(done, key=lambda r: r[f"{arch}/test_loss_mean"])
        out.append(
            f"| {arch} | {_loss(r, arch)} | {_f(r.get(f'{arch}/test_ppl_mean'))} | {_count(r.get(f'{arch}/params'))} | "
            + " | ".join(_v(r[k]) for k in keys)
            + " |"
        )
    return [*out, ""]


def _wins(rows: list[dict], keys: list[str], compare: list[str], pair: str) -> list[str]:
    a, b = compare[0], compare[1]
    scored = [r for r in rows if r.get(f"{pair}/better")]
    out = ["## Which architecture wins where", ""]
    if not scored:
        return [*out, "No point has results for both architectures yet.", ""]
    out.append(
        f"Overall: {_tally(scored, pair, a, b)} (of {len(scored)} points; 'significant' = the 95% CI of the "
        "seed-paired loss difference excludes 0)."
    )
    out += ["", f"| swept value | {a} wins | {b} wins | mean {a}-{b} loss diff |", "|---|---|---|---|"]
    for k in keys:
        for value in dict.fromkeys(_v(r[k]) for r in scored):
            sub = [r for r in scored if _v(r[k]) == value]
            diff = sum(r[f"{pair}/loss_diff"] for r in sub) / len(sub)
            wins = [sum(r[f"{pair}/better"] == x for r in sub) for x in (a, b)]
            out.append(f"| {k} = {value} | {wins[0]} | {wins[1]} | {diff:+.4f} |")
    return [*out, ""]


def _extremes(rows: list[dict], keys: list[str], compare: list[str], pair: str) -> list[str]:
    scored = sorted(
        (r for r in rows if _ok(r.get(f"{pair}/loss_diff"))), key=lambda r: abs(r[f"{pair}/loss_diff"])
    )
    n = min(5, (len(scored) + 1) // 2)  # the two lists overlap only when there are few points
    out = []
    for name, pick in (("Most similar points", scored[:n]), ("Most different points", scored[::-1][:n])):
        out += [
            f"## {name} ({compare[0]} - {compare[1]} test loss)",
            "",
            "| point | loss diff | relative | significant | "
            + " | ".join(f"{a} loss" for a in compare[:2])
            + " |",
            "|---" * 6 + "|",
        ]
        for r in pick:
            sig = r.get(f"{pair}/significant")
            out.append(
                f"| {r['point']} | {r[f'{pair}/loss_diff']:+.4f} | {r[f'{pair}/rel_diff']:+.2%} | "
                f"{'n/a' if sig is None else 'yes' if sig else 'no'} | "
                + " | ".join(_loss(r, a) for a in compare[:2])
                + " |"
            )
        out.append("")
    return out


def _failures(trials: list[dict]) -> list[str]:
    failed = [t for t in trials if t["status"] == "failed"]
    if not failed:
        return []
    return [
        "## Failed trials",
        "",
        *[f"- `{t['trial_id']}`: {t['error']}" for t in failed],
        "",
        "Re-run `retlab sweep` with the same config to retry them; finished trials are skipped.",
        "",
    ]


def _tally(rows: list[dict], pair: str, a: str, b: str) -> str:
    parts = []
    for x in (a, b):
        won = [r for r in rows if r[f"{pair}/better"] == x]
        parts.append(
            f"{x} wins {len(won)} ({sum(r.get(f'{pair}/significant') is True for r in won)} significant)"
        )
    return ", ".join(parts)


def _loss(r: dict, arch: str) -> str:
    m, ci = r.get(f"{arch}/test_loss_mean"), r.get(f"{arch}/test_loss_ci95")
    if not _ok(m):
        return "-"
    return fmt.score({"value": m, "stderr": ci if _ok(ci) else None}, "loss")


def _f(v: Any) -> str:
    return fmt.ppl(v) if _ok(v) else "-"


def _count(v: Any) -> str:
    return fmt.count(v) if _ok(v) else "-"


def _v(v: Any) -> str:
    return fmt.setting(v)


def _ok(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
