"""`retlab run` end to end on real text (Tiny Shakespeare): both architectures, run folder layout, caching."""

import csv
import importlib.util

import pytest

from retlab.pipeline import comparison_table, optional_stage, run
from retlab.utils.files import read_json
from training.configs import METRIC_KEYS, text_config


def _val_losses(csv_path) -> list[float]:
    with open(csv_path, newline="") as f:
        return [float(r["val/loss"]) for r in csv.DictReader(f) if r.get("val/loss")]


@pytest.mark.skipif(
    importlib.util.find_spec("retlab.models.native") is None, reason="RetNet model not available"
)
def test_run_trains_both_architectures_and_skips_when_up_to_date(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # output_dir "." as a user's relative one: the console's paths are short
    bench = {
        "bench.enabled": True,
        "bench.contexts": [8, 16],
        "bench.batch_sizes": [1],
        "bench.gemm_size": 64,
    }
    bench |= {"bench.decode_steps": 3, "bench.warmup_steps": 1, "bench.prefill_rounds": 1}
    cfg = text_config(
        shared_data, ".", "e2e", compare=["retnet", "transformer"], **{"train.max_steps": 16}, **bench
    )
    results = run(cfg)
    root = tmp_path / "e2e"
    assert (root / "config.yaml").is_file() and (root / "tokenizer" / "tokenizer.json").is_file()
    assert (root / "data").is_dir()
    for arch in ("retnet", "transformer"):
        a = root / arch
        metrics = read_json(a / "metrics.json")
        assert metrics == results[arch] and METRIC_KEYS <= set(metrics)
        assert metrics["arch"] == arch
        for path in (
            "checkpoints/last.ckpt",
            "best/config.json",
            "best/model.safetensors",
            "best/tokenizer.json",
            "final/model.safetensors",
            "logs/csv/metrics.csv",
        ):
            assert (a / path).is_file(), path
        assert list((a / "logs" / "tensorboard").glob("events.out.tfevents.*"))
        losses = _val_losses(a / "logs" / "csv" / "metrics.csv")
        assert len(losses) == 4 and losses[-1] < losses[0]
    gap = abs(results["transformer"]["params"] - results["retnet"]["params"]) / results["retnet"]["params"]
    assert gap <= 0.01
    out = capsys.readouterr().out
    assert "GPU available" not in out and "Tip:" not in out and "LeafSpec" not in out  # Lightning silenced
    assert "up to date" not in out  # data prepared once, not again by each training
    for arch in ("retnet", "transformer"):  # one bar line per training (no terminal: its summary line)
        assert (
            sum(line.startswith(f"train {arch}: ") and " steps in " in line for line in out.splitlines()) == 1
        )
    final = [
        line for line in out.splitlines() if line[:1] and line[0] in "┏┃┡│└"
    ]  # the final table, drawn by rich
    assert [c.strip() for c in final[1].split("┃")[2:4]] == ["retnet", "transformer"]
    after_data = out[out.index("params: ") :]  # (the data stage's lines name their inputs in full)
    assert max(len(line) for line in after_data.splitlines()) <= 100
    check_final_table(out, root)
    # Evaluation and benchmarks in one line each besides their bars' (no terminal: each bar's summary line);
    # their full tables are in files (and the report), not on the console.
    stage = [line for line in out.splitlines() if line.startswith(("eval", "bench"))]
    assert [line.split(" in ")[0] for line in stage[:2]] == [
        "eval: 2/2 tasks",
        "eval: 2 models x 1 task -> e2e/eval/results.txt (and results.json)",
    ]
    assert stage[2].startswith("bench infer: 2/2 points in ") and len(stage) == 4
    assert stage[3].startswith("bench infer: retnet decodes ") and " as fast as transformer-" in stage[3]
    assert stage[3].endswith(" at 16 tokens")  # the largest context
    assert not any(
        line.startswith(("task ", "decoder ", "arch ", "perplexity ")) for line in out.splitlines()
    )
    assert (root / "eval" / "results.txt").read_text().startswith("task ")
    assert (root / "bench" / "infer.txt").read_text().startswith("decoder ")

    infer = (root / "bench" / "infer.json").read_bytes()
    assert "trained:" in read_json(root / "bench" / "infer.json")["models"][0]["source"]

    stamp = (root / "transformer" / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    assert run(cfg) == results  # up to date: nothing retrained
    assert (root / "transformer" / "checkpoints" / "last.ckpt").stat().st_mtime_ns == stamp
    out = capsys.readouterr().out
    assert "up to date" in out and "bench infer: up to date" in out
    assert (root / "bench" / "infer.json").read_bytes() == infer  # no benchmark figure changed


def check_final_table(out: str, root) -> None:
    """The final table's figures are metrics.json's and results.json's (to the decimals shown)."""
    rows = rows_of("\n".join(line for line in out.splitlines() if line.startswith("│")))
    scores = read_json(root / "eval" / "results.json")["results"]
    for i, arch in enumerate(("retnet", "transformer")):
        metrics = read_json(root / arch / "metrics.json")
        assert int(rows["parameters"][i].replace(",", "")) == metrics["params"]
        assert float(rows["test loss (nats/token)"][i]) == pytest.approx(metrics["test_loss"], abs=5e-5)
        assert float(rows["best val loss (nats/token)"][i]) == pytest.approx(
            metrics["best_val_loss"], abs=5e-5
        )
        assert float(rows["test perplexity"][i]) == pytest.approx(metrics["test_ppl"], abs=5e-3)
        tokens_per_s = float(rows["train throughput"][i].removesuffix(" tokens/s").replace(",", ""))
        assert tokens_per_s == pytest.approx(metrics["train_tokens_per_s"], rel=6e-3)
        ppl = scores[arch]["perplexity"]["ppl"]["value"]
        assert float(rows["eval perplexity/ppl"][i].replace(",", "")) == pytest.approx(ppl, abs=5e-3)


def rows_of(table: str) -> dict[str, list[str]]:
    """{first cell: other cells} of a rich table's body rows."""
    rows = [line.strip("│ ").split("│") for line in table.splitlines() if line.startswith("│")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_comparison_table_shows_mqar_accuracy_only_for_mqar():
    lm = {"retnet": {"params": 1000, "test_loss": 2.0, "wall_time_s": 1.0}}
    assert "MQAR" not in comparison_table(lm)
    table = comparison_table({"transformer": {"params": 1000, "test_mqar_accuracy": 0.875}})
    assert rows_of(table) == {"parameters": ["1,000"], "test MQAR accuracy": ["87.5%"]}


def test_comparison_table_formats_every_figure_by_its_kind_and_joins_evaluation_scores_once():
    """Numbers through report/format.py (units in the cells, missing as –), each eval score with its stderr."""
    metrics = {"params": 10, "test_mqar_accuracy": 0.5, "train_tokens_per_s": 12345.6, "wall_time_s": 3.0}
    metrics |= {"best_val_loss": 1.23456, "test_ppl": 3.14159}
    results = {arch: dict(metrics) for arch in ("retnet", "transformer", "torchscale-transformer")}
    score = {"value": 0.51, "stderr": 0.0123}
    scores = {
        "retnet": {
            "piqa": {"n": 100, "acc": score, "chance_accuracy": {"value": 0.5, "stderr": None}},
            "mqar": {"accuracy": score},
        },
        "transformer": {"piqa": {"acc": {"value": 0.625, "stderr": None}}},
    }
    scores["retnet"] |= {f"task{i}": {"acc_norm": score} for i in range(20)}
    table = comparison_table(results, {"results": scores})
    rows = rows_of(table)
    assert rows["eval piqa/acc"] == ["51.0% ± 1.2%", "62.5%", "–"]
    assert rows["train throughput"] == ["12,346 tokens/s"] * 3 and rows["wall time"] == ["3.00 s"] * 3
    assert rows["best val loss (nats/token)"][0] == "1.2346" and rows["test perplexity"][0] == "3.14"
    assert rows["test MQAR accuracy"][0] == "50.0%"
    assert not any(
        "chance" in r or "mqar/accuracy" in r or "/n" in r for r in rows
    )  # shown once, or not a score
    assert len(rows) == 6 + 1 + 20 and max(len(line) for line in table.splitlines()) <= 100


def test_optional_stage_skips_a_missing_module_but_not_its_errors(capsys):
    assert optional_stage("later", "retlab.no_such_stage", "go") is None
    assert "later: skipped" in capsys.readouterr().out
    assert optional_stage("json", "json", "loads", "[1]") == [1]
    with pytest.raises(ValueError):
        optional_stage("json", "json", "loads", "{not json")


def test_gpt2_bpe_files_on_a_streamed_corpus_end_to_end(shared_data, tmp_path):
    """tokenizer.path = GPT-2's released BPE files (no trained BPE) with data.streaming on local text: data ->
    train -> eval (perplexity on the streamed test split) -> generate, and the export loads with AutoTokenizer."""
    import io

    from transformers import AutoTokenizer

    from retlab.evaluation.generate import generate

    stories = shared_data / "corpora" / "tinystories" / "tinystories_validation_head.txt"
    over = {
        "data.path": [str(stories)],
        "data.streaming": True,
        "data.max_tokens": 20_000,
        "data.val_documents": 20,
        "data.test_documents": 20,
        "tokenizer.path": str(shared_data / "tokenizers" / "gpt2"),
        "train.max_steps": 4,
        "eval.tasks": [],
        "generate.max_new_tokens": 8,
    }
    cfg = text_config(shared_data, tmp_path, "gpt2", **over)
    run(cfg)
    root = tmp_path / "gpt2"
    assert read_json(root / "data" / "packed" / "train.json")["tokens"] == 20_000
    scores = read_json(root / "eval" / "results.json")["results"]["transformer"]["perplexity"]
    assert scores["n"] > 0 and scores["ppl"]["value"] > 1
    export = root / "transformer" / "best"
    tok = AutoTokenizer.from_pretrained(export)
    assert tok("Once upon a time")["input_ids"] == [7454, 2402, 257, 640]  # GPT-2's own ids
    assert tok.eos_token == "<|endoftext|>" and len(tok) == 50257
    assert read_json(export / "config.json")["vocab_size"] == 50257
    out = generate(cfg, out=io.StringIO())
    assert len(out["texts"]) == 1 and out["texts"][0]
