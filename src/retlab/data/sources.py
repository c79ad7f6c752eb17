"""Where a corpus is opened, in one place: local files and Hugging Face datasets, as documents per split.

Local files are read through `datasets`' own builders in streaming mode (json for .jsonl/.json, parquet for
.parquet, text for any other file), the code that reads a streamed Hub dataset, so offline tests run what a Hub
run runs. `open_corpus` gives, for each split a dataset has, a `DocSource`: a callable that yields the split's
documents in order, empty ones included (callers drop those). Nothing is read until a source is called."""

import dataclasses
import glob
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ConfigError, first_line
from ..utils.stage import fingerprint

DocSource = Callable[[], Iterator[str]]
HUB_SPLIT_NAMES = {
    "train": ("train",),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test",),
}
# .jsonl, .json and .parquet hold records; any other file is plain text (.txt, WikiText's .raw/.tokens, ...).
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".7z", ".tar")
_BATCH = 4096  # records per batch read from a dataset (fewer, larger batches read faster)


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


def _builder(path: Path, mode: str) -> tuple[str, dict]:
    """The `datasets` builder (and its options) that reads `path` as documents split by `mode`."""
    if path.suffix == ".parquet":
        return "parquet", {}
    if path.suffix in (".jsonl", ".json"):
        return "json", {}
    # utf-8-sig: Project Gutenberg files start with a byte-order mark that is not text.
    sample_by = {"line": "line", "paragraph": "paragraph", "file": "document"}[mode]
    return "text", {"sample_by": sample_by, "encoding": "utf-8-sig"}


def paragraphs(text: str) -> Iterator[str]:
    """Paragraphs of `text`: blank (or whitespace-only) lines separate them; each loses its final newline.
    `datasets`' text builder cuts paragraphs at empty lines only; this also cuts at whitespace-only ones."""
    para: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.strip():
            para.append(line)
        elif para:
            yield "".join(para).removesuffix("\n")
            para = []
    if para:
        yield "".join(para).removesuffix("\n")


def file_documents(path: Path, mode: str, field: str) -> Iterator[str]:
    """The documents of one local file, in order: text files by `mode` (line, paragraph, file), records by their
    `field`."""
    import datasets

    # The json builder logs a parse error before raising it; retlab reports it once, as one line (_readable).
    logging.getLogger("datasets.packaged_modules.json.json").setLevel(logging.CRITICAL)
    builder, options = _builder(Path(path), mode)
    ds = datasets.load_dataset(builder, data_files=[str(path)], split="train", streaming=True, **options)
    texts = dataset_texts(ds, "text" if builder == "text" else field, str(path))
    if builder == "text" and mode == "paragraph":
        return (p for t in texts for p in paragraphs(t))
    return texts


def local_corpus(d) -> tuple[dict[str, DocSource], list[Path]]:
    """Sources of `data.path` (train) and of `data.val_path`/`data.test_path` when given, and every file read."""
    sources, all_files = {}, []
    for split, patterns, field in (
        ("train", d.path, "data.path"),
        ("validation", d.val_path, "data.val_path"),
        ("test", d.test_path, "data.test_path"),
    ):
        if patterns:
            files = resolve_paths(patterns, field)
            sources[split] = _files_source(files, d.document, d.text_field, field)
            all_files += files
    return sources, all_files


def _files_source(files: list[Path], mode: str, text_field: str, field: str) -> DocSource:
    return lambda: (doc for f in files for doc in _readable(file_documents(f, mode, text_field), f, field))


def _readable(docs: Iterator[str], path: Path, field: str) -> Iterator[str]:
    """`docs` of `path`, with a file that turns out unreadable midway reported as one line naming it."""
    try:
        yield from docs
    except UnicodeDecodeError:
        raise ConfigError(
            field, f"'{path}' is not UTF-8 text", "convert it to UTF-8 or leave it out"
        ) from None
    except (
        ValueError
    ) as e:  # datasets' json builder raises pyarrow's ArrowInvalid, json.loads JSONDecodeError
        if not isinstance(e, json.JSONDecodeError) and type(e).__name__ != "ArrowInvalid":
            raise
        raise ConfigError(
            field, f"'{path}' has invalid JSON ({first_line(e)})", "fix or remove that record"
        ) from None


# ---------------------------------------------------------------- Hugging Face datasets (Hub or a local folder)


