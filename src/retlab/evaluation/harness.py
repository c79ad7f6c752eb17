"""lm-evaluation-harness through its Python API, on local task data or the harness's own Hub tasks.

Local tasks are retlab's YAMLs in `tasks/`: each `include:`s the harness's built-in task (prompt, choices,
target, metrics) and replaces only the data source by a loader in `tasks/utils.py` that reads the original
files under `eval.data_dir`. The YAMLs hold `$LM_EVAL_TASKS` and `$DATA_DIR`; `write_task_dir` renders them
with absolute paths (so nothing depends on the working directory) into a folder that the stock `lm_eval` CLI
can also use: `lm_eval --include_path DIR --tasks retlab_piqa ...`."""

import io
import json
import re
import shutil
import string
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from ..errors import ConfigError
from ..utils.files import atomic_dir

SUPPORTED_TASKS = (
    "hellaswag",
    "winogrande",
    "piqa",
    "arc_easy",
    "arc_challenge",
    "lambada_openai",
    "boolq",
    "openbookqa",
    "sciq",
    "wikitext",
)
# What lm-eval prints that says nothing about a retlab evaluation (regexes of whole lines): its CLI's hints, its
# notes on being handed an already-loaded model, the bootstrap's announcement. Its progress bars are dropped too
# (retlab's eval bar counts the tasks); any other line it prints is shown (quiet()).
HARMLESS_OUTPUT = (
    r".*: Custom kwargs can be passed to `--metadata` .*",
    r"For example --metadata=.*",
    r"`pretrained` model kwarg is not of type `str`\. .*",
    r"Passed an already-initialized model through `pretrained`, .*",
    r"bootstrapping for stddev: .*",
)
_TQDM = re.compile(
    r"\[\d\d:\d\d(<|, )"
)  # the elapsed time of every tqdm bar: [00:01<00:02, ...] or [00:01, ...]
LOCAL_PREFIX = "retlab_"
TEMPLATES = Path(__file__).parent / "tasks"


def lm_eval_tasks_dir() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def local_task_name(task: str) -> str:
    return LOCAL_PREFIX + task


def check_tasks(tasks: list[str], data_dir: str | None) -> None:
    """With local data only the tasks retlab ships YAMLs for exist; Hub task names are the harness's to check."""
    if data_dir is None or not tasks:
        return
    unknown = [t for t in tasks if t not in SUPPORTED_TASKS]
    if unknown:
        raise ConfigError(
            "eval.tasks",
            f"no local task for {', '.join(unknown)}",
            f"use some of {', '.join(SUPPORTED_TASKS)}, or unset eval.data_dir to use the harness's Hub tasks",
        )
    if not Path(data_dir).is_dir():
        raise ConfigError(
            "eval.data_dir",
            f"'{data_dir}' is not a directory",
            "point it at the eval data (e.g. ../shared/data/eval)",
        )


def _yaml_string(path: Path) -> str:
    return json.dumps(str(path))[1:-1]  # the inside of a double-quoted YAML scalar


def write_task_dir(data_dir: str | Path, out_dir: str | Path) -> Path:
    """Render every local task YAML for `data_dir` into `out_dir` (with the loaders beside them); returns out_dir."""
    values = {
        "LM_EVAL_TASKS": _yaml_string(lm_eval_tasks_dir()),
        "DATA_DIR": _yaml_string(Path(data_dir).resolve()),
    }
    with atomic_dir(out_dir) as tmp:
        for template in sorted(TEMPLATES.glob(f"{LOCAL_PREFIX}*.yaml")):
            text = string.Template(template.read_text(encoding="utf-8")).substitute(values)
            (tmp / template.name).write_text(text, encoding="utf-8")
        shutil.copyfile(TEMPLATES / "utils.py", tmp / "utils.py")
    return Path(out_dir)


def task_manager(task_dir: Path | None):
    """Only retlab's rendered tasks when given (indexing the harness's ~10k YAMLs costs ~10 s), else the harness's."""
    from lm_eval.tasks import TaskManager

    if task_dir is None:
        return TaskManager()
    return TaskManager(include_path=str(task_dir), include_defaults=False)


def harness_lm(model, tokenizer, batch_size: int, max_length: int | None = None):
    """An lm-eval HFLM around an already-loaded model (its device and dtype are kept); inputs longer than
    `max_length` (default: the trained context, max_position_embeddings) lose their oldest tokens."""
    from lm_eval.models.huggingface import HFLM

    max_length = max_length or getattr(model.config, "max_position_embeddings", None)
    # Texts scored from scratch (wikitext's rolling windows) start after <eos>, the document separator retlab
    # trains with, rather than a <bos> its models never see.
    with quiet():
        return HFLM(
            pretrained=model,
            backend="causal",  # retlab's model types are not in transformers' causal-LM registry
            tokenizer=tokenizer,
            batch_size=batch_size,
            max_length=max_length,
            prefix_token_id=tokenizer.eos_token_id,
        )


