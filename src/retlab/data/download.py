"""Stage 1, `retlab data download`: documents from the Hub or local files into train/validation/test JSONL.

Output: runs/<name>/data/splits/{train,validation,test}.jsonl (one {"text": ...} per document) + meta.json.
Splits the dataset has are kept; missing ones are carved out of train by a seeded permutation of documents
with exactly round(N * fraction) documents each, in the order [train, validation, test] of `data.splits`.
Everything streams: memory holds one document and one byte per train document (the split assignment).
A streamed dataset (data.streaming) is not downloaded: only its validation and test documents are written here;
its train documents are read as they are packed (streaming.py, pack_stream.py)."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..console import per_split, where
from ..layout import RunLayout
from ..utils.files import atomic_dir, atomic_write_json, read_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done
from .info import SPLITS
from .sources import DocSource, corpus_fingerprint, non_empty, open_corpus


def splits_dir(cfg) -> Path:
    return RunLayout.of(cfg).data / "splits"


# ---------------------------------------------------------------- writing splits


class _SplitWriter:
    """Appends non-empty documents to <split>.jsonl and counts documents, bytes and dropped empties."""

    def __init__(self, path: Path):
        self.f = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.documents = self.bytes = 0

    def write(self, doc: str) -> None:
        self.f.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
        self.documents += 1
        self.bytes += len(doc.encode("utf-8"))

    def close(self) -> dict:
        self.f.close()
        return {"documents": self.documents, "bytes": self.bytes}


def carve_assignment(n: int, fractions: dict[str, float], seed: int) -> np.ndarray:
    """Split index per document (0 train, 1 validation, 2 test) for `n` documents: a seeded permutation gives each
    carved split exactly round(n * fraction) documents (at least one when its fraction is > 0 and n allows)."""
    assign = np.zeros(n, dtype=np.int8)
    perm = np.random.default_rng(seed).permutation(n)
    start = 0
    for split, frac in fractions.items():
        k = max(round(n * frac), 1 if frac > 0 and n > len(fractions) else 0)
        k = max(0, min(k, n - start - 1))  # train keeps at least one document
        assign[perm[start : start + k]] = SPLITS.index(split)
        start += k
    return assign


def write_splits(sources: dict[str, DocSource], out: Path, fractions: list[float], seed: int) -> dict:
    """Write every split to out/<split>.jsonl; splits missing from `sources` are carved out of train."""
    dropped = [0]
    writers = {s: _SplitWriter(out / f"{s}.jsonl") for s in SPLITS}
    missing = {s: fractions[i] for i, s in enumerate(SPLITS) if s not in sources and i > 0}
    for split, source in sources.items():
        if split == "train" and missing:
            continue
        for doc in non_empty(source(), dropped):
            writers[split].write(doc)
    if missing:
        # Pass 1 counts train documents (kept in a pool file); pass 2 routes each by its seeded assignment.
        pool = _SplitWriter(out / ".pool.jsonl")
        for doc in non_empty(sources["train"](), dropped):
            pool.write(doc)
        pool.close()
        assign = carve_assignment(pool.documents, missing, seed)
        with open(out / ".pool.jsonl", encoding="utf-8") as f:
            for i, line in enumerate(f):
                writers[SPLITS[assign[i]]].write(json.loads(line)["text"])
        (out / ".pool.jsonl").unlink()
    stats = {s: w.close() for s, w in writers.items()}
    return {"splits": stats, "dropped_empty_documents": dropped[0], "carved": sorted(missing)}


# ---------------------------------------------------------------- the stage


def download(cfg, force: bool = False, quiet: bool = False) -> Path | None:
    """Stage 1: write the train/validation/test documents of `cfg.data` to runs/<name>/data/splits/ (cached;
    `quiet`: no message when they are up to date)."""
    d = cfg.data
    if d.source == "mqar":
        print("download: data.source is mqar, a generated task; nothing to download")
        return None
    from .preflight import check_corpus

    check_corpus(cfg)  # every local file readable and the training text not empty, before anything is written
    if d.streaming:
        return download_held_out(cfg, force, quiet)
    out = splits_dir(cfg)
    fp = fingerprint("download", 2, corpus_fingerprint(cfg), d.splits, cfg.seed)
    if not force and is_up_to_date(out, fp):
        if not quiet:
            print(f"download: up to date ({where(out)}); --force reruns")
        return out
    sources = open_corpus(cfg, streaming=False)
    with atomic_dir(out) as tmp:
        meta = write_splits(sources, tmp, d.splits, cfg.seed)
        atomic_write_json(tmp / "meta.json", meta)
        mark_done(tmp, fp)
    _report(meta, out)
    return out


def download_held_out(cfg, force: bool = False, quiet: bool = False) -> Path:
    """Stage 1 of a streamed dataset: only its validation and test documents (data.val_documents/test_documents)
    are written, to the same files, so that evaluation reads them without the network and always the same ones.
    The train split is read while it is packed (pack_stream.py)."""
    from .streaming import Stream

    out, stream = splits_dir(cfg), Stream(cfg)
    fp = fingerprint("download-held-out", 1, stream.held_out_fingerprint())
    if not force and is_up_to_date(out, fp):
        if not quiet:
            print(f"download: up to date ({where(out)}); --force reruns")
        return out
    stream.open()  # now: a wrong name or an unreachable Hub stops here, before anything is written
    with atomic_dir(out) as tmp:
        stats = {}
        for split in SPLITS[1:]:
            writer = _SplitWriter(tmp / f"{split}.jsonl")
            for doc in stream.documents(split):
                writer.write(doc)
            stats[split] = writer.close()
        meta = {
            "splits": stats,
            "dropped_empty_documents": None,
            "carved": stream.carved(),
            "streamed": ["train"],
        }
        atomic_write_json(tmp / "meta.json", meta)
        mark_done(tmp, fp)
    _report(meta, out)
    return out


def split_documents(cfg, split: str) -> Iterator[str]:
    """The documents of one split of the run, however it is stored: written by stage 1, or streamed (the train
    split of a streamed dataset)."""
    if cfg.data.streaming and split == "train":
        from .streaming import Stream

        return Stream(cfg).documents(split)
    return iter_documents(download(cfg, quiet=True), split)


def _report(meta: dict, out: Path) -> None:
    """One line: documents per split and their size (what was carved or dropped is in meta.json)."""
    splits = meta["splits"]
    docs = per_split({s: v["documents"] for s, v in splits.items()})
    mb = sum(v["bytes"] for v in splits.values()) / 1e6
    streamed = ", train streamed" if meta.get("streamed") else ""
    print(f"download: {docs} documents, {mb:.2f} MB{streamed} -> {where(out)}")


def iter_documents(split_dir: Path, split: str) -> Iterator[str]:
    """The documents of one written split, streamed."""
    with open(Path(split_dir) / f"{split}.jsonl", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)["text"]


def split_meta(split_dir: Path) -> dict:
    return read_json(Path(split_dir) / "meta.json")
