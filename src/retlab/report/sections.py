"""The report's sections. Each takes the runs and the report folder and returns Markdown (headed `## ...`);
PNGs are written into the report folder and linked by relative path. A missing piece reads "not run"."""

import re
from pathlib import Path

import yaml

from ..bench import table as bench_table
from ..bench.plots import bench_plots
from ..bench.summary import train_headline
from .plots import bar_chart, loss_curves, position_loss_plot
from .runs import Run

CONFIG_KEYS = (
    "compare",
    "model.hidden_size",
    "model.num_hidden_layers",
    "model.num_heads",
    "model.intermediate_size",
    "model.value_dim",
    "model.chunk_size",
    "model.decay",
    "model.retention_mode",
    "model.positional",
    "model.hf_overrides",
    "data.source",
    "data.name",
    "data.seq_len",
    "tokenizer.vocab_size",
    "train.lr",
    "train.batch_size",
    "train.max_steps",
    "train.max_tokens",
    "train.precision",
    "seed",
)
MODEL_KEYS = ("hidden_size", "num_hidden_layers", "num_heads", "intermediate_size", "value_dim", "vocab_size")
METRIC_ORDER = (
    "params",
    "best_val_loss",
    "best_val_ppl",
    "test_loss",
    "test_ppl",
    "test_mqar_accuracy",
    "train_tokens_per_s",
    "wall_time_s",
    "steps",
    "tokens",
)
NOT_RUN = "_Not run: {what}._"
# ---------------------------------------------------------------------------------------------------- helpers


