"""The `data` and `tokenizer` sections: where text comes from, how it is split, tokenized and packed."""

from dataclasses import dataclass, field
from typing import Literal

from .checks import Problem, non_negative, path_field, positive, require

MQAR_RESERVED_IDS = 4
"""MQAR ids below this are special (pad=0, bos=1, eos=2, 3 unused) and never appear in examples."""


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

    def problems(self, seq_len: int) -> list[Problem]:
        """The task's own ranges, and whether `seq_len` (data.seq_len) holds its pairs and queries."""
        if not self.num_kv_pairs or min(self.num_kv_pairs) < 1:
            return [("data.mqar.num_kv_pairs", f"needs values >= 1, got {self.num_kv_pairs}", "e.g. [4, 8]")]
        bad = []
        for n in ("train_examples", "val_examples", "test_examples"):
            bad += require(
                getattr(self, n) >= 1,
                f"data.mqar.{n}",
                f"must be >= 1, got {getattr(self, n)}",
                "use a positive count",
            )
        bad += require(
            self.num_queries is None or self.num_queries >= 1,
            "data.mqar.num_queries",
            f"must be >= 1, got {self.num_queries}",
            "or null for one per pair",
        )
        kv = max(self.num_kv_pairs)
        bad += require(
            (self.vocab_size - MQAR_RESERVED_IDS) // 2 >= kv,
            "data.mqar.vocab_size",
            f"{self.vocab_size} is too small for {kv} distinct keys",
            f"use >= {MQAR_RESERVED_IDS + 2 * kv}",
        )
        queries = self.num_queries or kv
        return bad + require(
            queries <= max((seq_len + 1 - 2 * kv) // 2, 0),
            "data.seq_len",
            f"{seq_len} is too short for {kv} key-value pairs and {queries} queries",
            f"use >= {2 * kv + 2 * queries}",
        )


@dataclass
class DataConfig:
    """Where the text comes from, how it is split into train/val/test, and how it is packed."""

    source: Literal["mqar", "hub", "local"] = "mqar"
    """`mqar` (built-in synthetic task), `hub` (a Hugging Face dataset by name) or `local` (files under `path`)."""
    name: str | None = path_field(kind="name")
    """Hub dataset name, e.g. `wikitext` or `allenai/c4`, or a local dataset folder loaded the same way (its splits
    from its file names, e.g. train.jsonl and validation.jsonl) (source: hub)."""
    subset: str | None = None
    """Hub dataset configuration, e.g. `wikitext-103-raw-v1` (source: hub)."""
    text_field: str = "text"
    """Field that holds the text in Hub, JSON, JSONL and Parquet records."""
    path: list[str] = path_field(factory=list)
    """Local files or globs (source: local): .jsonl/.json/.parquet records, any other file plain text (all read
    through `datasets`' streaming builders); split by `splits` unless `val_path` and `test_path` give those splits."""
    val_path: list[str] = path_field(factory=list)
    """Local files of the validation split (source: local; default: carved from `path` by `splits`)."""
    test_path: list[str] = path_field(factory=list)
    """Local files of the test split (source: local; default: carved from `path` by `splits`)."""
    document: Literal["line", "paragraph", "file"] = "paragraph"
    """How local text files split into documents: one per line, per blank-line-separated paragraph, or per file."""
    splits: list[float] = field(default_factory=lambda: [0.98, 0.01, 0.01])
    """Train/val/test fractions of a seeded split by document, used for the splits a dataset lacks (missing ones
    are carved out of train); a streamed dataset uses `val_documents`/`test_documents` instead."""
    streaming: bool = False
    """Stream the dataset instead of downloading it whole (Hub or local files): documents are read, shuffled,
    split and packed on the fly, and the train split stops at `max_tokens`/`max_documents`."""
    max_tokens: int | None = None
    """Train-split budget in tokens (data.streaming): packing stops at exactly this many tokens."""
    max_documents: int | None = None
    """Train-split budget in documents (data.streaming); with `max_tokens` too, whichever is reached first."""
    val_documents: int = 1000
    """Validation documents when streaming: the first ones of the dataset's own validation split, else carved
    from the head of the shuffled train stream (so never in train)."""
    test_documents: int = 1000
    """Test documents when streaming: the first ones of the dataset's own test split, else carved from the
    shuffled train stream right after the validation documents."""
    shuffle_buffer: int = 10_000
    """Documents in the seeded shuffle buffer of a streamed dataset (1: keep the dataset's order)."""
    seq_len: int = 256
    """Tokens per training example; the stream is packed into blocks of seq_len + 1."""
    num_proc: int = 2
    """Worker processes for tokenization."""
    num_workers: int = 0
    """DataLoader worker processes."""
    mqar: MQARConfig = field(default_factory=MQARConfig)
    """Settings of the built-in MQAR task (source: mqar)."""

    def problems(self) -> list[Problem]:
        bad = require(
            len(self.splits) == 3,
            "data.splits",
            f"needs 3 fractions [train, val, test], got {len(self.splits)}",
            "e.g. [0.98, 0.01, 0.01]",
        )
        if len(self.splits) == 3:
            bad += require(
                min(self.splits) >= 0 and self.splits[0] > 0,
                "data.splits",
                "fractions must be >= 0 (train > 0)",
                "e.g. [0.98, 0.01, 0.01]",
            )
            bad += require(
                abs(sum(self.splits) - 1) < 1e-6,
                "data.splits",
                f"fractions sum to {sum(self.splits):g}, not 1",
                "make them sum to 1",
            )
        bad += require(self.seq_len >= 2, "data.seq_len", f"must be >= 2, got {self.seq_len}", "use e.g. 256")
        bad += positive(self, "data", "num_proc") + non_negative(self, "data", "num_workers")
        bad += require(
            self.source != "hub" or bool(self.name),
            "data.name",
            "is required for source: hub",
            "set e.g. --data.name wikitext",
        )
        bad += require(
            self.source != "local" or bool(self.path),
            "data.path",
            "is required for source: local",
            "set e.g. --data.path 'corpus/*.txt'",
        )
        bad += self._streaming_problems()
        return bad + (self.mqar.problems(self.seq_len) if self.source == "mqar" else [])

    def _streaming_problems(self) -> list[Problem]:
        bad = positive(self, "data", "max_tokens", "max_documents", optional=True)
        for name in ("max_tokens", "max_documents"):
            bad += require(
                getattr(self, name) is None or self.streaming,
                f"data.{name}",
                "applies only to a streamed dataset",
                "set data.streaming: true",
            )
        bad += non_negative(self, "data", "val_documents", "test_documents")
        bad += require(
            self.shuffle_buffer >= 1,
            "data.shuffle_buffer",
            f"must be >= 1, got {self.shuffle_buffer}",
            "1 keeps the dataset's order",
        )
        return bad + require(
            not (self.streaming and self.source == "mqar"),
            "data.streaming",
            "does not apply to the generated mqar task",
            "set data.source to hub or local",
        )


@dataclass
class TokenizerConfig:
    """The tokenizer: a byte-level BPE trained on the train split, or an existing Hugging Face tokenizer."""

    vocab_size: int = 8192
    """Vocabulary size of the trained BPE, special tokens included."""
    path: str | None = path_field(kind="name")
    """An existing Hugging Face tokenizer (directory or Hub name) to use instead of training one."""
    min_frequency: int = 2
    """Minimum pair frequency for a BPE merge."""
    train_documents: int | None = None
    """Train the BPE on at most this many train documents, a bounded sample (null: all of them, or the first
    100,000 of a streamed train split, which may be unbounded)."""

    def problems(self) -> list[Problem]:
        bad = require(
            self.path is not None or self.vocab_size >= 260,
            "tokenizer.vocab_size",
            f"must be >= 260 (256 bytes + 4 specials), got {self.vocab_size}",
            "use e.g. 8192",
        )
        return (
            bad
            + positive(self, "tokenizer", "min_frequency")
            + positive(self, "tokenizer", "train_documents", optional=True)
        )
