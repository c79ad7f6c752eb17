"""The `data` and `tokenizer` sections: where text comes from, how it is split, tokenized and packed."""

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class MQARConfig:
    """Multi-query associative recall (Zoology, Arora et al. 2023): a synthetic recall task, no download."""

    vocab_size: int = 256
    """Token vocabulary of the task: ids 0-3 are reserved (pad=0, bos=1, eos=2), keys come from the lower half of
    the rest and values from the upper half."""
    num_kv_pairs: list[int] = field(default_factory=lambda: [4, 8])
    """Numbers of key-value pairs per sequence; examples are spread evenly over them."""
    num_queries: int | None = None
    """Queries per sequence, each a key seen earlier followed by its value (default: one per key-value pair)."""
    train_examples: int = 2000
    """Training sequences to generate."""
    val_examples: int = 200
    """Validation sequences to generate."""
    test_examples: int = 200
    """Test sequences to generate."""


@dataclass
class DataConfig:
    """Where the text comes from, how it is split into train/val/test, and how it is packed."""

    source: Literal["mqar", "hub", "local"] = "mqar"
    """`mqar` (built-in synthetic task), `hub` (a Hugging Face Hub dataset) or `local` (files under `path`)."""
    name: str | None = None
    """Hub dataset name, e.g. `wikitext` or `roneneldan/TinyStories` (source: hub)."""
    subset: str | None = None
    """Hub dataset configuration, e.g. `wikitext-103-raw-v1` (source: hub)."""
    text_field: str = "text"
    """Field that holds the text in Hub, JSON, JSONL and Parquet records."""
    path: list[str] = field(default_factory=list)
    """Local files or globs (source: local): .jsonl/.json/.parquet records, any other file plain text; split by `splits` unless
    `val_path` and `test_path` give those splits."""
    val_path: list[str] = field(default_factory=list)
    """Local files of the validation split (source: local; default: carved from `path` by `splits`)."""
    test_path: list[str] = field(default_factory=list)
    """Local files of the test split (source: local; default: carved from `path` by `splits`)."""
    document: Literal["line", "paragraph", "file"] = "paragraph"
    """How local text files split into documents: one per line, per blank-line-separated paragraph, or per file."""
    splits: list[float] = field(default_factory=lambda: [0.98, 0.01, 0.01])
    """Train/val/test fractions of a seeded split by document, used for the splits a dataset lacks (missing ones
    are carved out of train)."""
    seq_len: int = 256
    """Tokens per training example; the stream is packed into blocks of seq_len + 1."""
    num_proc: int = 2
    """Worker processes for tokenization."""
    num_workers: int = 0
    """DataLoader worker processes."""
    mqar: MQARConfig = field(default_factory=MQARConfig)
    """Settings of the built-in MQAR task (source: mqar)."""


@dataclass
class TokenizerConfig:
    """The tokenizer: a byte-level BPE trained on the train split, or an existing Hugging Face tokenizer."""

    vocab_size: int = 8192
    """Vocabulary size of the trained BPE, special tokens included."""
    path: str | None = None
    """An existing Hugging Face tokenizer (directory or Hub name) to use instead of training one."""
    min_frequency: int = 2
    """Minimum pair frequency for a BPE merge."""