def fmt(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):  # e.g. model.hf_overrides, as YAML writes it inline
        return fmt(yaml.safe_dump(value, default_flow_style=True, width=1000).strip() if value else None)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def md_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["--:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dotted(d: dict | None, key: str):
    for part in key.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def label(run: Run, arch: str, runs: list[Run]) -> str:
    return arch if len(runs) == 1 else f"{run.name}/{arch}"


def pairs(runs: list[Run]) -> list[tuple[Run, str]]:
    return [(run, arch) for run in runs for arch in run.archs()]


def image(path: Path, out_dir: Path, caption: str) -> str:
    return f"![{caption}]({path.relative_to(out_dir).as_posix()})"


def model_fields(config: dict) -> list:
    """MODEL_KEYS of an export's config.json, read through its architecture's spec (an `hf:` type names them
    its own way), None where it has no such field."""
    from ..models.specs import spec_for

    try:
        spec = spec_for(config)
    except ValueError:  # not a model type retlab knows: the keys as they are
        return [config.get(k) for k in MODEL_KEYS]
    return [spec.read(config, k) for k in MODEL_KEYS]


# ---------------------------------------------------------------------------------------------------- sections


def configs_section(runs: list[Run], out_dir: Path) -> str:
    md = ["## Configurations", ""]
    configs = {run.name: run.config() for run in runs}
    if any(configs.values()):
        rows = [[key] + [dotted(configs[r.name], key) for r in runs] for key in CONFIG_KEYS]
        md += [md_table(["setting"] + [r.name for r in runs], rows), ""]
    else:
        md += [NOT_RUN.format(what="no config.yaml in the run folders"), ""]
    rows = []
    for run, arch in pairs(runs):
        model = run.model_config(arch) or {}
        params = (run.metrics(arch) or {}).get("params")
        rows.append([label(run, arch, runs), params] + model_fields(model))
    if rows:
        md += ["Trained models (from `<arch>/best/config.json` and `metrics.json`):", ""]
        md += [md_table(["model", "parameters", *MODEL_KEYS], rows)]
    return "\n".join(md)


def loss_section(runs: list[Run], out_dir: Path) -> str:
    md = ["## Training and validation loss", ""]
    curves = {label(run, arch, runs): run.log_rows(arch) for run, arch in pairs(runs)}
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return "\n".join(md + [NOT_RUN.format(what="no CSV training logs (`<arch>/logs/csv/metrics.csv`)")])
    path = loss_curves(curves, out_dir / "loss_curves.png")
    return "\n".join(md + [image(path, out_dir, "training and validation loss"), ""])


def metrics_section(runs: list[Run], out_dir: Path) -> str:
    md = ["## Test metrics", ""]
    found = {label(run, arch, runs): run.metrics(arch) for run, arch in pairs(runs)}
    found = {k: v for k, v in found.items() if v}
    if not found:
        return "\n".join(md + [NOT_RUN.format(what="no `<arch>/metrics.json`")])
    keys = [k for k in METRIC_ORDER if any(k in m for m in found.values())]
    keys += sorted({k for m in found.values() for k, v in m.items() if _is_number(v)} - set(keys))
    rows = [[key] + [m.get(key) for m in found.values()] for key in keys]
    return "\n".join(md + [md_table(["metric", *found], rows)])


def lm_eval_section(runs: list[Run], out_dir: Path) -> str:
    md = ["## lm-eval and evaluation results", ""]
    columns = {}
    for run in runs:
        for arch, flat in per_arch(run.eval_results() or {}, run.archs()).items():
            columns[arch if len(runs) == 1 else f"{run.name}/{arch}"] = flat
    if not columns:
        return "\n".join(md + [NOT_RUN.format(what="no `eval/results.json` (run `retlab eval`)")])
    keys = sorted({k for flat in columns.values() for k in flat})
    rows = [[key] + [flat.get(key) for flat in columns.values()] for key in keys]
    note = "Values ± standard error where the harness gives one."
    return "\n".join(md + [note, "", md_table(["task / metric", *columns], rows)])


def per_arch(results: dict, archs: list[str]) -> dict[str, dict]:
    """{label: {"task/metric": value or "value ± stderr"}} from `eval/results.json`
    ({"labels": [...], "results": {label: {task: {"n", metric: {"value", "stderr"}}}}, ...}); without `labels`,
    the entries named after the run's architectures, else every dict-valued entry."""
    inner = results.get("results", results)
    dicts = [k for k, v in inner.items() if isinstance(v, dict)]
    labels = results.get("labels") or [k for k in dicts if k in archs] or dicts
    return {label: flatten(inner[label]) for label in labels if isinstance(inner.get(label), dict)}


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and _is_number(value.get("value")):  # {"value": v, "stderr": s}
            stderr = value.get("stderr")
            out[name] = f"{value['value']:.4g} ± {stderr:.2g}" if _is_number(stderr) else value["value"]
        elif isinstance(value, dict):
            out.update(flatten(value, f"{name}/"))
        elif _is_number(value):
            out[name] = value
    return out


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def eval_models(runs: list[Run]) -> list[tuple[str, dict, dict]]:
    """(label, scores, model entry) of every model in the runs' eval/results.json, in table order."""
    out = []
    for run in runs:
        results = run.eval_results() or {}
        scores, models = results.get("results", {}), results.get("models", {})
        for name in results.get("labels") or list(scores):
            out.append(
                (name if len(runs) == 1 else f"{run.name}/{name}", scores.get(name, {}), models.get(name, {}))
            )
    return out


def position_loss_section(runs: list[Run], out_dir: Path) -> str:
    """eval/results.json's position_loss: the bands (a table) and the bucketed curve (a plot)."""
    md = ["## Loss by token position (length extrapolation)", ""]
    found = {name: s["position_loss"] for name, s, _ in eval_models(runs) if "position_loss" in s}
    if not found:
        what = "no position_loss in `eval/results.json` (set `eval.position_loss_multiples`, e.g. [1, 2, 4])"
        return "\n".join(md + [NOT_RUN.format(what=what)])
    first = next(iter(found.values()))
    seq_len, multiples = first["seq_len"], first["multiples"]
    bands = [k for k in first if k.startswith("loss_")]
    rows = [[band] + [flatten({band: p.get(band)}).get(band) for p in found.values()] for band in bands]
    path = position_loss_plot(
        {k: p["curve"] for k, p in found.items()}, seq_len, multiples, out_dir / "position_loss.png"
    )
    note = (
        f"Mean test loss (nats/token ± standard error over {first['n']} windows of "
        f"{max(multiples) * seq_len} tokens) by band of positions, in multiples of the trained length "
        f"{seq_len}: `loss_1x_2x` covers positions [{seq_len}, {2 * seq_len}), which training never reached."
    )
    table = md_table(["positions", *found], rows)
    return "\n".join(md + [note, "", table, "", image(path, out_dir, "loss by token position"), ""])


def samples_section(runs: list[Run], out_dir: Path) -> str:
    """The generated samples recorded in eval/results.json (eval.generate_samples)."""
    md = ["## Generated samples", ""]
    rows = [
        [name, escape(s["prompt"]), escape(s["text"])]
        for name, _, model in eval_models(runs)
        for s in model.get("samples") or []
    ]
    if not rows:
        return "\n".join(
            md + [NOT_RUN.format(what="no samples in `eval/results.json` (set `eval.generate_samples`)")]
        )
    return "\n".join(md + [md_table(["model", "prompt", "continuation"], rows)])


def escape(text: str) -> str:
    """Text shown as itself in a Markdown table cell (md_table escapes the `|`)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!~])", r"\\\1", " ".join(text.split()))


def mqar_section(runs: list[Run], out_dir: Path) -> str:
    md = ["## MQAR accuracy", ""]
    values = {}
    for run in runs:
        found = {arch: run.metrics(arch) or {} for arch in run.archs()}
        found |= {
            f"{arch} eval": flat for arch, flat in per_arch(run.eval_results() or {}, run.archs()).items()
        }
        for arch, flat in found.items():
            for key, value in flat.items():
                if "mqar" in key.lower() and "acc" in key.lower() and _is_number(value):
                    values[f"{label(run, arch, runs)} {key}"] = value
    if not values:
        return "\n".join(md + [NOT_RUN.format(what="no MQAR metrics (train on `data.source: mqar`)")])
    path = bar_chart(values, "accuracy", "multi-query associative recall", out_dir / "mqar_accuracy.png")
    rows = [[k, v] for k, v in values.items()]
    return "\n".join(
        md + [md_table(["model / metric", "accuracy"], rows), "", image(path, out_dir, "MQAR accuracy")]
    )


def bench_section(runs: list[Run], out_dir: Path, kind: str) -> str:
    title = {"infer": "Inference benchmark (decoding)", "train": "Training benchmark"}[kind]
    md = [f"## {title}", ""]
    any_result = False
    for run in runs:
        result = run.bench(kind)
        if not result:
            continue
        any_result = True
        folder = out_dir / run.name if len(runs) > 1 else out_dir
        if len(runs) > 1:
            md += [f"### {run.name}", ""]
        md += [bench_table.context_line(result) + ".", ""]
        md += [bench_summary(result), ""]
        md += [f"- {line}" for line in headline(result)] + [""]
        md += [f"- {note}" for note in result.get("notes", [])] + [""]
        md += [image(p, out_dir, p.stem.replace("_", " ")) for p in bench_plots(result, folder)] + [""]
    if not any_result:
        md.append(NOT_RUN.format(what=f"no `bench/{kind}.json` (run `retlab bench {kind}`)"))
    return "\n".join(md)


def headline(result: dict) -> list[str]:
    """Sentences: RetNet's crossover per batch size; training speed ratios with their IQR."""
    if result["kind"] == "infer":
        return [f"batch {x['batch_size']}: {x['text']}" for x in result.get("crossover", [])]
    ratios = train_headline(result)
    return [
        f"{key.replace('_over_', ' / ').replace('@', ' at ')}: {value:.2f} "
        f"[{ratios[key.replace('@', '_iqr@')][0]:.2f}-{ratios[key.replace('@', '_iqr@')][1]:.2f}]"
        for key, value in ratios.items()
        if "_iqr@" not in key
    ]


def bench_summary(result: dict) -> str:
    """The result's tables (the same columns `retlab bench` prints) and its skipped points."""
    points = [p for p in result["points"] if "skipped" not in p]
    if result["kind"] == "infer":
        tables = [md_table(*bench_table.cells(points, bench_table.INFER_DECODE))]
        headers, body = bench_table.comparison_rows(result)
        if body:
            tables.append(
                "Decode speed-up per interleaved round, median [IQR]:\n\n" + md_table(headers, body)
            )
        if result.get("prefill"):
            tables.append(md_table(*bench_table.cells(result["prefill"], bench_table.INFER_PREFILL)))
    else:
        tables = [md_table(*bench_table.cells(points, bench_table.TRAIN))]
    table = "\n\n".join(tables)
    skipped = [p for p in result["points"] if "skipped" in p]
    if skipped:
        table += "\n\nSkipped: " + "; ".join(f"{_point_name(p)} ({p['skipped']})" for p in skipped)
    return table


def _point_name(p: dict) -> str:
    if "context" in p:
        return f"{p.get('decoder', p['arch'])} batch {p['batch_size']} context {p['context']}"
    return f"{p['variant']} seq {p['seq_len']}"


def energy_section(runs: list[Run], out_dir: Path) -> str:
    md = ["## Energy", ""]
    rows = []
    for run, arch in pairs(runs):
        records = run.emissions(arch)
        if records:
            total = {
                k: sum(_float(r.get(k)) for r in records)
                for k in ("duration", "energy_consumed", "emissions")
            }
            tokens = (run.metrics(arch) or {}).get("tokens")
            per_mtok = total["energy_consumed"] * 1e3 / (tokens / 1e6) if tokens else None
            rows.append(
                [
                    label(run, arch, runs),
                    total["duration"],
                    total["energy_consumed"],
                    per_mtok,
                    total["emissions"],
                ]
            )
    if not rows:
        return "\n".join(md + [NOT_RUN.format(what="no `emissions.csv` (set `train.track_emissions: true`)")])
    headers = ["model", "duration_s", "energy_kwh", "energy_wh_per_mtoken", "emissions_kg_co2eq"]
    return "\n".join(md + ["Recorded by CodeCarbon during training.", "", md_table(headers, rows)])


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def sweep_section(runs: list[Run], out_dir: Path) -> str:
    """The grid-search section of `retlab.report.sweep` for each run that has `sweep/results.csv`."""
    from . import sweep

    parts = []
    for run in runs:
        folder = out_dir / run.name if len(runs) > 1 else out_dir
        text, pngs = sweep.sweep_section(run.root, folder)
        for png in pngs:  # the sweep section links its PNGs by bare name; make them relative to out_dir
            text = text.replace(f"]({png.name})", f"]({png.relative_to(out_dir).as_posix()})")
        if text and len(runs) > 1:
            text = text.replace("## Grid search", f"## Grid search: {run.name}", 1)
        parts.append(text)
    parts = [p for p in parts if p]
    return "\n".join(parts) if parts else "## Grid search\n\n" + NOT_RUN.format(what="no `sweep/results.csv`")
