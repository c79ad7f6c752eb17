"""`retlab eval`: perplexity (or MQAR accuracy) on the test split and lm-evaluation-harness tasks, for every model
of the run side by side. Writes runs/<name>/eval/results.json atomically and prints one table; cached by a
fingerprint of the eval settings, the data settings and the model files (`--force` reruns). Test perplexity
always reads the whole test split; `eval.limit` caps the harness's tasks only.

results.json:
    {"labels": [label, ...],                                          column order of the table
     "results": {label: {task: {"n": ..., metric: {"value", "stderr"}}}},
     "models": {label: {"path", "params", "wall_time_s", "samples": [{"prompt", "text"}]}},   samples with
                                                                      eval.generate_samples
     "summary": {label: {"task/metric": value}},                      the flat form that comparison tables merge
     "settings": {...}}
Labels are the architectures for a run's own models. Text runs score task "perplexity" (with the unigram
baseline) and, with eval.position_loss_multiples, "position_loss" (see position_loss.py)."""

import dataclasses
import hashlib
import itertools
import math
import time
from pathlib import Path

from ..console import bar
from ..errors import ConfigError
from ..layout import RunLayout
from ..utils.files import atomic_write_json, atomic_write_text, read_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done
from . import harness
from .checkpoints import load_model, load_tokenizer_for, model_stamp, resolve_device, resolve_models

RESULTS = "results.json"
TABLE = "results.txt"
"""The results table as `retlab eval` prints it, beside results.json."""
UNIGRAM_TRAIN_DOCUMENTS = 10_000
"""Train documents of a streamed dataset whose token frequencies give the unigram baseline."""
VERSION = 2


def _code_digest() -> str:
    """Changes when a task YAML or loader changes, so cached results of old task definitions are not reused."""
    h = hashlib.sha256()
    for f in sorted(harness.TEMPLATES.glob("*")):
        if f.is_file() and f.suffix in (".yaml", ".py"):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def eval_fingerprint(cfg, models: dict[str, Path]) -> str:
    data = {
        "data": dataclasses.asdict(cfg.data),
        "tokenizer": dataclasses.asdict(cfg.tokenizer),
        "seed": cfg.seed,
    }
    stamps = {label: model_stamp(path) for label, path in models.items()}
    samples = dataclasses.asdict(cfg.generate) if cfg.eval.generate_samples else None
    return fingerprint("eval", VERSION, dataclasses.asdict(cfg.eval), data, stamps, samples, _code_digest())


def preflight(cfg) -> dict[str, Path]:
    """The models to evaluate, each checked loadable, and the settings, before anything is written."""
    models = resolve_models(cfg.eval.models, cfg)
    check_settings(cfg)
    return models


def evaluate(cfg, force: bool = False, tables: bool = True) -> dict:
    """Evaluate every model of `cfg.eval.models` (default: each architecture of `cfg.compare`, best checkpoint).
    Prints the results table and the samples, or with `tables=False` (inside `retlab run`, whose final table
    shows the scores) one line; the table is written beside results.json as results.txt either way."""
    e = cfg.eval
    models = preflight(cfg)
    out = RunLayout.of(cfg).eval
    fp = eval_fingerprint(cfg, models)
    if not force and is_up_to_date(out, fp) and (out / RESULTS).is_file():
        print(f"eval: up to date ({out / RESULTS}); --force reruns")
        results = read_json(out / RESULTS)
        if not (out / TABLE).is_file():
            atomic_write_text(out / TABLE, format_table(results) + "\n")
        if tables:
            print(format_table(results))
            print(format_samples(results), end="")
        return results
    task_dir = harness.write_task_dir(e.data_dir, out / "tasks") if e.tasks and e.data_dir else None
    tasks = harness.load_tasks(e.tasks, task_dir) if e.tasks else None  # loaded once, scored for every model
    units = len(models) * (1 + len(tasks[1] if tasks else ()))  # the run's own test split, then each task
    per_model = {}
    with bar("eval", units, "tasks") as update:
        for label, path in models.items():
            per_model[label] = evaluate_model(cfg, label, path, tasks, update)
    scores = {label: m.pop("tasks") for label, m in per_model.items()}
    results = {
        "labels": list(scores),  # column order of the table (the JSON file sorts keys)
        "results": scores,
        "models": per_model,
        "summary": {label: summarize(tasks) for label, tasks in scores.items()},
        "settings": dataclasses.asdict(e) | {"task_dir": str(task_dir) if task_dir else None},
    }
    atomic_write_json(out / RESULTS, results)
    atomic_write_text(out / TABLE, format_table(results) + "\n")
    mark_done(out, fp)
    if tables:
        print(format_table(results))
        print(format_samples(results), end="")
        print(f"eval: -> {out / RESULTS}")
    else:
        per = units // len(models)
        print(f"eval: {len(models)} models x {per} task{'s' * (per > 1)} -> {out / TABLE} (and {RESULTS})")
    return results


