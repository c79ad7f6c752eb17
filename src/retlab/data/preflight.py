"""Corpus checks before any data stage writes: every local file the download will read opens, is not a
binary file, and the training files hold some text (for MQAR: the generated task fits in memory). Cheap on
purpose (the head of each file, and reading on only until the first non-blank character), so it runs on every
command; a problem deeper in a file is still reported as one line by the download stage, whose output appears
whole or not at all."""

import codecs
from pathlib import Path

from ..errors import ConfigError, first_line
from .sources import resolve_paths

SNIFF_BYTES = 1 << 20
_RECORDS = (".jsonl", ".json", ".parquet")


def check_corpus(cfg) -> None:
    """ConfigError naming the file and the fix for the first unusable local corpus file (source: local)."""
    d = cfg.data
    if d.source == "mqar":
        check_mqar_size(cfg)
    if d.source != "local":
        return
    for patterns, field in (
        (d.path, "data.path"),
        (d.val_path, "data.val_path"),
        (d.test_path, "data.test_path"),
    ):
        files = resolve_paths(patterns, field) if patterns else []
        for path in files:
            check_file(path, field, d.text_field)
        if field == "data.path" and not any(has_text(p) for p in files):
            shown = ", ".join(str(p) for p in files[:3]) + (" ..." if len(files) > 3 else "")
            raise ConfigError(
                field, f"the training files hold no text ({shown} empty or blank)", "give a corpus with text"
            )


def check_mqar_size(cfg) -> None:
    """The generated MQAR splits fit in memory (they are built there before being written)."""
    from ..preflight import check_memory
    from .info import token_dtype

    q, seq_len = cfg.data.mqar, cfg.data.seq_len
    counts = {
        "train_examples": q.train_examples,
        "val_examples": q.val_examples,
        "test_examples": q.test_examples,
    }
    per_example = (
        (seq_len + 1) * token_dtype(q.vocab_size).itemsize + seq_len + 8
    )  # block, answer mask, kv count
    biggest = max(counts, key=counts.get)
    check_memory(
        f"generating {sum(counts.values()):,} MQAR examples of {seq_len + 1:,} tokens",
        f"data.mqar.{biggest}",
        sum(counts.values()) * per_example,
        "generate fewer or shorter examples",
    )


def check_file(path: Path, field: str, text_field: str) -> None:
    """`path` can be read as the download will read it: parquet metadata with `text_field`, or UTF-8 text."""
    fix = "give text files (UTF-8), .jsonl/.json records or .parquet"
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            names = pq.ParquetFile(path).schema_arrow.names
        except Exception as e:  # noqa: BLE001 - any pyarrow failure means the file is not a readable table
            raise ConfigError(
                field, f"'{path}' is not a readable parquet file: {first_line(e)}", fix
            ) from None
        if text_field not in names:
            raise ConfigError(
                "data.text_field",
                f"'{text_field}' is not a column of {path} (found: {', '.join(names)})",
                "set --data.text_field",
            )
        return
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
            decoder.decode(head, final=len(head) < SNIFF_BYTES)
    except OSError as e:
        raise ConfigError(
            field, f"cannot read '{path}': {e.strerror or first_line(e)}", "check its permissions"
        ) from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            field, f"'{path}' is not UTF-8 text (byte {e.start} is {head[e.start]:#04x}; binary?)", fix
        ) from None
    if b"\x00" in head:
        raise ConfigError(field, f"'{path}' contains NUL bytes: a binary file, not text", fix)


def has_text(path: Path) -> bool:
    """Whether the file holds any non-blank character (records files: any non-blank byte)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows > 0
    with open(path, "rb") as f:
        while chunk := f.read(SNIFF_BYTES):
            if chunk.strip(b" \t\r\n\x0b\x0c") not in (b"", codecs.BOM_UTF8):
                return True
    return False
