"""retlab's local lm-eval tasks: every task loads the MANIFEST's records, maps gold answers right, and scores a
random-init retlab model at chance."""

import math

import pytest

from retlab.errors import ConfigError
from retlab.evaluation import harness

from .conftest import MAX_LENGTH, tiny_model

# Record counts from shared/data/MANIFEST.md (wikitext: the 62 articles of wiki.test.raw).
MANIFEST_COUNTS = {
    "hellaswag": 10_042,
    "winogrande": 1_267,
    "piqa": 1_838,
    "arc_easy": 2_376,
    "arc_challenge": 1_172,
    "lambada_openai": 5_153,
    "boolq": 3_270,
    "openbookqa": 500,
    "sciq": 1_000,
    "wikitext": 62,
}

# The gold answer of each task's first record, read off the original files by eye.
FIRST_GOLD = {
    "piqa": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will also need to supply it with a water bottle and a food dish.",
    "boolq": "no",  # label "false"
    "arc_easy": "Sunlight is the source of energy for nearly all ecosystems.",
    "arc_challenge": "Planetary days will become shorter.",
    "openbookqa": "quit eating lunch out",
    "sciq": "oxidants",
    "hellaswag": "starts pulling up roofing on a roof.",
    "winogrande": "Sarah was a much better surgeon than Maria so Maria",  # answer "2": the context with option2
}


@pytest.fixture(scope="module")
def lm(tokenizer):
    return harness.harness_lm(
        tiny_model("transformer", len(tokenizer)), tokenizer, batch_size=16, max_length=MAX_LENGTH
    )


def test_every_task_has_the_manifest_record_count(local_tasks):
    _, tasks = local_tasks
    counts = {name.removeprefix("retlab_"): len(task.eval_docs) for name, task in tasks.items()}
    assert counts == MANIFEST_COUNTS


@pytest.mark.parametrize("task", sorted(FIRST_GOLD))
def test_first_record_gold_answer(local_tasks, task):
    t = local_tasks[1][f"retlab_{task}"]
    doc = t.eval_docs[0]
    if task == "winogrande":  # the choices are contexts; the gold one is picked by doc_to_text
        assert t.doc_to_choice(doc)[t.doc_to_text(doc)] == FIRST_GOLD[task]
    else:
        assert t.doc_to_choice(doc)[int(t.doc_to_target(doc))] == FIRST_GOLD[task]


def test_generation_style_targets(local_tasks):
    tasks = local_tasks[1]
    lambada = tasks["retlab_lambada_openai"]
    assert lambada.doc_to_target(lambada.eval_docs[0]) == " signs"
    wiki = tasks["retlab_wikitext"]
    assert wiki.doc_to_target(wiki.eval_docs[0]).startswith(" = Robert Boulter =\n")


def test_every_task_scores_a_few_examples(lm, local_tasks):
    manager, tasks = local_tasks
    scores = harness.run_tasks(lm, tasks.values(), manager, num_fewshot=0, limit=2)
    assert sorted(scores) == sorted(MANIFEST_COUNTS)
    for task, metrics in scores.items():
        assert metrics["n"] == 2, task
        values = {m: v["value"] for m, v in metrics.items() if m != "n"}
        assert values and all(math.isfinite(v) for v in values.values()), (task, values)
        for metric in ("acc", "acc_norm"):
            if metric in values:
                assert 0 <= values[metric] <= 1
    assert scores["wikitext"]["bits_per_byte"]["value"] > 0


def test_few_shot_prompts_after_zero_shot_runs(lm, local_tasks):
    """Few-shot examples come from the evaluated split itself (train splits are not staged), never the item itself."""
    manager, tasks = local_tasks
    arc = tasks["retlab_arc_easy"]
    harness.run_tasks(lm, [arc], manager, num_fewshot=0, limit=2)
    harness.run_tasks(lm, [arc], manager, num_fewshot=2, limit=2)
    for instance in arc.instances:
        context, question = instance.args[0], instance.doc["question"]
        assert context.count("Question:") == 3 and context.count(question) == 1


def test_prompts_are_the_harness_built_ins(local_tasks):
    tasks = local_tasks[1]
    piqa, hella = tasks["retlab_piqa"], tasks["retlab_hellaswag"]
    assert (
        piqa.doc_to_text(piqa.eval_docs[0])
        == "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"
    )
    assert hella.doc_to_text(hella.eval_docs[0]) == "Roof shingle removal: A man is sitting on a roof. he"


