"""Stage 1: documents, formats, seeded splits (deterministic, disjoint, val/test not swapped), own splits, Hub errors."""

import json
from collections import Counter

import pytest

from retlab.config.loader import load_config
from retlab.data import sources
from retlab.data.download import download, iter_documents, split_meta
from retlab.data.sources import file_documents
from retlab.errors import ConfigError


def local_cfg(tmp_path, paths, name="t", **over):
    o = {
        "output_dir": str(tmp_path),
        "name": name,
        "data.source": "local",
        "data.path": [str(p) for p in paths],
    }
    return load_config(None, o | over)


def read_splits(out):
    return {s: list(iter_documents(out, s)) for s in ("train", "validation", "test")}


def test_seeded_split_deterministic_disjoint_and_not_swapped(tmp_path, shared_data):
    src = shared_data / "corpora/tinyshakespeare/input.txt"
    splits = [0.8, 0.15, 0.05]
    a = read_splits(download(local_cfg(tmp_path, [src], "a", **{"data.splits": splits})))
    b = read_splits(download(local_cfg(tmp_path, [src], "b", **{"data.splits": splits})))
    c = read_splits(download(local_cfg(tmp_path, [src], "c", **{"data.splits": splits, "seed": 1})))
    assert a == b
    assert a["validation"] != c["validation"]
    everything = [d for d in file_documents(src, "paragraph", "text") if d.strip()]
    n = len(everything)
    # A partition of the documents: every document in exactly one split.
    assert Counter(a["train"] + a["validation"] + a["test"]) == Counter(everything)
    # The original study swapped val and test; ours get exactly their own fractions.
    assert len(a["validation"]) == round(n * 0.15) and len(a["test"]) == round(n * 0.05)
    assert len(a["validation"]) > 2 * len(a["test"])


def test_document_modes_and_empty_documents(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("first line\nsecond line\n\n   \nthird\n \n\nfourth\n")
    docs = {m: [d for d in file_documents(f, m, "text")] for m in ("line", "paragraph", "file")}
    assert docs["line"] == ["first line", "second line", "", "   ", "third", " ", "", "fourth"]
    assert docs["paragraph"] == ["first line\nsecond line", "third", "fourth"]
    assert docs["file"] == [f.read_text()]
    cfg = local_cfg(tmp_path, [f], **{"data.document": "line", "data.splits": [1.0, 0.0, 0.0]})
    meta = split_meta(download(cfg))
    assert meta["dropped_empty_documents"] == 4 and meta["splits"]["train"]["documents"] == 4


def test_gutenberg_byte_order_mark_is_not_text(shared_data):
    doc = next(file_documents(shared_data / "corpora/gutenberg/pg2701_moby_dick.txt", "paragraph", "text"))
    assert not doc.startswith("\ufeff")


def test_jsonl_json_parquet_give_the_same_documents(tmp_path, shared_data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = (shared_data / "corpora/ptb/ptb.valid.txt").read_text().splitlines()[:300]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"body": t}) + "\n" for t in lines))
    (tmp_path / "d.json").write_text(json.dumps([{"body": t} for t in lines]))
    pq.write_table(pa.table({"body": lines}), tmp_path / "d.parquet")
    for ext in ("jsonl", "json", "parquet"):
        assert list(file_documents(tmp_path / f"d.{ext}", "line", "body")) == lines
    with pytest.raises(ConfigError, match="data.text_field"):
        list(file_documents(tmp_path / "d.jsonl", "line", "text"))


def test_own_splits_are_kept(tmp_path, shared_data):
    ptb = shared_data / "corpora/ptb"
    over = {
        "data.document": "line",
        "data.val_path": [str(ptb / "ptb.test.txt")],
        "data.test_path": [str(ptb / "ptb.valid.txt")],
    }
    out = download(local_cfg(tmp_path, [ptb / "ptb.valid.txt"], **over))
    meta = split_meta(out)
    assert meta["carved"] == []
    assert meta["splits"]["validation"]["documents"] == 3761 and meta["splits"]["test"]["documents"] == 3370
    assert list(iter_documents(out, "test")) == (ptb / "ptb.valid.txt").read_text().splitlines()


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(ConfigError, match="no file matches"):
        download(local_cfg(tmp_path, [tmp_path / "nope*.txt"]))
    (tmp_path / "x.txt.bz2").write_bytes(b"BZh9")
    with pytest.raises(ConfigError, match="compressed"):
        download(local_cfg(tmp_path, [tmp_path / "*.bz2"]))


def test_hub_offline_is_one_line_with_the_local_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cfg = load_config(
        None, {"output_dir": str(tmp_path), "data.source": "hub", "data.name": "retlab-no-such/dataset"}
    )
    with pytest.raises(ConfigError) as e:
        download(cfg)
    assert e.value.field == "data.name" and "--data.source local" in str(e.value) and "\n" not in str(e.value)


def test_hub_splits_kept_or_carved(tmp_path, monkeypatch, shared_data):
    import datasets

    lines = [t for t in (shared_data / "corpora/ptb/ptb.test.txt").read_text().splitlines()[:400]]
    three = datasets.DatasetDict(
        train=datasets.Dataset.from_dict({"text": lines[:200]}),
        valid=datasets.Dataset.from_dict({"text": lines[200:300]}),
        test=datasets.Dataset.from_dict({"text": lines[300:] + ["  "]}),
    )
    only_train = datasets.DatasetDict(train=datasets.Dataset.from_dict({"text": lines}))
    cfg = load_config(
        None,
        {
            "output_dir": str(tmp_path),
            "data.source": "hub",
            "data.name": "x",
            "data.splits": [0.5, 0.25, 0.25],
        },
    )
    monkeypatch.setattr(sources, "_hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: three)
    got = read_splits(download(cfg))
    assert got == {"train": lines[:200], "validation": lines[200:300], "test": lines[300:]}
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: only_train)
    got = read_splits(download(cfg, force=True))
    assert [len(got[s]) for s in ("train", "validation", "test")] == [200, 100, 100]
