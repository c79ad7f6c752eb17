"""Local data for retlab's lm-eval tasks: each loader reads one benchmark in its original file format and returns
it in the schema of the Hugging Face dataset the harness's built-in task reads, so the built-in prompts, choices,
targets and metrics apply unchanged (the task YAMLs `include:` them).

The harness calls a loader as `custom_dataset(**metadata, **dataset_kwargs)`; the YAMLs pass `data_dir`.
This file is loaded by path by lm-eval and must not import retlab: the tasks also run under the stock
`lm_eval` CLI in environments without retlab."""

import bz2
import csv
import json
import re
from pathlib import Path

import datasets


def _split(name: str, records: list[dict]) -> datasets.DatasetDict:
    return datasets.DatasetDict({name: datasets.Dataset.from_list(records)})


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def piqa(data_dir: str, **_) -> datasets.DatasetDict:
    """PIQA validation: goal, sol1, sol2 from valid.jsonl; the label (0/1) is a separate .lst, line by line."""
    d = Path(data_dir) / "piqa"
    docs, labels = _jsonl(d / "valid.jsonl"), _lines(d / "valid-labels.lst")
    if len(docs) != len(labels):
        raise ValueError(f"{d}: {len(docs)} examples but {len(labels)} labels")
    return _split("validation", [{**doc, "label": int(y)} for doc, y in zip(docs, labels, strict=True)])


def boolq(data_dir: str, **_) -> datasets.DatasetDict:
    """BoolQ validation; the SuperGLUE file's label is the string "true"/"false", the harness expects 1/0."""
    docs = _jsonl(Path(data_dir) / "boolq" / "val.jsonl")
    return _split("validation", [{**doc, "label": int(str(doc["label"]).lower() == "true")} for doc in docs])


def _arc(path: Path) -> list[dict]:
    """AI2's schema {id, question: {stem, choices: [{text, label}]}, answerKey} -> the Hub's flat one."""
    out = []
    for doc in _jsonl(path):
        choices = doc["question"]["choices"]
        out.append(
            {
                "id": doc["id"],
                "question": doc["question"]["stem"],
                "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]},
                "answerKey": doc["answerKey"],
            }
        )
    return out


def arc_easy(data_dir: str, **_) -> datasets.DatasetDict:
    return _split("test", _arc(Path(data_dir) / "arc" / "ARC-Easy-Test.jsonl"))


def arc_challenge(data_dir: str, **_) -> datasets.DatasetDict:
    return _split("test", _arc(Path(data_dir) / "arc" / "ARC-Challenge-Test.jsonl"))


_OBQA_CHOICE = re.compile(r"\(([A-D])\) (.*?)(?= \([A-D]\) |$)")


def openbookqa(data_dir: str, **_) -> datasets.DatasetDict:
    """OpenBookQA main test from the official TSV; choices come as one string "(A) ... (B) ... (C) ... (D) ..."."""
    out = []
    with open(Path(data_dir) / "openbookqa" / "test.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            pairs = _OBQA_CHOICE.findall(row["Choices"].strip())
            if [label for label, _ in pairs] != ["A", "B", "C", "D"]:
                raise ValueError(f"openbookqa {row['ID']}: cannot parse choices {row['Choices']!r}")
            out.append(
                {
                    "id": row["ID"],
                    "question_stem": row["Question Stem"],
                    "choices": {
                        "text": [t.strip() for _, t in pairs],
                        "label": [label for label, _ in pairs],
                    },
                    "answerKey": row["Answer Key"].strip(),
                }
            )
    return _split("test", out)


def sciq(data_dir: str, **_) -> datasets.DatasetDict:
    """SciQ test: one JSON array with the Hub's fields."""
    docs = json.loads((Path(data_dir) / "sciq" / "test.json").read_text(encoding="utf-8"))
    return _split("test", docs)


def winogrande(data_dir: str, **_) -> datasets.DatasetDict:
    """WinoGrande (xl) dev = the Hub's validation split, same fields (answer is the string "1"/"2")."""
    docs = _jsonl(Path(data_dir) / "winogrande" / "dev.jsonl")
    keep = ("sentence", "option1", "option2", "answer")
    return _split("validation", [{k: str(doc[k]) for k in keep} for doc in docs])


def lambada_openai(data_dir: str, **_) -> datasets.DatasetDict:
    """LAMBADA, OpenAI's detokenized test set: {"text": ...}; the last word is the target."""
    return _split(
        "test",
        [{"text": doc["text"]} for doc in _jsonl(Path(data_dir) / "lambada_openai" / "lambada_test.jsonl")],
    )


def hellaswag(data_dir: str, **_) -> datasets.DatasetDict:
    """HellaSwag validation from the derived text format: 6 lines per item = "activity_label: ctx", gold label,
    4 endings. ctx_a and ctx_b arrive merged, so ctx_a carries the whole context and ctx_b is empty (the
    built-in process_docs then reproduces the query up to ctx_b's capitalisation; see MANIFEST.md)."""
    with bz2.open(Path(data_dir) / "hellaswag" / "hellaswag_val_full.txt.bz2", "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    if len(lines) % 6:
        raise ValueError(f"hellaswag: {len(lines)} lines is not a multiple of 6")
    out = []
    for i in range(0, len(lines), 6):
        label, _, ctx = lines[i].partition(": ")
        out.append(
            {
                "activity_label": label,
                "ctx_a": ctx,
                "ctx_b": "",
                "label": lines[i + 1].strip(),
                "endings": lines[i + 2 : i + 6],
            }
        )
    return _split("validation", out)


_ARTICLE_TITLE = re.compile(r"^ = [^=].* = $")


def wikitext_pages(path: str | Path) -> list[str]:
    """WikiText raw lines grouped into articles, each starting at its level-1 title line ` = Title = `
    (the document-level form of EleutherAI/wikitext_document_level)."""
    pages: list[list[str]] = []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        if _ARTICLE_TITLE.match(line):
            pages.append([])
        if pages:
            pages[-1].append(line)
    return ["\n".join(p) for p in pages]


def wikitext_file(data_dir: str | Path) -> Path:
    """wikitext/wiki.test.raw under the eval data, else the WikiText-2 corpus beside it (shared/data layout)."""
    d = Path(data_dir)
    for candidate in (
        d / "wikitext" / "wiki.test.raw",
        d.parent / "corpora" / "wikitext-2-raw" / "wiki.test.raw",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"wiki.test.raw not found under {d / 'wikitext'} or {d.parent / 'corpora' / 'wikitext-2-raw'}"
    )


def wikitext(data_dir: str, **_) -> datasets.DatasetDict:
    """WikiText-2 raw test, one record {"page": article} per article."""
    return _split("test", [{"page": p} for p in wikitext_pages(wikitext_file(data_dir))])