CHANCE = {"piqa": 1 / 2, "winogrande": 1 / 2, "arc_easy": 1 / 4}


def test_random_init_scores_at_chance(lm, local_tasks):
    """A model that knows nothing lands within 4 standard errors of guessing (acc_norm where the task has it:
    unnormalised accuracy of an untrained model tracks answer length, not knowledge)."""
    manager, tasks = local_tasks
    n = 200
    scores = harness.run_tasks(lm, [tasks[f"retlab_{t}"] for t in CHANCE], manager, num_fewshot=0, limit=n)
    for task, p in CHANCE.items():
        acc = scores[task].get("acc_norm", scores[task]["acc"])["value"]
        assert abs(acc - p) <= 4 * math.sqrt(p * (1 - p) / n), (task, acc)


def test_unknown_local_task_is_a_config_error(eval_data):
    with pytest.raises(ConfigError, match="eval.tasks: no local task for mmlu"):
        harness.check_tasks(["piqa", "mmlu"], str(eval_data))
    harness.check_tasks(["mmlu"], None)  # the harness's own Hub tasks: its names, its checks
    with pytest.raises(ConfigError, match="eval.data_dir: '/nowhere' is not a directory"):
        harness.check_tasks(["piqa"], "/nowhere")


def test_answer_longer_than_context_is_a_config_error(tokenizer, local_tasks):
    short = harness.harness_lm(
        tiny_model("transformer", len(tokenizer)), tokenizer, batch_size=4, max_length=4
    )
    manager, tasks = local_tasks
    with pytest.raises(ConfigError, match="eval.max_length"):
        harness.run_tasks(short, [tasks["retlab_piqa"]], manager, num_fewshot=0, limit=2)


def test_rendered_yamls_use_absolute_paths_and_no_tags(task_dir, eval_data):
    for task in MANIFEST_COUNTS:
        text = (task_dir / f"retlab_{task}.yaml").read_text()
        assert "$" not in text.split("\n", 2)[2]  # every placeholder below the comment header is filled in
        assert f'data_dir: "{eval_data.resolve()}"' in text
        assert "tag: null" in text and "training_split: null" in text
    assert (task_dir / "utils.py").is_file()


def test_hub_tasks_offline_point_to_local_data(monkeypatch, tmp_path):
    """The harness's own piqa (its Hub dataset, unreachable here); indexed alone to skip its ~10k other YAMLs."""
    from lm_eval.tasks import TaskManager

    (tmp_path / "piqa.yaml").write_text(f"include: {harness.lm_eval_tasks_dir() / 'piqa' / 'piqa.yaml'}\n")
    monkeypatch.setattr(
        harness, "task_manager", lambda _: TaskManager(include_path=str(tmp_path), include_defaults=False)
    )
    with pytest.raises(
        ConfigError, match="eval.data_dir: unset, and the harness cannot load piqa from the Hub"
    ):
        harness.load_tasks(["piqa"], None)
    with pytest.raises(ConfigError, match="eval.tasks: .*no_such_task"):
        harness.load_tasks(["no_such_task"], None)


def test_missing_local_file_is_a_config_error(tmp_path):
    task_dir = harness.write_task_dir(tmp_path, tmp_path / "tasks")  # an empty data folder
    with pytest.raises(ConfigError, match="eval.data_dir: .*valid.jsonl is missing"):
        harness.load_tasks(["piqa"], task_dir)


def test_lm_eval_output_keeps_only_what_is_news():
    from retlab.evaluation.harness import unexpected_lines

    printed = (
        "Running loglikelihood requests:  50%|#####     | 2/4 [00:01<00:01,  1.50it/s]\r"
        "Running loglikelihood requests: 100%|##########| 4/4 [00:02<00:00,  1.50it/s]\n"
        "retlab_piqa: Custom kwargs can be passed to `--metadata` in console (as json string) or to the TaskManager.\n"
        "For example --metadata='{\"max_seq_lengths\":[4096, 8192]}'. For details see task Readme.\n"
        "bootstrapping for stddev: perplexity\n"
        "100%|##########| 10/10 [00:00<00:00, 99.0it/s]\n"
        "Task retlab_piqa: 3 documents have no answer\n"
    )
    assert unexpected_lines(printed) == ["Task retlab_piqa: 3 documents have no answer"]
