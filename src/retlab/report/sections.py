"""The report's sections. Each takes the runs and the report folder and returns its Markdown (headed `## ...`)
with PNGs written into the report folder and linked by relative path, or `NotRun` (what is missing and how to
produce it): the report leaves those out and names them in one line.

Every number comes from a run's files (config.yaml, the exports' config.json, metrics.json, the CSV logs,
eval/results.json, bench/*.json) and is shown through format.py; every model is drawn in its architecture's
colour (palette.py)."""

import re
from dataclasses import dataclass, fields
from pathlib import Path

from ..bench import table as bench_table
from ..bench.plots import bench_plots
from ..bench.summary import crossover_text, train_headline
from ..bench.timer import summarize
from ..models.specs import SHARED_FIELDS, DataShape, spec_for
from . import format as f
from .palette import arch_of
from .plots import Model, loss_curves, mqar_plot, position_loss_plot
from .runs import Run


@dataclass(frozen=True)
class NotRun:
    """A section the runs have nothing for: `what` it would show, `how` to produce it."""

    what: str
    how: str


# ---------------------------------------------------------------------------------------------------- helpers


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table of formatted cells (anything not yet a string goes through format.show)."""

    def cell(value) -> str:
        return (value if isinstance(value, str) else f.show(value)).replace("|", "\\|")

    cells = [[cell(c) for c in row] for row in rows]
    align = ["---"] + ["--:" if all(_numeric(r[i]) for r in cells) else "---" for i in range(1, len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    """A cell to right-align: a figure (with its unit or spread) or the missing mark, not a name or a setting."""
    return text == f.MISSING or bool(re.match(r"[-+]?[\d.,]+(?:e[-+]\d+)?(?:\s|%|x|$|\s?\[)", text))


def dotted(d: dict | None, key: str):
    for part in key.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def label(run: Run, arch: str, runs: list[Run]) -> str:
    return arch if len(runs) == 1 else f"{run.name}/{arch}"


def models(runs: list[Run]) -> list[tuple[Run, str, Model]]:
    """(run, arch, plotted model) of every trained architecture, runs in order, `compare` order within a run."""
    return [
        (run, arch, Model(label(run, arch, runs), arch, i))
        for i, run in enumerate(runs)
        for arch in run.archs()
    ]


def image(path: Path, out_dir: Path, caption: str) -> str:
    return f"![{caption}]({path.relative_to(out_dir).as_posix()})"


# ---------------------------------------------------------------------------------------------------- configuration

MODEL_FIELDS = (  # fields of the exports' config.json, in table order (those of the arch's spec are shown)
    "hidden_size",
    "num_hidden_layers",
    "num_heads",
    "intermediate_size",
    "value_dim",
    "decay",
    "retention_mode",
    "chunk_size",
    "positional",
    "tie_word_embeddings",
    "dropout",
)
RUN_SETTINGS = (  # config.yaml keys, in table order (keys a run does not set are left out)
    "model.hf_overrides",
    "data.source",
    "data.name",
    "data.path",
    "data.seq_len",
    "data.max_tokens",
    "data.max_documents",
    "tokenizer.path",
    "data.mqar.num_kv_pairs",
    "data.mqar.num_queries",
    "data.mqar.train_examples",
    "train.lr",
    "train.schedule",
    "train.warmup_steps",
    "train.weight_decay",
    "train.batch_size",
    "train.accumulate_grad_batches",
    "train.max_steps",
    "train.max_tokens",
    "train.precision",
    "seed",
)


def configs_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """One column per trained model with the values it actually used: the model's own from its export (sizes
    after parameter matching, the data's real vocabulary), the run's from its config.yaml."""
    found = models(runs)
    if not found:
        return NotRun("configurations", "train with `retlab run --config FILE`")
    columns = [(run, arch, run.model_config(arch) or {}, run.metrics(arch) or {}) for run, arch, _ in found]
    rows = [["parameters"] + [f.count(m["params"]) if "params" in m else f.MISSING for *_, m in columns]]
    for field in MODEL_FIELDS:
        values = [_model_field(exported, metrics, field) for _, _, exported, metrics in columns]
        rows.append([f"model.{field}"] + [f.setting(v) for v in values])
    rows.append(
        ["vocabulary (tokens)"]
        + [f.setting(_model_field(exported, {}, "vocab_size")) for *_, exported, _ in columns]
    )
    rows.append(
        ["context (max_position_embeddings)"]
        + [f.setting(_model_field(exported, {}, "max_position_embeddings")) for *_, exported, _ in columns]
    )
    configs = {run.name: run.config() or {} for run in runs}
    source = {run.name: dotted(configs[run.name], "data.source") for run in runs}
    for key in RUN_SETTINGS:
        if key.startswith("data.mqar.") and "mqar" not in source.values():
            continue
        rows.append([key] + [f.setting(dotted(configs[run.name], key)) for run, *_ in columns])
    rows = [r for r in rows if any(c != f.MISSING for c in r[1:])]
    note = (
        "The values each model was trained with: model sizes from each export (`<arch>/best/config.json`, after "
        "parameter matching), the vocabulary the data really has, and the run's settings from `config.yaml`. "
        f"{f.MISSING} marks a field the architecture does not have."
    )
    return "\n".join(["## Configurations", "", note, "", md_table(["setting", *_labels(found)], rows)])


def _model_field(exported: dict, metrics: dict, field: str):
    """`field` of the `model` section as the export holds it, read through its architecture's spec (an `hf:` type
    names its fields its own way); None where the architecture has no such field."""
    try:
        spec = spec_for(exported)
    except ValueError:  # not a model type retlab knows: the keys as they are
        return exported.get(field)
    taken = (*SHARED_FIELDS, "intermediate_size", *spec.model_fields, *(d.name for d in fields(DataShape)))
    if not spec.is_hf and field not in taken:
        return None
    value = spec.read(exported, field)
    return metrics.get(field) if value is None and field == "intermediate_size" else value


def _labels(found) -> list[str]:
    return [model.label for *_, model in found]


# ---------------------------------------------------------------------------------------------------- training


def loss_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    curves = {model: run.log_rows(arch) for run, arch, model in models(runs)}
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return NotRun("training curves", "`retlab run` logs them to `<arch>/logs/csv/`")
    path = loss_curves(curves, out_dir / "loss_curves.png")
    note = (
        "Every step logged, over every session of a resumed run; validation results as markers at the steps "
        "they were taken (nothing is drawn between two validations)."
    )
    return "\n".join(
        ["## Training and validation", "", note, "", image(path, out_dir, "training and validation")]
    )


def metrics_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    found = {model.label: (run.metrics(arch), run.log_rows(arch)) for run, arch, model in models(runs)}
    found = {k: v for k, v in found.items() if v[0]}
    if not found:
        return NotRun(
            "test metrics", "train with `retlab run` (each architecture writes `<arch>/metrics.json`)"
        )
    keys = [k for k in f.METRICS if any(k in m for m, _ in found.values())]
    keys += sorted(
        {k for m, _ in found.values() for k, v in m.items() if _is_number(v)} - set(keys) - f.NOT_SHOWN
    )
    rows = []
    for key in keys:
        rows.append([f.name_of(key)] + [f.metric(key, m.get(key)) for m, _ in found.values()])
        if key == "train_tokens_per_s":
            rows.append(
                ["training throughput per logged window, median [IQR]"]
                + [f.show(logged_throughput(logs), "rate") for _, logs in found.values()]
            )
    note = (
        "From each `<arch>/metrics.json`; test figures are the best checkpoint's on the test split. Times are one "
        "run's; the logged throughput's spread is over the windows `throughput/tokens_per_s` was logged for."
    )
    return "\n".join(["## Test metrics", "", note, "", md_table(["metric", *found], rows)])


def logged_throughput(rows: list[dict[str, float]]) -> dict | None:
    """Median and IQR of the training throughput logged during the fit (each a mean over recent batches)."""
    values = [r["throughput/tokens_per_s"] for r in rows if r.get("throughput/tokens_per_s")]
    return summarize(values) if values else None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------------- evaluation

OWN_SECTIONS = ("mqar", "position_loss")  # tasks of results.json with a section of their own


def eval_models(runs: list[Run]) -> list[tuple[Model, dict, dict]]:
    """(plotted model, scores by task, model entry) of every model in the runs' eval/results.json, in its order:
    {"labels": [...], "results": {label: {task: {"n", metric: {"value", "stderr"}}}}, "models": {label: {...}}}."""
    out = []
    for i, run in enumerate(runs):
        results = run.eval_results() or {}
        scores, entries = results.get("results", {}), results.get("models", {})
        for name in results.get("labels") or list(scores):
            arch = arch_of(name, run.archs())  # a run's own models are named after their architectures
            model = Model(name if len(runs) == 1 else f"{run.name}/{name}", arch, i)
            out.append((model, scores.get(name, {}), entries.get(name, {})))
    return out


def eval_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """Test perplexity and the lm-eval tasks (each score ± its standard error where there is one)."""
    found = eval_models(runs)
    rows: dict[str, list] = {}
    counts: dict[str, int] = {}
    for i, (_, tasks, _) in enumerate(found):
        for task, metrics in tasks.items():
            if task in OWN_SECTIONS or not isinstance(metrics, dict):
                continue
            counts[task] = metrics.get("n", counts.get(task))
            for metric, v in metrics.items():
                if isinstance(v, dict) and "value" in v:
                    row = rows.setdefault(f"{task}: {metric}", [f.MISSING] * len(found))
                    row[i] = f.score(v, f.kind_of(metric))
    if not rows:
        return NotRun(
            "evaluation",
            "on a text run, `retlab eval` scores test perplexity and the lm-eval tasks of `eval.tasks`",
        )
    settings = next((r.eval_results() or {}).get("settings", {}) for r in runs)
    limit = settings.get("limit")
    note = (
        "From `eval/results.json` (`retlab eval`): values ± standard error where there is one; losses in "
        "nats/token, accuracies in %. Examples scored: "
        + ", ".join(f"{task} {f.count(n)}" for task, n in counts.items() if n is not None)
        + (f" (lm-eval tasks capped at {f.count(limit)} by `eval.limit`)." if limit else ".")
    )
    table = md_table(
        ["task: metric", *(m.label for m, _, _ in found)], [[k, *v] for k, v in sorted(rows.items())]
    )
    return "\n".join(["## Evaluation", "", note, "", table])


def position_loss_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """eval/results.json's position_loss: the bands (a table) and the bucketed curve (a plot)."""
    found = {model: s["position_loss"] for model, s, _ in eval_models(runs) if "position_loss" in s}
    if not found:
        return NotRun("loss by token position", "set `eval.position_loss_multiples: [1, 2, 4]` on a text run")
    first = next(iter(found.values()))
    seq_len, multiples = first["seq_len"], first["multiples"]
    bands = [k for k in first if k.startswith("loss_")]
    rows = [
        [band_label(band, seq_len)] + [f.score(p.get(band) or {}, "loss") for p in found.values()]
        for band in bands
    ]
    path = position_loss_plot(
        {k: p["curve"] for k, p in found.items()}, seq_len, multiples, out_dir / "position_loss.png"
    )
    note = (
        f"Mean test loss (nats/token ± standard error over {f.count(first['n'])} windows of "
        f"{f.count(max(multiples) * seq_len)} tokens) by band of positions, in multiples of the trained length "
        f"{f.count(seq_len)}: positions from {f.count(seq_len)} on were never reached in training."
    )
    table = md_table(["positions", *(m.label for m in found)], rows)
    return "\n".join(
        [
            "## Loss by token position",
            "",
            note,
            "",
            table,
            "",
            image(path, out_dir, "loss by token position"),
            "",
        ]
    )