def check_settings(cfg) -> None:
    """Settings that would fail only after models are loaded, checked up front."""
    e = cfg.eval
    harness.check_tasks(e.tasks, e.data_dir)
    if e.tasks and cfg.data.source == "mqar":
        raise ConfigError(
            "eval.tasks",
            "MQAR models know only the words of their task (k0 v0 ...), not the text of lm-eval tasks",
            "clear eval.tasks for MQAR runs",
        )
    if e.position_loss_multiples and cfg.data.source == "mqar":
        raise ConfigError(
            "eval.position_loss_multiples",
            "MQAR sequences are independent examples of data.seq_len tokens, not a text stream",
            "clear eval.position_loss_multiples for MQAR runs",
        )
    if e.stride is not None and e.stride > cfg.data.seq_len:
        raise ConfigError(
            "eval.stride",
            f"{e.stride} is larger than the perplexity window data.seq_len={cfg.data.seq_len} (tokens would go unscored)",
            f"use at most {cfg.data.seq_len}",
        )


def evaluate_model(cfg, label: str, path: Path, harness_tasks: tuple | None, progress=None) -> dict:
    """{"path", "params", "wall_time_s", "tasks": {...}} of one model; `harness_tasks` = load_tasks(...) or None.
    `progress(advance=0, info=None)` (a console bar's update) hears of each task: the test split's, then each
    harness task."""
    e, t0 = cfg.eval, time.perf_counter()
    progress = progress or (lambda advance=0, info=None: None)
    own = "mqar" if cfg.data.source == "mqar" else "perplexity"
    progress(info=f"{label} {own}")
    model = load_model(path, resolve_device(e.device))
    tokenizer = load_tokenizer_for(path, cfg)
    tasks = {}
    if cfg.data.source == "mqar":
        from .mqar import mqar_scores

        tasks["mqar"] = mqar_scores(model, cfg, e.batch_size)
    else:
        tasks["perplexity"] = split_perplexity(cfg, model, tokenizer)
        if e.position_loss_multiples:
            tasks["position_loss"] = split_position_loss(cfg, model, tokenizer)
    progress(1)
    if harness_tasks:  # text runs only (check_settings), so the tokenizer exists: perplexity needed it
        lm = harness.harness_lm(model, tokenizer, e.batch_size, e.max_length or cfg.data.seq_len)
        manager, loaded = harness_tasks
        for name, task in loaded.items():  # one at a time, so the bar counts tasks (each seeded alike)
            progress(info=f"{label} {name.removeprefix(harness.LOCAL_PREFIX)}")
            tasks |= harness.run_tasks(lm, [task], manager, e.num_fewshot, e.limit, cfg.seed)
            progress(1)
    params = sum(p.numel() for p in model.parameters())
    out = {"path": str(path), "params": params, "wall_time_s": time.perf_counter() - t0, "tasks": tasks}
    if e.generate_samples:
        out["samples"] = generate_samples(cfg, path)
    return out


