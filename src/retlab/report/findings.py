"""docs/findings.md from finished sweeps, in two steps, so that every number in the document can be regenerated
and tested against small committed files:

    collect   run folders of the findings sweeps -> raw results (small CSVs, one row per trial or per point of a
              curve) in docs/findings/: the only thing `render` reads
    render    raw results -> the tables of docs/findings.md (mean +- Student-t 95% CI over seeds, rewritten in
              place between `<!-- findings:NAME -->` and `<!-- /findings:NAME -->`) and its PNG plots

    python -m retlab.report.findings collect --lm runs/findings-lm --mqar runs/findings-mqar \
        --scaling runs/scaling-small --out docs/findings
    python -m retlab.report.findings render --raw docs/findings --doc docs/findings.md --readme README.md

Raw files (`<kind>` is `lm` or `mqar`; the scaling study's files are in findings_scaling.py):
    <kind>/trials.csv          one row per finished trial: trial_id, arch, seed, the grid point's fields (short
                               names), params, tokens, wall_time_s, train_tokens_per_s and every `task/metric` of
                               the trial's `retlab eval` summary
    <kind>/curves.csv          trial_id, step, metric, value: the training log (train/loss, val/loss, val accuracy)
    lm/position_loss.csv       trial_id, start, end, loss: the bucketed per-position loss curve of `retlab eval`
    <kind>/sweep_results.csv   the sweep's own results.csv and summary.md, as `retlab sweep` wrote them
    <kind>/sweep_summary.md
    <kind>/trial_times.csv     trial_id, arch, started_at, finished_at (UTC): when each trial ran, from its files'
                               modification times (see `trial_span`); also scaling/trial_times.csv
    <kind>/sessions.json       the sweep's own record of when each invocation ran (sweep/results.py), where the
                               sweep wrote one; also scaling/sessions.json
The decode table reads benchmarks/results/cpu/infer.json (`retlab bench infer`) directly.

A block whose raw files are absent is left as it is; in a fresh document it holds `PENDING`."""

import argparse
import csv
import io
import re
import statistics
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import yaml

from ..sweep.results import SESSIONS, read_numbers, read_sessions
from ..sweep.stats import evaluate_models, summarize
from ..utils.files import atomic_copy, atomic_write_text, read_json
from . import findings_scaling
from .palette import color

ARCHS = ("retnet", "transformer")
NAMES = {"retnet": "RetNet", "transformer": "Transformer++"}
COLORS = {arch: color(arch) for arch in ("retnet", "transformer")}  # palette.py: one colour per architecture
TRIAL_FIELDS = ["trial_id", "arch", "seed"]
METRIC_FIELDS = ["params", "tokens", "wall_time_s", "train_tokens_per_s"]
CURVE_KEYS = ("train/loss", "val/loss", "val/mqar_accuracy")
KINDS = ("lm", "mqar")
PENDING = '_Not collected yet: run the commands under "How to regenerate", then `render`._'
TIMES = "trial_times.csv"


# ---------------------------------------------------------------- collect: run folders -> raw files


def collect(sweep_root: Path, out: Path) -> int:
    """Write `out`/trials.csv, curves.csv (and position_loss.csv for text) from the trials that the sweep at
    `sweep_root` lists as done in its sweep/trials.csv (trials of other grids left in the folder are ignored),
    and copy its results.csv and summary.md; returns the number of trials collected."""
    sweep_root, out = Path(sweep_root), Path(out)
    listed = read_rows(sweep_root / "sweep" / "trials.csv")
    pending = [t["trial_id"] for t in listed if t["status"] != "done"]
    if pending or not listed:
        raise SystemExit(
            f"findings: {sweep_root} has unfinished trials {pending}: run its sweep to the end first"
        )
    trials, curves, positions = [], [], []
    for t in listed:
        tdir = sweep_root / "trials" / t["trial_id"]
        row = trial_row(tdir)
        if row is None:
            raise SystemExit(
                f"findings: {tdir} has no eval/results.json: its sweep needs `sweep.evaluate: true`"
            )
        trials.append(row)
        curves += curve_rows(tdir / row["arch"] / "logs" / "csv" / "metrics.csv", row["trial_id"])
        positions += position_rows(tdir / "eval" / "results.json", row["arch"], row["trial_id"])
    columns = list(dict.fromkeys(k for r in trials for k in r))
    write_csv(out / "trials.csv", trials, columns)
    write_csv(out / "curves.csv", curves, ["trial_id", "step", "metric", "value"])
    if positions:
        write_csv(out / "position_loss.csv", positions, ["trial_id", "start", "end", "loss"])
    for name in ("results.csv", "summary.md"):
        atomic_write_text(out / f"sweep_{name}", (sweep_root / "sweep" / name).read_text(encoding="utf-8"))
    copy_or_drop(sweep_root / "sweep" / SESSIONS, out / SESSIONS)
    write_trial_times(
        out, [(r["trial_id"], r["arch"], sweep_root / "trials" / r["trial_id"]) for r in trials]
    )
    return len(trials)


