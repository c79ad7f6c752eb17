"""Stage 1, `retlab data download`: documents from the Hub or local files into train/validation/test JSONL.

Output: runs/<name>/data/splits/{train,validation,test}.jsonl (one {"text": ...} per document) + meta.json.
Splits the dataset has are kept; missing ones are carved out of train by a seeded permutation of documents
with exactly round(N * fraction) documents each, in the order [train, validation, test] of `data.splits`.
Everything streams: memory holds one document and one byte per train document (the split assignment)."""

import dataclasses
import glob
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import ConfigError, first_line
from ..layout import RunLayout
from ..utils.files import atomic_dir, atomic_write_json, read_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done
from .info import SPLITS

DocSource = Callable[[], Iterator[str]]
_HUB_SPLIT_NAMES = {
    "train": ("train",),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test",),
}
# .jsonl, .json and .parquet hold records; any other file is plain text (.txt, WikiText's .raw/.tokens, ...).
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".7z", ".tar")


def splits_dir(cfg) -> Path:
    return RunLayout.of(cfg).data / "splits"


# ---------------------------------------------------------------- local files


def resolve_paths(patterns: list[str], field: str) -> list[Path]:
    """Expand files and globs; every pattern must match at least one supported file."""
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise ConfigError(
                field,
                f"no file matches '{pattern}'",
                "check the path or glob (relative to the current directory)",
            )
        for m in matches:
            if m.endswith(_COMPRESSED):
                raise ConfigError(field, f"compressed file '{m}' is not supported", "decompress it first")
        files += [Path(m) for m in matches]
    return files


def _text_documents(path: Path, mode: str) -> Iterator[str]:
    # utf-8-sig: Project Gutenberg files start with a byte-order mark that is not text.
    with open(path, encoding="utf-8-sig") as f:
        if mode == "file":
            yield f.read()
        elif mode == "line":
            for line in f:
                yield line.removesuffix("\n")
        else:  # paragraph: blank (or whitespace-only) lines separate documents
            para: list[str] = []
            for line in f:
                if line.strip():
                    para.append(line)
                elif para:
                    yield "".join(para).removesuffix("\n")
                    para = []
            if para:
                yield "".join(para).removesuffix("\n")


def _record_text(rec, field: str, path: Path) -> str:
    if isinstance(rec, str):
        return rec
    if isinstance(rec, dict) and isinstance(rec.get(field), str):
        return rec[field]
    keys = ", ".join(rec) if isinstance(rec, dict) else type(rec).__name__
    raise ConfigError(
        "data.text_field",
        f"'{field}' is not a text field of the records in {path} (found: {keys})",
        "set --data.text_field",
    )


def _json_documents(path: Path, field: str) -> Iterator[str]:
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield _record_text(json.loads(line), field, path)
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    for rec in data if isinstance(data, list) else [data]:
        yield _record_text(rec, field, path)