def split_perplexity(cfg, model, tokenizer) -> dict:
    """Perplexity on the run's test split, windows of data.seq_len tokens moved by eval.stride."""
    from ..data.download import split_documents
    from .perplexity import perplexity, unigram_loss

    if tokenizer is None:
        raise ConfigError(
            "tokenizer",
            "the model has no tokenizer and the run has none",
            "evaluate an export that includes its tokenizer",
        )
    window = cfg.data.seq_len
    stride = cfg.eval.stride or window
    r = perplexity(model, tokenizer, split_documents(cfg, "test"), window, stride, cfg.eval.batch_size)
    metrics = {k: {"value": r[k], "stderr": None} for k in ("loss", "ppl", "bits_per_byte")}
    train = split_documents(cfg, "train")
    if cfg.data.streaming:  # a streamed train split may be any size: its head is a big enough unigram sample
        train = itertools.islice(train, UNIGRAM_TRAIN_DOCUMENTS)
    baseline = math.exp(unigram_loss(tokenizer, train, split_documents(cfg, "test")))
    metrics["unigram_baseline_ppl"] = {"value": baseline, "stderr": None}
    return {"n": r["tokens"], **metrics, "bytes": r["bytes"], "window": window, "stride": stride}


def split_position_loss(cfg, model, tokenizer) -> dict:
    """Loss by token position on windows of max(eval.position_loss_multiples) x data.seq_len test tokens."""
    from ..data.download import iter_documents, splits_dir
    from .position_loss import position_loss

    e = cfg.eval
    docs = iter_documents(splits_dir(cfg), "test")
    try:
        return position_loss(
            model, tokenizer, docs, cfg.data.seq_len, e.position_loss_multiples, e.batch_size
        )
    except ValueError as err:
        raise ConfigError(
            "eval.position_loss_multiples",
            f"the test split has {err}",
            "use smaller multiples or a larger test split (data.splits)",
        ) from None


def generate_samples(cfg, path: Path) -> list[dict]:
    """[{"prompt", "text"}] of `path` continuing generate.prompts (printed as they are generated)."""
    from .generate import generate

    g = dataclasses.replace(cfg.generate, model=str(path))
    r = generate(dataclasses.replace(cfg, generate=g))
    return [{"prompt": p, "text": t} for p, t in zip(r["prompts"], r["texts"], strict=True)]


def format_samples(results: dict) -> str:
    """Each model's generated samples, one `label: prompt + text` line each ("" when none were generated)."""
    lines = []
    for label in results.get("labels") or list(results["results"]):
        for s in results.get("models", {}).get(label, {}).get("samples") or []:
            lines.append(f"sample {label}: {s['prompt']}{s['text']}")
    return "".join(line.replace("\n", " ") + "\n" for line in lines)


def summarize(tasks: dict) -> dict[str, float]:
    """{"task/metric": value} of every scored metric, for merging into comparison tables."""
    return {
        f"{task}/{metric}": v["value"]
        for task, metrics in tasks.items()
        for metric, v in metrics.items()
        if isinstance(v, dict) and "value" in v
    }


def format_table(results: dict) -> str:
    """One row per (task, metric), one column per model: value ± stderr, in the format of the metric's kind
    (report/format.py)."""
    from ..report.format import MISSING, kind_of, show

    labels = results.get("labels") or list(results["results"])
    rows: dict[tuple[str, str], list[str]] = {}
    for i, label in enumerate(labels):
        for task, metrics in results["results"][label].items():
            for metric, v in metrics.items():
                if isinstance(v, dict) and "value" in v:
                    rows.setdefault((task, metric), [MISSING] * len(labels))[i] = show(v, kind_of(metric))
    first = ("perplexity", "mqar")  # the run's own test split, then the harness's tasks alphabetically
    order = sorted(rows, key=lambda tm: (tm[0] not in first, tm))
    table = [["task", "metric", *labels]] + [[t, m, *rows[t, m]] for t, m in order]
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