def copy_or_drop(src: Path, dst: Path) -> None:
    """Copy an optional file of a run; where the run has none, a copy left by an earlier collect goes too (a
    timing table must not read another run's sessions)."""
    if src.is_file():
        atomic_copy(src, dst)
    else:
        dst.unlink(missing_ok=True)


def write_trial_times(out: Path, trials: list[tuple[str, str, Path]]) -> Path:
    """`out`/trial_times.csv from (trial id, arch, trial folder) of finished trials."""
    rows = [{"trial_id": tid, "arch": arch} | trial_span(tdir, arch) for tid, arch, tdir in trials]
    return write_csv(out / TIMES, rows, ["trial_id", "arch", "started_at", "finished_at"])


def trial_span(tdir: Path, arch: str) -> dict[str, str]:
    """When a finished trial ran, from its files: it finished when its last output was written (eval/results.json
    when it was evaluated, else <arch>/metrics.json) and started `wall_time_s` (its training command's wall time)
    before metrics.json was written. For a resumed trial that is the start of its last attempt."""
    metrics = tdir / arch / "metrics.json"
    last = max(
        [metrics, tdir / "eval" / "results.json"], key=lambda p: p.stat().st_mtime if p.is_file() else 0
    )
    started = metrics.stat().st_mtime - float(read_json(metrics)["wall_time_s"])
    return {"started_at": _utc(started), "finished_at": _utc(last.stat().st_mtime)}


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(utc: str) -> float:
    return datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def trial_row(tdir: Path) -> dict | None:
    """The trial's identity, point, training metrics and eval summary; None unless it finished and was
    evaluated (a trial without eval/results.json has nothing for the tables)."""
    try:
        trial = read_json(tdir / "trial.json")
        metrics = read_json(tdir / trial["arch"] / "metrics.json")
        summary = read_json(tdir / "eval" / "results.json")["summary"][trial["arch"]]
    except (OSError, KeyError, ValueError):
        return None
    row = {"trial_id": trial["trial_id"], "arch": trial["arch"], "seed": trial["seed"]}
    row["seq_len"] = yaml.safe_load((tdir / "config.yaml").read_text(encoding="utf-8"))["data"]["seq_len"]
    row |= {key.rsplit(".", 1)[-1]: value for key, value in trial["point"].items()}
    row |= {k: metrics.get(k) for k in METRIC_FIELDS}
    return row | {k: v for k, v in sorted(summary.items()) if isinstance(v, int | float)}


