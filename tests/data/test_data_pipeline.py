"""Stages 3-4: packing keeps every token, dtype choice, caching, atomicity; the DataModule's alignment,
determinism and DDP sharding."""

import json

import numpy as np
import pytest
import torch

from retlab.config.loader import load_config
from retlab.data import RetlabDataModule, prepare
from retlab.data import tokenize as tk
from retlab.data.datamodule import ShardedSampler
from retlab.data.download import iter_documents, splits_dir
from retlab.data.info import SPLITS, DataInfo, open_blocks, token_dtype
from retlab.data.tokenizer import tokenizer_dir, tokenizer_hash
from retlab.utils.stage import stamp_info

SEQ = 64


def make_cfg(tmp, shared_data, name="t", **over):
    o = {
        "output_dir": str(tmp),
        "name": name,
        "data.source": "local",
        "data.path": [str(shared_data / "corpora/tinyshakespeare/input.txt")],
        "data.splits": [0.9, 0.05, 0.05],
        "data.seq_len": SEQ,
        "data.num_proc": 2,
        "tokenizer.vocab_size": 512,
        "train.batch_size": 8,
    }
    return load_config(None, o | over)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, shared_data):
    cfg = make_cfg(tmp_path_factory.mktemp("pipe"), shared_data)
    return cfg, prepare(cfg)