def dataset_texts(ds, field: str, where: str) -> Iterator[str]:
    """The `field` values of a `datasets` Dataset or IterableDataset, read as Arrow batches; nulls are skipped."""
    import pyarrow as pa

    names = ds.column_names  # None for a stream whose columns are known only once read
    if names is not None:
        if field not in names:
            raise _not_a_column(field, where, names)
        ds = ds.select_columns([field])
    for table in ds.with_format("arrow").iter(batch_size=_BATCH):
        if field not in table.column_names:
            raise _not_a_column(field, where, table.column_names)
        column = table.column(field)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            if pa.types.is_null(column.type):
                continue
            raise ConfigError(
                "data.text_field",
                f"'{field}' of {where} holds {column.type} values, not text",
                "set --data.text_field",
            )
        yield from (t for t in column.to_pylist() if t is not None)


def _not_a_column(field: str, where: str, names) -> ConfigError:
    found = ", ".join(names)
    return ConfigError(
        "data.text_field",
        f"'{field}' is not a text field of {where} (found: {found})",
        "set --data.text_field",
    )


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


def _is_local_folder(name: str) -> bool:
    return Path(name).expanduser().is_dir()


def hub_corpus(d, streaming: bool) -> dict[str, DocSource]:
    """Sources of the splits of Hugging Face dataset `data.name` (a Hub id or a local dataset folder). Streaming
    reads records as they are used; otherwise the dataset is downloaded (or taken from the cache) first."""
    label = d.name + (f"/{d.subset}" if d.subset else "")
    local = _is_local_folder(d.name)
    if not local and not _offline() and not _hub_reachable():
        # Offline mode still loads a dataset that is in the local cache (not a streamed one).
        os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    try:
        import datasets

        name = str(Path(d.name).expanduser()) if local else d.name
        ds = datasets.load_dataset(name, d.subset, streaming=streaming)
    except Exception as e:  # noqa: BLE001 - any failure here is reported as one line
        fix = "use local files instead: --data.source local --data.path 'corpus/*.txt'"
        if _offline() and not local:
            how = "stream" if streaming else "load"
            cache = "" if streaming else " and it is not in the local cache"
            problem = f"cannot reach the Hugging Face Hub to {how} '{label}' (offline){cache}"
            raise ConfigError("data.name", problem, fix) from None
        raise ConfigError(
            "data.name",
            f"could not load dataset '{label}': {first_line(e)}",
            "check data.name/data.subset or " + fix,
        ) from None
    sources = {}
    for split, aliases in HUB_SPLIT_NAMES.items():
        name = next((a for a in aliases if a in ds), None)
        if name is None:
            continue
        if ds[name].column_names is not None and d.text_field not in ds[name].column_names:
            raise _not_a_column(d.text_field, f"'{label}'", ds[name].column_names)
        sources[split] = _dataset_source(ds[name], d.text_field, f"'{label}' ({name})")
    if "train" not in sources:
        raise ConfigError(
            "data.name",
            f"'{label}' has no train split (splits: {', '.join(ds)})",
            "choose a dataset with a train split",
        )
    return sources


def _dataset_source(split_ds, field: str, where: str) -> DocSource:
    return lambda: dataset_texts(split_ds, field, where)


# ---------------------------------------------------------------- one entry point


def non_empty(docs: Iterator[str], dropped: list[int] | None = None) -> Iterator[str]:
    """The documents that hold more than whitespace; `dropped[0]` counts the others."""
    for doc in docs:
        if doc.strip():
            yield doc
        elif dropped is not None:
            dropped[0] += 1


def open_corpus(cfg, streaming: bool) -> dict[str, DocSource]:
    """The document sources of `cfg.data` per split (train always; validation/test when the dataset has them)."""
    if cfg.data.source == "local":
        return local_corpus(cfg.data)[0]
    return hub_corpus(cfg.data, streaming)


_SOURCE_FIELDS = ("source", "name", "subset", "text_field", "path", "val_path", "test_path", "document")


def corpus_fingerprint(cfg) -> str:
    """What identifies the corpus: its settings and, for local files and folders, each file's size and time."""
    d = cfg.data
    settings = {k: v for k, v in dataclasses.asdict(d).items() if k in _SOURCE_FIELDS}
    if d.source == "local":
        files = local_corpus(d)[1]
    elif d.name and _is_local_folder(d.name):
        files = sorted(p for p in Path(d.name).expanduser().rglob("*") if p.is_file())
    else:
        files = []
    stats = [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    return fingerprint("corpus", 1, settings, stats)