def curve_rows(log: Path, trial_id: str) -> list[dict]:
    """(trial_id, step, metric, value) of every logged train loss, val loss and val accuracy. A resumed run's
    log holds the interrupted attempt's steps too: the last value logged at a step (the attempt that finished)
    is kept."""
    if not log.is_file():
        return []
    with open(log, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    last = {}
    for r in rows:
        for key in CURVE_KEYS:
            if r.get(key) not in (None, "") and r.get("step") not in (None, ""):
                last[int(float(r["step"])), key] = r[key]
    return [
        {"trial_id": trial_id, "step": step, "metric": key, "value": value}
        for (step, key), value in sorted(last.items())
    ]


def position_rows(results: Path, arch: str, trial_id: str) -> list[dict]:
    try:
        curve = read_json(results)["results"][arch]["position_loss"]["curve"]
    except (OSError, KeyError, ValueError):
        return []
    return [
        {"trial_id": trial_id, "start": a, "end": b, "loss": loss}
        for a, b, loss in zip(curve["start"], curve["end"], curve["loss"], strict=True)
    ]


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def _cell(v):
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else v  # full precision: the tables are computed from these


# ---------------------------------------------------------------- render: raw files -> tables and plots


def read_rows(path: Path) -> list[dict]:
    """CSV rows with numbers parsed (ints stay ints; empty cells are None)."""
    return read_numbers(path)


def ci(values: list[float], spec: str, scale: float = 1.0) -> str:
    """`mean ± half-width of the 95% CI` over seeds, e.g. `54.3 ± 1.2`."""
    s = summarize(values)
    if s.n < 2:
        return f"{s.mean * scale:{spec}} (n={s.n})"
    return f"{s.mean * scale:{spec}} ± {s.ci95 * scale:{spec.lstrip('+')}}"


def by(rows: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(r)
    return dict(sorted(groups.items(), key=lambda kv: tuple(str(x).zfill(12) for x in kv[0])))


def column(rows: list[dict], key: str) -> list[float]:
    return [r[key] for r in rows if isinstance(r.get(key), int | float)]


def seeds(rows: list[dict]) -> str:
    return str(len({r["seed"] for r in rows}))


def md(headers: list[str], body: list[list[str]], align: str) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def lm_table(trials: list[dict]) -> str:
    """Test perplexity per model size: each architecture's mean ± CI over seeds, and the seed-paired difference
    of test loss (RetNet − Transformer++) with its CI."""
    body = []
    for (hidden,), group in by(trials, "hidden_size").items():
        arch = {a: [r for r in group if r["arch"] == a] for a in ARCHS}
        loss = {a: {r["seed"]: r["perplexity/loss"] for r in arch[a]} for a in ARCHS}
        c = evaluate_models(*ARCHS, loss["retnet"], loss["transformer"])
        sig = "yes" if c.significant else "no" if c.significant is not None else "n/a"
        body.append(
            [
                str(hidden),
                " / ".join(f"{one(column(arch[a], 'params')):,}" for a in ARCHS),
                f"{one(column(group, 'tokens')):,}",
                ci(column(arch["retnet"], "perplexity/ppl"), ".1f"),
                ci(column(arch["transformer"], "perplexity/ppl"), ".1f"),
                f"{c.loss_diff:+.3f} ± {c.diff_ci95:.3f}",
                sig,
                seeds(group),
            ]
        )
    headers = ["hidden size", "params RetNet / Transformer++", "train tokens", "RetNet test ppl"]
    headers += ["Transformer++ test ppl", "test loss RetNet − Transformer++", "CI excludes 0", "seeds"]
    return md(headers, body, ["--:"] * 6 + ["---", "--:"])


def one(values: list[float]) -> int:
    """The value every seed shares (parameter and token counts are the same across seeds)."""
    if len(set(values)) != 1:
        raise ValueError(f"expected one value across seeds, got {sorted(set(values))}")
    return int(values[0])


def bands(trials: list[dict]) -> list[str]:
    """The per-position loss bands present, in order: position_loss/loss_0x_1x, loss_1x_2x, ..."""
    names = {k for r in trials for k in r if k.startswith("position_loss/loss_")}
    return sorted(names, key=lambda k: int(re.findall(r"(\d+)x", k)[0]))


def position_table(trials: list[dict]) -> str:
    """Mean test loss over token positions [0, 1x), [1x, 2x), [2x, 4x) of the training length, per size and arch,
    and the change from the trained range to the farthest band (seed-paired, with its CI)."""
    names = bands(trials)
    body = []
    for (hidden, arch), group in by(trials, "hidden_size", "arch").items():
        cells = [str(hidden), NAMES[arch]] + [ci(column(group, n), ".3f") for n in names]
        change = [r[names[-1]] - r[names[0]] for r in group]
        body.append([*cells, ci(change, "+.3f"), seeds(group)])
    heads = [_band_label(n) for n in names]
    headers = ["hidden size", "model", *[f"loss at {h}" for h in heads], f"{heads[-1]} − {heads[0]}", "seeds"]
    return md(headers, body, ["--:", "---"] + ["--:"] * (len(names) + 2))


def _band_label(name: str) -> str:
    low, high = re.findall(r"(\d+)x", name)
    return f"[{low}×, {high}×)"


def kv_keys(trials: list[dict]) -> list[str]:
    names = {k for r in trials for k in r if re.fullmatch(r"mqar/accuracy_kv\d+", k)}
    return sorted(names, key=lambda k: int(k.rsplit("kv", 1)[1]))


def mqar_table(trials: list[dict]) -> str:
    """MQAR test accuracy (%) per number of key-value pairs and sequence length, mean ± CI over seeds."""
    keys = kv_keys(trials)
    body = []
    for (seq_len, arch), group in by(trials, "seq_len", "arch").items():
        cells = [str(seq_len), NAMES[arch]] + [ci(column(group, k), ".1f", 100) for k in keys]
        body.append([*cells, ci(column(group, "mqar/accuracy"), ".1f", 100), seeds(group)])
    chance = {r["mqar/chance_accuracy"] for r in trials}
    headers = ["seq len", "model"] + [f"{k.rsplit('kv', 1)[1]} pairs" for k in keys]
    table = md([*headers, "all", "seeds"], body, ["--:", "---"] + ["--:"] * (len(keys) + 2))
    return table + "\n\nAccuracy in %; chance " + ", ".join(f"{100 * c:.1f}%" for c in sorted(chance)) + "."


def decode_table(infer: dict, batch_size: int = 1) -> str:
    """ms per decode step (median [IQR] over interleaved rounds) and the exact state / KV cache bytes per
    context, from `retlab bench infer`'s JSON."""
    points = {
        (p["decoder"], p["context"]): p
        for p in infer["points"]
        if p["batch_size"] == batch_size and "skipped" not in p
    }
    speed = {c["context"]: c for c in infer["comparisons"] if c["batch_size"] == batch_size}
    body = []
    for ctx in infer["settings"]["contexts"]:
        r, s, d = (points[(name, ctx)] for name in ("retnet", "transformer-static", "transformer-dynamic"))
        body.append(
            [
                f"{ctx:,}",
                _spread(r["time_per_token_ms"]),
                _spread(s["time_per_token_ms"]),
                _spread(d["time_per_token_ms"]),
                _spread(speed[ctx]["speedup"]) + "×",
                f"{r['state_bytes'] / 2**20:.2f}",
                f"{d['state_bytes'] / 2**20:.2f}",
            ]
        )
    headers = [
        "context",
        "RetNet ms/token",
        "Transformer++ static ms/token",
        "Transformer++ dynamic ms/token",
    ]
    headers += ["RetNet speed-up", "RetNet state MiB", "Transformer++ KV cache MiB (at the context)"]
    load = infer["load_average"]
    when = (
        f"Measured {infer['measured_at']} on {infer['device']}, {infer['dtype']}, under load: load average "
    )
    return (
        md(headers, body, ["--:"] * 7)
        + f"\n\n{when}{load['start']:.1f} at the start, {load['end']:.1f} at the end."
    )


def _spread(s: dict) -> str:
    return f"{s['median']:.2f} [{s['q1']:.2f}–{s['q3']:.2f}]"


def timing_table(raw: Path, kinds: list[str]) -> str:
    """What each findings sweep (and the scaling study) took: its wall time from start to end (the sum of its
    recorded sessions where it recorded them, else from the first trial's start to the last trial's end, from
    trial_times.csv), the most trials that ran at once, and the trials' own times (start to end, `retlab eval`
    included), summed and per trial. With trials side by side (Ray) the sum is more than the wall time. Both
    start at the first trial: the data preparation before it (shared by the trials) is not counted."""
    body = []
    for kind in kinds:
        folder = Path(raw) / kind
        spans = [(_seconds(r["started_at"]), _seconds(r["finished_at"])) for r in read_rows(folder / TIMES)]
        sessions = read_sessions(folder)
        if sessions and all(x["finished_at"] for x in sessions):
            wall = sum(_seconds(x["finished_at"]) - _seconds(x["started_at"]) for x in sessions)
            source = f"{len(sessions)} recorded session" + ("s" if len(sessions) > 1 else "")
        else:
            wall, source = max(b for _, b in spans) - min(a for a, _ in spans), "trial file times"
        config = f"configs/{findings_scaling.study_name(folder)}.yaml" if kind == "scaling" else None
        times = [b - a for a, b in spans]
        body.append(
            [
                f"`{config or f'configs/findings-{kind}.yaml'}`",
                str(len(spans)),
                f"{wall / 60:.1f}",
                source,
                str(_most_at_once(spans)),
                f"{sum(times) / 60:.1f}",
                f"{statistics.median(times) / 60:.1f}",
            ]
        )
    headers = ["config", "trials", "wall time (min)", "wall time from", "most trials at once"]
    headers += ["trial times, summed (min)", "median per trial (min)"]
    return md(headers, body, ["---", "--:", "--:", "---", "--:", "--:", "--:"])


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of the (start, end) intervals that overlap at one moment."""
    # At a tie an end sorts before a start: a trial that starts as another ends does not overlap it.
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return max(most, 1) if spans else 0  # a trial that took under a second still ran


def tables(raw: Path, infer: Path | None = None) -> dict[str, str]:
    """{block name: markdown} of every table the raw files (and the decode benchmark) support."""
    raw = Path(raw)
    runs = {
        kind: read_rows(raw / kind / "trials.csv") for kind in KINDS if (raw / kind / "trials.csv").is_file()
    }
    out = {}
    if "lm" in runs:
        out["lm"] = lm_table(runs["lm"])
        if bands(runs["lm"]):
            out["position"] = position_table(runs["lm"])
    if "mqar" in runs:
        out["mqar"] = mqar_table(runs["mqar"])
    if infer is not None and Path(infer).is_file():
        out["decode"] = decode_table(read_json(infer))
    out |= findings_scaling.scaling_blocks(raw / "scaling")
    timed = [kind for kind in (*KINDS, "scaling") if (raw / kind / TIMES).is_file()]
    if timed:
        out["timing"] = timing_table(raw, timed)
    return out


BLOCK = re.compile(r"<!-- findings:([\w-]+) -->\n(.*?)<!-- /findings:\1 -->", re.S)


def blocks(doc: str) -> dict[str, str]:
    """{name: content} of the generated blocks of a findings document."""
    return {m.group(1): m.group(2).removesuffix("\n") for m in BLOCK.finditer(doc)}


def fill(doc: str, generated: dict[str, str]) -> str:
    """`doc` with each generated block's content replaced (blocks with no table are left as they are)."""

    def one_block(m: re.Match) -> str:
        name = m.group(1)
        if name not in generated:
            return m.group(0)
        return f"<!-- findings:{name} -->\n{generated[name]}\n<!-- /findings:{name} -->"

    return BLOCK.sub(one_block, doc)


# ---------------------------------------------------------------- plots


def plots(raw: Path) -> list[Path]:
    """Every plot the raw files support, written beside them; returns their paths."""
    from . import findings_plots as fp

    raw, out = Path(raw), []
    if (raw / "lm" / "trials.csv").is_file():
        lm = read_rows(raw / "lm" / "trials.csv")
        out.append(fp.lm_curves(lm, read_rows(raw / "lm" / "curves.csv"), raw / "lm_curves.png"))
        out.append(fp.ppl_vs_params(lm, raw / "lm_ppl.png"))
        if (raw / "lm" / "position_loss.csv").is_file():
            out.append(
                fp.position_curves(lm, read_rows(raw / "lm" / "position_loss.csv"), raw / "position_loss.png")
            )
    if (raw / "mqar" / "trials.csv").is_file():
        mqar = read_rows(raw / "mqar" / "trials.csv")
        out.append(fp.mqar_accuracy(mqar, kv_keys, raw / "mqar_accuracy.png"))
        out.append(fp.mqar_vs_seq_len(mqar, kv_keys, raw / "mqar_seq_len.png"))
    return out + findings_scaling.scaling_plots(raw / "scaling")


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m retlab.report.findings", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="run folders -> raw results")
    for kind in KINDS:
        c.add_argument(f"--{kind}", type=Path, help=f"run folder of the findings-{kind} sweep")
    c.add_argument("--scaling", type=Path, help="run folder of a finished `retlab scaling` study")
    c.add_argument("--out", type=Path, default=Path("docs/findings"))
    r = sub.add_parser("render", help="raw results -> tables in the documents, and plots")
    r.add_argument("--raw", type=Path, default=Path("docs/findings"))
    r.add_argument("--doc", type=Path, default=Path("docs/findings.md"))
    r.add_argument("--readme", type=Path, default=Path("README.md"), help="its findings:scaling-readme block")
    r.add_argument("--infer", type=Path, default=Path("benchmarks/results/cpu/infer.json"))
    args = p.parse_args(argv)
    if args.command == "collect":
        for kind in KINDS:
            if getattr(args, kind) is not None:
                n = collect(getattr(args, kind), args.out / kind)
                print(f"findings: {n} trials of {getattr(args, kind)} -> {args.out / kind}")
        if args.scaling is not None:
            n = findings_scaling.collect_scaling(args.scaling, args.out / "scaling")
            print(f"findings: {n} trials of {args.scaling} -> {args.out / 'scaling'}")
        return 0
    generated = tables(args.raw, args.infer)
    readme = {k: v for k, v in generated.items() if k in findings_scaling.README_BLOCKS}
    generated = {k: v for k, v in generated.items() if k not in readme}
    for path, mine in ((args.doc, generated), (args.readme, readme)):
        if mine:
            if not path.is_file():
                raise SystemExit(f"findings: {path} not found (its tables: {', '.join(sorted(mine))})")
            text = path.read_text(encoding="utf-8")
            atomic_write_text(path, fill(text, mine))
            print(f"findings: tables {', '.join(sorted(mine))} -> {path}")
            missing = sorted(set(mine) - set(blocks(text)))
            if missing:
                print(f"findings: no block for {', '.join(missing)} in {path}", file=sys.stderr)
    for path in plots(args.raw):
        print(f"findings: plot -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
