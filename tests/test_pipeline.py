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
def test_run_trains_both_architectures_and_skips_when_up_to_date(shared_data, tmp_path, capsys):
    bench = {
        "bench.enabled": True,
        "bench.contexts": [8, 16],
        "bench.batch_sizes": [1],
        "bench.gemm_size": 64,
    }
    bench |= {"bench.decode_steps": 3, "bench.warmup_steps": 1, "bench.prefill_rounds": 1}
    cfg = text_config(
        shared_data, tmp_path, "e2e", compare=["retnet", "transformer"], **{"train.max_steps": 16}, **bench
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
    assert "┃ retnet ┃ transformer ┃" in final[1] and max(len(line) for line in final) <= 100
    assert any(line.startswith("│ test loss (nats/token)") for line in final)

    infer = (root / "bench" / "infer.json").read_bytes()
    assert "trained:" in read_json(root / "bench" / "infer.json")["models"][0]["source"]

    stamp = (root / "transformer" / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    assert run(cfg) == results  # up to date: nothing retrained
    assert (root / "transformer" / "checkpoints" / "last.ckpt").stat().st_mtime_ns == stamp
    out = capsys.readouterr().out
    assert "up to date" in out and "bench infer: up to date" in out
    assert (root / "bench" / "infer.json").read_bytes() == infer  # no benchmark figure changed


def rows_of(table: str) -> dict[str, list[str]]:
    """{first cell: other cells} of a rich table's body rows."""
    rows = [line.strip("│ ").split("│") for line in table.splitlines() if line.startswith("│")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_comparison_table_shows_mqar_accuracy_only_for_mqar():
    lm = {"retnet": {"params": 1000, "test_loss": 2.0, "wall_time_s": 1.0}}
    assert "MQAR" not in comparison_table(lm)
    table = comparison_table({"transformer": {"params": 1000, "test_mqar_accuracy": 0.875}})
    assert rows_of(table) == {"parameters": ["1,000"], "test MQAR accuracy (%)": ["87.5"]}


def test_comparison_table_joins_evaluation_scores_once_and_fits_100_columns():
    metrics = {"params": 10, "test_mqar_accuracy": 0.5, "train_tokens_per_s": 12345.6, "wall_time_s": 3.0}
    results = {arch: dict(metrics) for arch in ("retnet", "transformer", "torchscale-transformer")}
    summary = {
        "retnet": {"piqa/acc": 0.51, "piqa/chance_accuracy": 0.5, "mqar/accuracy": 0.5},
        "transformer": {"piqa/acc": 0.625},
    }
    summary |= {"retnet": summary["retnet"] | {f"task{i}/acc_norm": 0.5 for i in range(20)}}
    table = comparison_table(results, summary)
    rows = rows_of(table)
    assert (
        rows["eval piqa/acc"] == ["0.51", "0.625", "-"] and rows["train throughput (tokens/s)"][0] == "12,346"
    )
    assert not any("chance" in r or "mqar/accuracy" in r for r in rows)  # shown once, as test MQAR accuracy
    assert max(len(line) for line in table.splitlines()) <= 100


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