def load_tasks(tasks: list[str], task_dir: Path | None):
    """(TaskManager, {name: lm-eval Task}) for `tasks`; local tasks when `task_dir` is given, else the Hub's."""
    manager = task_manager(task_dir)
    names = [local_task_name(t) for t in tasks] if task_dir else list(tasks)
    try:
        with quiet():
            return manager, manager.load(names)["tasks"]
    except KeyError as err:  # the harness's message names the unknown spec
        raise ConfigError(
            "eval.tasks", str(err).strip("\"'"), "see `lm_eval ls tasks` for the harness's task names"
        ) from None
    except FileNotFoundError as err:  # a local loader's file
        raise ConfigError(
            "eval.data_dir",
            f"{err.filename or err} is missing",
            "use the layout of shared/data/eval (see its MANIFEST.md)",
        ) from None
    except ConnectionError as err:  # Hub tasks whose data is neither reachable nor cached
        raise ConfigError(
            "eval.data_dir",
            f"unset, and the harness cannot load {', '.join(tasks)} from the Hub ({err})",
            "point eval.data_dir at local task data, e.g. ../shared/data/eval",
        ) from None


def run_tasks(lm, tasks, manager, num_fewshot: int, limit: int | None, seed: int = 0) -> dict:
    """Scores of `tasks` (names or loaded Tasks): {task: {"n": examples, metric: {"value", "stderr"}}}, keyed by
    the plain task name (`piqa` for retlab's local `retlab_piqa`)."""
    from lm_eval import simple_evaluate

    tasks = list(tasks)
    for task in tasks:
        if not isinstance(
            task, str
        ):  # a reused Task keeps its num_fewshot, and the harness never overrides a 0
            task.set_config(key="num_fewshot", value=num_fewshot)
    try:
        with quiet():
            out = simple_evaluate(
                model=lm,
                tasks=tasks,
                num_fewshot=num_fewshot,
                limit=limit,
                task_manager=manager,
                random_seed=seed,
                numpy_random_seed=seed,
                torch_random_seed=seed,
                fewshot_random_seed=seed,
                bootstrap_iters=1000,  # stderr of perplexity-type metrics; the default 100k takes minutes on CPU
                log_samples=False,
            )
    except AssertionError as err:  # the harness asserts that every continuation fits the context
        raise ConfigError(
            "eval.max_length",
            f"an answer of one of {', '.join(map(_task_name, tasks))} is longer than the {lm.max_length}-token context",
            "raise eval.max_length (models then see inputs longer than they were trained on)",
        ) from err
    samples = out.get("n-samples", {})
    return {
        name.removeprefix(LOCAL_PREFIX): {"n": samples.get(name, {}).get("effective"), **parse_metrics(res)}
        for name, res in out["results"].items()
    }


@contextmanager
def quiet():
    """Run lm-eval without its console noise: its progress bars and the lines of HARMLESS_OUTPUT dropped, any other
    line it printed (a real warning) shown on stderr when the block ends, and its environment report and git
    lookup skipped (torch's collect_env runs ~10 subprocesses, ~4 s per call on a busy CPU; git prints "fatal: not
    a git repository" outside a clone). retlab keeps neither."""
    import lm_eval.evaluator

    skipped = {"add_env_info": lambda results: None, "get_git_commit_hash": lambda: None}
    originals = {
        name: getattr(lm_eval.evaluator, name) for name in skipped if hasattr(lm_eval.evaluator, name)
    }
    captured = io.StringIO()
    try:
        for name in originals:
            setattr(lm_eval.evaluator, name, skipped[name])
        with redirect_stdout(captured), redirect_stderr(captured):
            yield
    finally:
        for name, original in originals.items():
            setattr(lm_eval.evaluator, name, original)
        for line in unexpected_lines(captured.getvalue()):
            print(line, file=sys.stderr)


def unexpected_lines(text: str) -> list[str]:
    """The lines of lm-eval's output worth showing: neither a progress bar (redrawn after each \\r) nor harmless."""
    lines = (segment.rstrip() for segment in re.split(r"[\r\n]", text))
    return [
        line
        for line in lines
        if line and not _TQDM.search(line) and not any(re.fullmatch(p, line) for p in HARMLESS_OUTPUT)
    ]


def _task_name(task) -> str:
    return task if isinstance(task, str) else task.config.task


def parse_metrics(task_results: dict) -> dict:
    """The harness's flat {"acc,none": v, "acc_stderr,none": s, ...} -> {"acc": {"value": v, "stderr": s}}."""
    metrics = {}
    for key, value in task_results.items():
        metric, _, filt = key.partition(",")
        if not filt or "_stderr" in metric:
            continue
        name = metric if filt == "none" else f"{metric},{filt}"
        stderr = task_results.get(f"{metric}_stderr,{filt}")
        metrics[name] = {"value": _number(value), "stderr": _number(stderr)}
    return metrics


def _number(x) -> float | None:
    return float(x) if isinstance(x, int | float) else None  # the harness writes "N/A" where it has no stderr
