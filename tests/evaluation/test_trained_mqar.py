"""A briefly trained model beats chance on MQAR under `retlab eval`, and eval's accuracy agrees with the one
training reports for the same checkpoint and test split. Its export carries the words of its ids, so stock
transformers (without retlab) and `retlab generate` read and write "k3 v5 ..." text."""

import io
import json
import math
import textwrap

import pytest

from fresh_process import run_without_retlab
from retlab.config.loader import load_config
from retlab.evaluation.evaluate import evaluate
from training.configs import mqar_overrides


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from retlab.training.train import train

    cfg = load_config(
        overrides=mqar_overrides(
            "mqar",
            tmp_path_factory.mktemp("trained"),
            **{
                "compare": ["transformer"],
                "model.arch": "transformer",
                "data.mqar.train_examples": 4000,
                "data.mqar.val_examples": 50,
                "data.mqar.test_examples": 100,
                "model.hidden_size": 64,
                "train.batch_size": 32,
                "train.lr": 3e-3,
                "train.warmup_steps": 10,
                "train.max_steps": 150,
                "train.val_check_interval": 150,
                "train.limit_val_batches": 2,
            },
        )
    )
    return cfg, train(cfg)


def test_trained_model_beats_chance_and_matches_training(trained):
    cfg, metrics = trained
    mqar = evaluate(cfg)["results"]["transformer"]["mqar"]
    chance, n = mqar["chance_accuracy"]["value"], mqar["n"]
    assert mqar["accuracy"]["value"] > chance + 5 * math.sqrt(chance * (1 - chance) / n)
    assert mqar["accuracy"]["value"] == pytest.approx(metrics["test_mqar_accuracy"], abs=1e-6)


# Run where `import retlab` fails: tokenizer and model load through transformers alone.
STOCK = textwrap.dedent(
    """
    import json, sys
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    export, prompt = sys.argv[1:]
    tok = AutoTokenizer.from_pretrained(export, trust_remote_code=True)
    # Without trust_remote_code transformers asks about the model's code (here stdin is empty: "no"), then
    # loads the same tokenizer.
    assert AutoTokenizer.from_pretrained(export)(prompt)["input_ids"] == tok(prompt)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(export, trust_remote_code=True).eval()
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        new = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)[0, ids.shape[1]:]
    print("\\n" + json.dumps({"ids": ids[0].tolist(), "new": new.tolist(), "text": tok.decode(new)}))
    """
)


def prompt_and_answer(cfg) -> tuple[str, str]:  # (prompt, the value word that answers it)
    """A test example's key-value pairs and its first query key as words, and the value that answers it."""
    from retlab.data.mqar import generate_split, tokenizer

    blocks, masks, _ = generate_split(cfg, "test")
    block, mask = blocks[0], masks[0]
    query = int(mask.argmax())  # block[query] is a key whose value follows
    words = tokenizer(cfg.data.mqar.vocab_size).convert_ids_to_tokens
    context = words([int(t) for t in block[: 2 * cfg.data.mqar.num_kv_pairs[0]]] + [int(block[query])])
    return " ".join(context), words(int(block[query + 1]))


def test_stock_transformers_loads_the_export_with_its_tokenizer(trained, tmp_path):
    cfg, _ = trained
    export = f"{cfg.output_dir}/{cfg.name}/transformer/best"
    prompt, _ = prompt_and_answer(cfg)
    proc = run_without_retlab(STOCK, [export, prompt], tmp_path, timeout=180)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    from retlab.data.mqar import tokenizer

    tok = tokenizer(cfg.data.mqar.vocab_size)
    assert out["ids"] == tok(prompt)["input_ids"]  # same words -> same ids, no special token added
    assert out["text"] == tok.decode(out["new"]) and len(out["text"].split()) == 3


def test_retlab_generate_answers_in_task_words(trained):
    import dataclasses

    from retlab.evaluation.generate import generate

    cfg, _ = trained
    prompt, _ = prompt_and_answer(cfg)
    g = dataclasses.replace(cfg.generate, prompts=[prompt], max_new_tokens=1, device="cpu")
    out = io.StringIO()
    r = generate(dataclasses.replace(cfg, generate=g), out=out)
    (text,) = r["texts"]
    assert out.getvalue().startswith(prompt + text + "\n")  # streamed after the prompt, one space between
    assert text in {f" v{i}" for i in range(14)}  # a value word (14 values in a 32-id vocabulary)


def test_the_report_shows_the_models_own_accuracy_and_the_sizes_it_trained(trained):
    """The report of this real run: its MQAR accuracy per kv-count with stderr (not only chance), the task's real
    vocabulary (not tokenizer.vocab_size) and the matched intermediate_size."""
    from retlab.layout import RunLayout
    from retlab.report.format import count, score
    from retlab.report.report import build_report

    cfg, metrics = trained
    mqar = evaluate(cfg)["results"]["transformer"]["mqar"]  # cached by the first test
    build_report(cfg, [])
    markdown = (RunLayout.of(cfg).report / "README.md").read_text()
    assert f"| 2 pairs | {score(mqar['accuracy_kv2'], 'percent')} |" in markdown
    assert f"| all queries | {score(mqar['accuracy'], 'percent')} |" in markdown
    assert mqar["accuracy_kv2"]["stderr"] > 0 and " ± " in score(mqar["accuracy_kv2"], "percent")
    assert "| vocabulary (tokens) | 32 |" in markdown and cfg.tokenizer.vocab_size != 32
    assert f"| model.intermediate_size | {count(metrics['intermediate_size'])} |" in markdown
    assert f"| parameters | {count(metrics['params'])} |" in markdown