def _parquet_documents(path: Path, field: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if field not in pf.schema_arrow.names:
        raise ConfigError(
            "data.text_field",
            f"'{field}' is not a column of {path} (found: {', '.join(pf.schema_arrow.names)})",
            "set --data.text_field",
        )
    for batch in pf.iter_batches(columns=[field], batch_size=4096):
        yield from (t for t in batch.column(0).to_pylist() if t is not None)


def file_documents(path: Path, mode: str, field: str) -> Iterator[str]:
    if path.suffix == ".parquet":
        return _parquet_documents(path, field)
    if path.suffix in (".jsonl", ".json"):
        return _json_documents(path, field)
    return _text_documents(path, mode)


def _local_source(files: list[Path], mode: str, text_field: str, field: str) -> DocSource:
    return lambda: (doc for f in files for doc in _readable(file_documents(f, mode, text_field), f, field))


def _readable(docs: Iterator[str], path: Path, field: str) -> Iterator[str]:
    """`docs` of `path`, with a file that turns out unreadable midway reported as one line naming it."""
    try:
        yield from docs
    except UnicodeDecodeError:
        raise ConfigError(
            field, f"'{path}' is not UTF-8 text", "convert it to UTF-8 or leave it out"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(
            field, f"'{path}' has invalid JSON at line {e.lineno}", "fix or remove that record"
        ) from None


def local_sources(cfg) -> tuple[dict[str, DocSource], list[Path]]:
    d = cfg.data
    sources, all_files = {}, []
    for split, patterns, field in (
        ("train", d.path, "data.path"),
        ("validation", d.val_path, "data.val_path"),
        ("test", d.test_path, "data.test_path"),
    ):
        if patterns:
            files = resolve_paths(patterns, field)
            sources[split] = _local_source(files, d.document, d.text_field, field)
            all_files += files
    return sources, all_files


# ---------------------------------------------------------------- Hugging Face Hub


def _offline() -> bool:
    return any(
        os.environ.get(v, "0").lower() not in ("0", "", "false")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine gets one line now instead of minutes of retries."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # a proxy may reach what a direct connection cannot
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_sources(cfg) -> dict[str, DocSource]:
    d = cfg.data
    label = d.name + (f"/{d.subset}" if d.subset else "")
    if not _offline() and not _hub_reachable():
        # Offline mode still loads a dataset that is in the local cache.
        os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    try:
        import datasets

        ds = datasets.load_dataset(d.name, d.subset)
    except Exception as e:  # noqa: BLE001 - any failure here is reported as one line
        fix = "use local files instead: --data.source local --data.path 'corpus/*.txt'"
        if _offline():
            problem = f"cannot reach the Hugging Face Hub to load '{label}' (offline) and it is not in the local cache"
            raise ConfigError("data.name", problem, fix) from None
        first = first_line(e)
        raise ConfigError(
            "data.name",
            f"could not load Hub dataset '{label}': {first}",
            "check data.name/data.subset or " + fix,
        ) from None
    sources = {}
    for split, aliases in _HUB_SPLIT_NAMES.items():
        name = next((a for a in aliases if a in ds), None)
        if name is None:
            continue
        columns = ds[name].column_names
        if d.text_field not in columns:
            problem = f"'{d.text_field}' is not a column of '{label}' (columns: {', '.join(columns)})"
            raise ConfigError("data.text_field", problem, "set --data.text_field")
        sources[split] = _hub_split_source(ds[name], d.text_field)
    if "train" not in sources:
        raise ConfigError(
            "data.name",
            f"'{label}' has no train split (splits: {', '.join(ds)})",
            "choose a dataset with a train split",
        )
    return sources


def _hub_split_source(split_ds, field: str) -> DocSource:
    def docs() -> Iterator[str]:
        for batch in split_ds.select_columns([field]).iter(batch_size=1000):
            yield from (t for t in batch[field] if t is not None)

    return docs


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


def _non_empty(docs: Iterator[str], dropped: list[int]) -> Iterator[str]:
    for doc in docs:
        if doc.strip():
            yield doc
        else:
            dropped[0] += 1


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
        for doc in _non_empty(source(), dropped):
            writers[split].write(doc)
    if missing:
        # Pass 1 counts train documents (kept in a pool file); pass 2 routes each by its seeded assignment.
        pool = _SplitWriter(out / ".pool.jsonl")
        for doc in _non_empty(sources["train"](), dropped):
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


def _file_stats(files: list[Path]) -> list:
    return [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def download(cfg, force: bool = False) -> Path | None:
    """Stage 1: write the train/validation/test documents of `cfg.data` to runs/<name>/data/splits/ (cached)."""
    d = cfg.data
    if d.source == "mqar":
        print("download: data.source is mqar, a generated task; nothing to download")
        return None
    from .preflight import check_corpus

    check_corpus(cfg)  # every local file readable and the training text not empty, before anything is written
    out = splits_dir(cfg)
    keys = ("source", "name", "subset", "text_field", "path", "val_path", "test_path", "document", "splits")
    settings = {k: v for k, v in dataclasses.asdict(d).items() if k in keys}
    if d.source == "local":
        sources, files = local_sources(cfg)
        fp = fingerprint("download", 1, settings, cfg.seed, _file_stats(files))
    else:
        fp = fingerprint("download", 1, settings, cfg.seed)
    if not force and is_up_to_date(out, fp):
        print(f"download: up to date ({out}); --force reruns")
        return out
    if d.source == "hub":
        sources = hub_sources(cfg)
    with atomic_dir(out) as tmp:
        meta = write_splits(sources, tmp, d.splits, cfg.seed)
        atomic_write_json(tmp / "meta.json", meta)
        mark_done(tmp, fp)
    _report(meta, out)
    return out


def _report(meta: dict, out: Path) -> None:
    parts = [f"{s} {v['documents']:,} docs ({v['bytes'] / 1e6:.2f} MB)" for s, v in meta["splits"].items()]
    carved = f"; carved {', '.join(meta['carved'])} from train" if meta["carved"] else ""
    print(
        f"download: {', '.join(parts)}; dropped {meta['dropped_empty_documents']:,} empty documents{carved} -> {out}"
    )


def iter_documents(split_dir: Path, split: str) -> Iterator[str]:
    """The documents of one written split, streamed."""
    with open(Path(split_dir) / f"{split}.jsonl", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)["text"]


def split_meta(split_dir: Path) -> dict:
    return read_json(Path(split_dir) / "meta.json")
