"""DataInfo: what the model and the trainer need to know about prepared data, and the on-disk block format."""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.files import atomic_write_json, read_json

INFO_FILE = "info.json"
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DataInfo:
    """Prepared data: vocabulary, special ids, block length and where the packed splits live."""

    vocab_size: int
    pad_token_id: int
    bos_token_id: int
    eos_token_id: int
    seq_len: int
    tokenizer_dir: Path | None
    data_dir: Path
    task: str = "lm"
    """`lm` (packed text) or `mqar` (labels only at answer positions, batches also carry num_kv_pairs)."""

    def save(self) -> None:
        d = dataclasses.asdict(self)
        d["tokenizer_dir"] = str(self.tokenizer_dir) if self.tokenizer_dir else None
        d["data_dir"] = str(self.data_dir)
        atomic_write_json(Path(self.data_dir) / INFO_FILE, d)

    @classmethod
    def load(cls, data_dir: str | Path) -> "DataInfo":
        d = read_json(Path(data_dir) / INFO_FILE)
        d["tokenizer_dir"] = Path(d["tokenizer_dir"]) if d["tokenizer_dir"] else None
        d["data_dir"] = Path(data_dir).resolve()
        return cls(**d)


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab <= 65536 ids 0..65535), else uint32: half the disk and page cache."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def open_blocks(data_dir: str | Path, split: str) -> np.ndarray:
    """The packed blocks of a split as a read-only memmap of shape (n_blocks, seq_len + 1)."""
    meta = read_json(Path(data_dir) / f"{split}.json")
    shape = (meta["blocks"], meta["block_len"])
    if meta["blocks"] == 0:
        return np.zeros(shape, dtype=meta["dtype"])
    return np.memmap(Path(data_dir) / f"{split}.bin", dtype=meta["dtype"], mode="r", shape=shape)