def band_label(band: str, seq_len: int) -> str:
    """`loss_1x_2x` -> `128–255 (1x–2x)` for a trained length of 128."""
    match = re.fullmatch(r"loss_(\d+)x_(\d+)x", band)
    if not match:
        return band
    low, high = int(match.group(1)), int(match.group(2))
    return f"{f.count(low * seq_len)}–{f.count(high * seq_len - 1)} ({low}x–{high}x)"


def samples_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """The generated samples recorded in eval/results.json (eval.generate_samples)."""
    rows = [
        [model.label, escape(s["prompt"]), escape(s["text"])]
        for model, _, entry in eval_models(runs)
        for s in entry.get("samples") or []
    ]
    if not rows:
        return NotRun("generated samples", "set `eval.generate_samples: true`")
    return "\n".join(["## Generated samples", "", md_table(["model", "prompt", "continuation"], rows)])


def escape(text: str) -> str:
    """Text shown as itself in a Markdown table cell (md_table escapes the `|`)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!~])", r"\\\1", " ".join(text.split()))


def mqar_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """Each model's MQAR accuracy from eval/results.json, per number of key-value pairs and over all queries,
    with its standard error; chance as a reference."""
    found = {model: scores["mqar"] for model, scores, _ in eval_models(runs) if "mqar" in scores}
    if not found:
        return NotRun("MQAR accuracy", "`retlab eval` scores it on a `data.source: mqar` run")
    per_model = {model: mqar_groups(scores) for model, scores in found.items()}
    groups = list(dict.fromkeys(g for per_group in per_model.values() for g in per_group))
    chance = next((s["chance_accuracy"]["value"] for s in found.values() if "chance_accuracy" in s), None)
    path = mqar_plot(per_model, chance, out_dir / "mqar_accuracy.png")
    rows = [
        [group] + [f.score(per_group.get(group) or {}, "percent") for per_group in per_model.values()]
        for group in groups
    ]
    rows.append(["queries scored"] + [f.show(s.get("n"), "count") for s in found.values()])
    note = (
        "Share of queried keys whose value the model predicts (argmax) on the test split (`eval/results.json`), "
        "± standard error, by how many key-value pairs the sequence binds"
        + (f"; guessing among the values scores {f.percent(chance)}." if chance is not None else ".")
    )
    table = md_table(["key-value pairs", *(m.label for m in found)], rows)
    return "\n".join(["## MQAR accuracy", "", note, "", table, "", image(path, out_dir, "MQAR accuracy"), ""])


def mqar_groups(scores: dict) -> dict[str, dict]:
    """{"2 pairs": {"value", "stderr"}, ..., "all queries": {...}} from a results.json mqar entry (`accuracy_kv<K>`,
    `accuracy`); older results that hold "value ± stderr" strings are read too."""
    out = {}
    per_kv = sorted(
        (int(k.removeprefix("accuracy_kv")), v) for k, v in scores.items() if k.startswith("accuracy_kv")
    )
    for kv, v in per_kv:
        out[f"{kv} pairs"] = as_score(v)
    if "accuracy" in scores:
        out["all queries"] = as_score(scores["accuracy"])
    return {k: v for k, v in out.items() if v is not None}


def as_score(v) -> dict | None:
    """{"value", "stderr"} from a score as results.json holds it: that dict, a bare number, or "v ± s"."""
    if isinstance(v, dict) and _is_number(v.get("value")):
        return {"value": v["value"], "stderr": v.get("stderr")}
    if _is_number(v):
        return {"value": v, "stderr": None}
    match = re.fullmatch(r"\s*([-+\d.eE]+)\s*(?:±\s*([-+\d.eE]+))?\s*", v) if isinstance(v, str) else None
    if match:
        return {"value": float(match.group(1)), "stderr": float(match.group(2)) if match.group(2) else None}
    return None


# ---------------------------------------------------------------------------------------------------- benchmarks

BENCH_TITLES = {"infer": "Decoding benchmark", "train": "Training benchmark"}
BENCH_HOW = {  # how to produce each benchmark (`retlab run` with bench.enabled runs the decoding one only)
    "infer": "set `bench.enabled: true` for `retlab run`, or run `retlab bench infer`",
    "train": "run `retlab bench train`",
}
MEMORY_NOTE = (
    "Memory, three figures named apart: **state** is what a decoder keeps between tokens (its KV cache or "
    "recurrent state, counted exactly from its tensors); **working memory of one step** is the peak tensor memory "
    "a decode step needs above that state, measured after the prefill's memory was released; **peak memory of "
    "prefill** is the prefill's peak above the loaded model."
)


def bench_section(runs: list[Run], out_dir: Path, kind: str) -> str | NotRun:
    title = BENCH_TITLES[kind]
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
        context = bench_table.context_line(result)
        md += [context[0].upper() + context[1:] + ".", ""]
        md += [bench_summary(result), ""]
        md += [
            f"- {line}" for line in headline(result) + [n.rstrip(".") + "." for n in result.get("notes", [])]
        ]
        md += ["", *(image(p, out_dir, p.stem.replace("_", " ")) for p in bench_plots(result, folder)), ""]
    if not any_result:
        return NotRun(title.lower(), BENCH_HOW[kind])
    return "\n".join(md)


def headline(result: dict) -> list[str]:
    """Sentences: RetNet's crossover per batch size, how each decoder's state grows; training speed ratios."""
    if result["kind"] == "infer":
        return [crossover(result, x) for x in result.get("crossover", [])] + state_growth(result)
    ratios = train_headline(result)
    return [
        f"{key.split('_over_')[0]} trains at {f.ratio(value)} "
        f"[{f.ratio(ratios[key.replace('@', '_iqr@')][0])}–{f.ratio(ratios[key.replace('@', '_iqr@')][1])}] the "
        f"tokens/s of {key.split('_over_')[1].split('_tokens_per_s')[0]} at sequence length "
        f"{f.count(int(key.split('@')[1]))} (median [IQR] of the per-round ratios)."
        for key, value in ratios.items()
        if "_iqr@" not in key
    ]


def crossover(result: dict, x: dict) -> str:
    """The crossover of one recurrent decoder and batch size, in words (bench/summary.py words it)."""
    contexts = sorted(
        {
            c["context"]
            for c in result["comparisons"]
            if (c["decoder"], c["batch_size"]) == (x["decoder"], x["batch_size"])
        }
    )
    text = crossover_text(x["decoder"], contexts, x["context"], x["status"]) if contexts else x["text"]
    return f"Batch {f.count(x['batch_size'])}: {text}."


def state_growth(result: dict) -> list[str]:
    """Per decoder and batch size: its state from the smallest to the largest context, in words."""
    points = [p for p in result["points"] if "skipped" not in p and p.get("state_bytes") is not None]
    lines = []
    for decoder, batch in dict.fromkeys((p["decoder"], p["batch_size"]) for p in points):
        mine = sorted(
            (p["context"], p["state_bytes"], p["cache"])
            for p in points
            if (p["decoder"], p["batch_size"]) == (decoder, batch)
        )
        (lo, lo_bytes, cache), (hi, hi_bytes, _) = mine[0], mine[-1]
        if lo_bytes == hi_bytes:
            why = " (pre-allocated for the longest sequence it decodes)" if cache == "static" else ""
            growth = (
                f"holds {f.nbytes(lo_bytes)} at every context from {f.count(lo)} to {f.count(hi)} tokens{why}"
            )
        else:
            growth = f"holds {f.nbytes(lo_bytes)} at {f.count(lo)} tokens of context and {f.nbytes(hi_bytes)} at {f.count(hi)}"
        lines.append(f"State of {decoder} (batch {f.count(batch)}): {growth}.")
    return lines


def bench_summary(result: dict) -> str:
    """The result's tables (the columns `retlab bench` prints) and its skipped points."""
    points = [p for p in result["points"] if "skipped" not in p]
    if result["kind"] == "infer":
        tables = [
            "Decoding, per decoder and context:\n\n"
            + md_table(*bench_table.cells(points, bench_table.INFER_DECODE))
        ]
        headers, body = bench_table.comparison_rows(result)
        if body:
            tables.append(
                "RetNet's decode speed-up (tokens/s over tokens/s, per interleaved round), median [IQR]:\n\n"
                + md_table(headers, body)
            )
        if result.get("prefill"):
            tables.append(
                "Prefill, per architecture and context:\n\n"
                + md_table(*bench_table.cells(result["prefill"], bench_table.INFER_PREFILL))
            )
        tables.append(MEMORY_NOTE)
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


