"""The figures stated in benchmarks/results/README.md are the ones in the JSON beside it."""

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
DECODERS = ("retnet", "transformer-static", "transformer-dynamic")


def spread(s: dict, spec: str = ".2f") -> str:
    return f"{s['median']:{spec}} [{s['q1']:{spec}}–{s['q3']:{spec}}]"


@pytest.fixture(scope="module")
def readme() -> str:
    return (RESULTS / "README.md").read_text()


def test_decoding_tables_and_crossover_match_infer_json(readme):
    result = json.loads((RESULTS / "cpu" / "infer.json").read_text())
    points = {
        (p["decoder"], p["batch_size"], p["context"]): p for p in result["points"] if "skipped" not in p
    }
    rows = 0
    for c in result["comparisons"]:
        where = (c["batch_size"], c["context"])
        cells = [str(c["context"])] + [spread(points[(d, *where)]["time_per_token_ms"]) for d in DECODERS]
        cells += [spread(c["speedup"]) + "x", c["baseline"].removeprefix("transformer-")]
        assert "| " + " | ".join(cells) + " |" in readme, cells
        rows += 1
    assert rows == len(result["settings"]["contexts"]) * len(result["settings"]["batch_sizes"])
    crossover = {x["batch_size"]: x for x in result["crossover"]}
    assert f"about **{crossover[1]['context']:,.0f} tokens**" in readme
    assert crossover[8]["status"] == "from_smallest" and "at every measured context" in readme
    load = result["load_average"]
    prose = " ".join(readme.split())
    assert f"load average {load['start']:.1f} at the start of the decoding run and {load['end']:.1f}" in prose


def test_training_table_matches_train_json(readme):
    from retlab.bench.summary import train_headline

    result = json.loads((RESULTS / "cpu" / "train.json").read_text())
    points = {(p["variant"], p["seq_len"]): p for p in result["points"]}
    ratios = train_headline(result)
    for seq in result["settings"]["seq_lens"]:
        cells = [str(seq)]
        for variant in ("retnet-parallel", "retnet-chunkwise", "transformer"):
            p = points[variant, seq]
            cells.append("skipped (memory budget)" if "skipped" in p else spread(p["tokens_per_s"], ".0f"))
        q1, q3 = ratios[f"retnet-chunkwise_over_transformer_tokens_per_s_iqr@{seq}"]
        cells.append(
            f"{ratios[f'retnet-chunkwise_over_transformer_tokens_per_s@{seq}']:.2f} [{q1:.2f}–{q3:.2f}]"
        )
        assert "| " + " | ".join(cells) + " |" in readme, cells