def reference_stream(cfg, split: str) -> np.ndarray:
    """Tokenize the split's documents independently: ids of each document followed by <eos>."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir(cfg) / "tokenizer.json"))
    eos = tok.token_to_id("<eos>")
    ids = []
    for enc in tok.encode_batch(list(iter_documents(splits_dir(cfg), split)), add_special_tokens=False):
        ids += enc.ids + [eos]
    return np.array(ids)


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_packing_keeps_every_token(prepared, split):
    cfg, info = prepared
    meta = json.loads((info.data_dir / f"{split}.json").read_text())
    stream = reference_stream(cfg, split)
    assert meta["tokens"] == len(stream)
    assert meta["blocks"] * meta["block_len"] + meta["remainder_tokens"] == meta["tokens"]
    assert meta["block_len"] == SEQ + 1 and 0 <= meta["remainder_tokens"] < SEQ + 1
    blocks = open_blocks(info.data_dir, split)
    np.testing.assert_array_equal(np.asarray(blocks).reshape(-1), stream[: blocks.size])
    assert meta["dtype"] == "uint16" and meta["tokenizer_hash"] == tokenizer_hash(tokenizer_dir(cfg))


def test_dtype_choice():
    assert token_dtype(512) == np.uint16 and token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32 and token_dtype(200_000) == np.uint32


def test_uint32_keeps_ids_above_65535(tmp_path, prepared):
    cfg, _ = prepared
    tok_json = (tokenizer_dir(cfg) / "tokenizer.json").read_text()
    tk.init_worker(tok_json, 70_000, "uint32")  # an <eos> id that does not fit in uint16
    c = tk.pack_split(splits_dir(cfg) / "test.jsonl", tmp_path / "t.bin", SEQ + 1, np.dtype(np.uint32))
    data = np.fromfile(tmp_path / "t.bin", dtype=np.uint32)
    assert len(data) == c["blocks"] * (SEQ + 1) and (data == 70_000).sum() > 0


def test_one_and_two_processes_write_identical_files(tmp_path, prepared):
    cfg, info = prepared  # packed with num_proc=2
    tk.init_worker((tokenizer_dir(cfg) / "tokenizer.json").read_text(), info.eos_token_id, "uint16")
    for split in ("train", "test"):
        tk.pack_split(splits_dir(cfg) / f"{split}.jsonl", tmp_path / "one.bin", SEQ + 1, np.dtype(np.uint16))
        assert (tmp_path / "one.bin").read_bytes() == (info.data_dir / f"{split}.bin").read_bytes()


def test_cache_skips_reruns_on_change_and_force(tmp_path, shared_data, capsys):
    cfg = make_cfg(
        tmp_path, shared_data, "c", **{"data.path": [str(shared_data / "corpora/ptb/ptb.valid.txt")]}
    )
    info = prepare(cfg)
    bin_path = info.data_dir / "train.bin"
    before = (bin_path.stat().st_mtime_ns, stamp_info(tokenizer_dir(cfg))["fingerprint"])
    capsys.readouterr()
    prepare(cfg)
    out = capsys.readouterr().out
    assert out.count("up to date") == 3 and bin_path.stat().st_mtime_ns == before[0]
    # A packing-only change reruns packing, not the tokenizer.
    cfg2 = make_cfg(tmp_path, shared_data, "c", **{"data.path": cfg.data.path, "data.seq_len": 32})
    info2 = prepare(cfg2)
    out = capsys.readouterr().out
    assert "tokenizer: up to date" in out and "tokens/s" in out and info2.seq_len == 32
    assert open_blocks(info2.data_dir, "train").shape[1] == 33
    tk.tokenize(cfg2, force=True)
    assert "tokens/s" in capsys.readouterr().out


def test_interrupted_stage_leaves_no_result(tmp_path, shared_data, monkeypatch):
    cfg = make_cfg(
        tmp_path, shared_data, "i", **{"data.path": [str(shared_data / "corpora/ptb/ptb.valid.txt")]}
    )
    calls = []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    real = tk.pack_split
    monkeypatch.setattr(tk, "pack_split", failing)
    with pytest.raises(KeyboardInterrupt):
        prepare(cfg)
    data = tk.packed_dir(cfg).parent
    assert not tk.packed_dir(cfg).exists() and not [p for p in data.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(tk, "pack_split", real)
    assert prepare(cfg).vocab_size == 512


def test_batches_are_aligned(prepared):
    cfg, info = prepared
    dm = RetlabDataModule(cfg, info)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"input_ids", "labels"}
    assert batch["input_ids"].shape == (8, SEQ) and batch["input_ids"].dtype == torch.long
    torch.testing.assert_close(batch["labels"][:, :-1], batch["input_ids"][:, 1:])
    blocks = open_blocks(info.data_dir, "train")
    first = dm.sampler("train").indices()[0]
    assert batch["labels"][0].tolist() == blocks[first][1:].tolist()


def test_order_is_deterministic_per_epoch(prepared):
    cfg, info = prepared
    a = RetlabDataModule(cfg, info).sampler("train")
    b = RetlabDataModule(cfg, info).sampler("train")
    assert list(a) == list(b)
    e0 = list(a)
    a.set_epoch(1)
    assert list(a) != e0 and sorted(a) == sorted(e0)
    other = ShardedSampler(len(e0), seed=cfg.seed + 1)
    assert list(other) != e0


@pytest.mark.parametrize("n", [101, 100, 1])
def test_two_ranks_get_disjoint_equal_shards(n):
    r0, r1 = (ShardedSampler(n, rank=r, world_size=2, seed=3) for r in (0, 1))
    a, b = list(r0), list(r1)
    assert len(a) == len(b) == len(r0) == n // 2
    assert not set(a) & set(b) and len(set(a) | set(b)) == 2 * (n // 2)
    e0, e1 = (ShardedSampler(n, rank=r, world_size=2, shuffle=False, pad=True) for r in (0, 1))
    assert len(list(e0)) == len(list(e1)) == -(-n // 2)
    assert set(e0) | set(e1) == set(range(n))  # evaluation sees every example


def test_datamodule_shards_like_two_ranks(prepared):
    cfg, info = prepared
    loaders = [RetlabDataModule(cfg, info, rank=r, world_size=2).train_dataloader() for r in (0, 1)]
    assert len(loaders[0]) == len(loaders[1])
    firsts = [next(iter(dl))["input_ids"] for dl in loaders]
    assert not torch.equal(firsts[0], firsts[1])
    val = [RetlabDataModule(cfg, info, rank=r, world_size=2).val_dataloader() for r in (0, 1)]
    assert len(val[0]) == len(val[1])


def test_validation_keeps_the_last_partial_batch(prepared):
    cfg, info = prepared
    dm = RetlabDataModule(cfg, info, batch_size=7)
    n = len(dm.dataset("validation"))
    assert n % 7 != 0
    assert sum(len(b["input_ids"]) for b in dm.val_dataloader()) == n
    assert sum(len(b["input_ids"]) for b in dm.test_dataloader()) == len(dm.dataset("test"))


def test_info_round_trip(prepared):
    _, info = prepared
    again = DataInfo.load(info.data_dir)
    assert again == info and info.task == "lm" and info.tokenizer_dir.is_dir()
    assert (info.pad_token_id, info.bos_token_id, info.eos_token_id) == (0, 1, 2)


def test_workers_get_bounded_line_aligned_chunks(shared_data):
    path = shared_data / "corpora/ptb/ptb.valid.txt"
    data = path.read_bytes()
    chunks = tk.line_chunks(path, 10_000)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(data)
    for (_, b), (c, _) in zip(chunks, chunks[1:], strict=False):
        assert b == c and data[b - 1 : b] == b"\n"  # contiguous, cut after a newline
    assert max(b - a for a, b in chunks) < 10_000 + 1_000  # about chunk_bytes each, whatever the file size


def test_the_data_stages_print_one_line_each_that_fits_100_columns(
    tmp_path, shared_data, capsys, monkeypatch
):
    """download, tokenizer and tokenize each sum up in one line (the tokenize bar, without a terminal, prints its
    own line when it ends, counting KiB of text to the full total): at most 80 columns before the ` -> path`,
    which is shown relative to the current folder."""
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg("runs", shared_data, name="lines")
    prepare(cfg)
    lines = capsys.readouterr().out.splitlines()
    stages = [line.split(":", 1)[0] for line in lines]
    assert stages == ["download", "tokenizer", "tokenize", "tokenize"], lines
    assert all(len(line.split(" -> ")[0]) <= 80 for line in lines), lines
    bar_end, summary = lines[2], lines[3]
    done, total = bar_end.split(": ", 1)[1].split(" KiB", 1)[0].split("/")
    assert done == total and int(total) > 900  # Tiny Shakespeare: about 1 MiB of text
    assert summary.endswith("-> runs/lines/data/packed") and "7,863/471/435 train/val/test blocks" in summary
    tokens = sum(
        json.loads((tmp_path / f"runs/lines/data/packed/{s}.json").read_text())["tokens"] for s in SPLITS
    )
    assert summary.startswith(f"tokenize: {tokens:,} tokens = ") and f"{tokens:,} tokens" in bar_end