# ---------------------------------------------------------------------------------------------------- energy, sweep


def energy_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    rows = []
    for run, arch, model in models(runs):
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
                    model.label,
                    f.seconds(total["duration"]),
                    f.number(total["energy_consumed"]),
                    f.show(per_mtok, "number"),
                    f.number(total["emissions"]),
                ]
            )
    if not rows:
        return NotRun("energy", "set `train.track_emissions: true`")
    headers = ["model", "duration", "energy (kWh)", "energy per million tokens (Wh)", "emissions (kg CO2eq)"]
    return "\n".join(
        ["## Energy", "", "Recorded by CodeCarbon during training.", "", md_table(headers, rows)]
    )


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def sweep_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """The grid-search section of `retlab.report.sweep` for each run that has `sweep/results.csv`."""
    from . import sweep

    return _per_run(runs, out_dir, sweep.sweep_section, "Grid search", "run `retlab sweep --config FILE`")


def scaling_section(runs: list[Run], out_dir: Path) -> str | NotRun:
    """The scaling section of `retlab.report.scaling` for each run that has `scaling/fit.json`."""
    from . import scaling

    return _per_run(runs, out_dir, scaling.scaling_section, "Scaling", "run `retlab scaling --config FILE`")


def _per_run(runs: list[Run], out_dir: Path, build, heading: str, how: str) -> str | NotRun:
    """`build(run folder, PNG folder)` for every run (PNGs in a subfolder per run when there are several),
    headed `## <heading>` (with the run's name when there are several); NotRun (with `how` to produce it) when
    no run has any."""
    parts = []
    for run in runs:
        folder = out_dir / run.name if len(runs) > 1 else out_dir
        text, pngs = build(run.root, folder)
        for png in pngs:  # the section links its PNGs by bare name; make them relative to out_dir
            text = text.replace(f"]({png.name})", f"]({png.relative_to(out_dir).as_posix()})")
        if text and len(runs) > 1:
            text = text.replace(f"## {heading}", f"## {heading}: {run.name}", 1)
        parts.append(text)
    parts = [p for p in parts if p]
    return "\n".join(parts) if parts else NotRun(heading.lower(), how)
