"""Stage 3, `retlab data tokenize`: tokenize every split in parallel and pack it into blocks of seq_len + 1.

Output: runs/<name>/data/packed/<split>.bin, a flat uint16/uint32 array viewed as (blocks, seq_len + 1), with
<split>.json (documents, tokens, blocks, remainder_tokens, dtype, tokenizer hash) and info.json (DataInfo).
Documents are joined into one stream with <eos> after each and cut into consecutive blocks; only the final
partial block is dropped (its size is recorded). Workers read line-aligned byte ranges of the split's JSONL
and return token arrays that the main process appends to the file in order, so memory stays bounded by a
few chunks whatever the corpus size. A streamed dataset (data.streaming) is packed from its stream instead,
resumably (pack_stream.py), into the same files."""

import contextlib
import itertools
import json
import math
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

from ..console import bar, per_split, where
from ..layout import RunLayout
from ..utils.files import atomic_dir, atomic_write_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done, stamp_info
from .download import download, splits_dir
from .info import SPLITS, DataInfo, token_dtype
from .tokenizer import tokenizer_dir, tokenizer_hash, train_tokenizer

_TOKENIZER = None  # per worker process
_EOS = 0
_DTYPE = np.dtype(np.uint16)
_GENERATION = (
    None  # per worker: shared with the main process, which moves it on to drop the batches queued so far
)


def packed_dir(cfg) -> Path:
    return RunLayout.of(cfg).data / "packed"


def line_chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about `chunk_bytes` that start and end on line boundaries."""
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as f:
        while bounds[-1] + chunk_bytes < size:
            f.seek(bounds[-1] + chunk_bytes)
            f.readline()
            if f.tell() >= size:
                break
            bounds.append(f.tell())
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def init_worker(tokenizer_json: str, eos: int, dtype: str, generation=None) -> None:
    from tokenizers import Tokenizer

    global _TOKENIZER, _EOS, _DTYPE, _GENERATION
    _TOKENIZER, _EOS, _DTYPE, _GENERATION = (
        Tokenizer.from_str(tokenizer_json),
        eos,
        np.dtype(dtype),
        generation,
    )


def encode_documents(docs: list[str]) -> np.ndarray:
    """Token ids of `docs` with <eos> after each, as one flat array (uses the worker's tokenizer)."""
    return encode_with_lengths(docs)[0]


def encode_with_lengths(docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`encode_documents` and the number of tokens of each document (its <eos> included)."""
    ids = [e.ids for e in _TOKENIZER.encode_batch(docs, add_special_tokens=False)]
    for doc_ids in ids:
        doc_ids.append(_EOS)
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=_DTYPE, count=int(lengths.sum()))
    return flat, lengths


def _encode_range(task: tuple[str, int, int]) -> tuple[np.ndarray, int, int]:
    path, start, end = task
    with open(path, "rb") as f:
        f.seek(start)
        lines = f.read(end - start).decode("utf-8").splitlines()
    docs = [json.loads(line)["text"] for line in lines if line]
    return encode_documents(docs), len(docs), end - start


def _tasks(path: Path, num_proc: int) -> list[tuple[str, int, int]]:
    chunk = int(min(max(path.stat().st_size / (8 * num_proc), 64 << 10), 4 << 20))
    return [(str(path), a, b) for a, b in line_chunks(path, chunk)]


def pack_split(
    jsonl: Path, out_bin: Path, block_len: int, dtype: np.dtype, pool=None, num_proc: int = 1, progress=None
) -> dict:
    """Tokenize one split's JSONL into `out_bin` and cut it to whole blocks; returns its counts. `progress`
    (`stage_progress`) advances the stage's one bar over every split; without it the split gets a bar of its own.
    Needs `init_worker` to have run in this process (and in `pool`'s workers)."""
    tasks = _tasks(jsonl, num_proc)
    results = pool.imap(_encode_range, tasks) if pool else map(_encode_range, tasks)
    tokens = documents = 0
    with open(out_bin, "wb") as f, contextlib.ExitStack() as stack:
        advance = progress or stack.enter_context(stage_progress(kib(jsonl.stat().st_size)))
        for arr, n_docs, n_bytes in results:
            f.write(arr.tobytes())
            tokens += len(arr)
            documents += n_docs
            advance(n_bytes, len(arr))
    return cut_blocks(out_bin, documents, tokens, block_len, dtype)


@contextlib.contextmanager
def stage_progress(total_kib: int):
    """The tokenize stage's bar, in KiB of text with the tokens so far; yields advance(n_bytes, n_tokens) and
    ends full (the bytes between documents are not counted as they are read)."""
    seen = {"bytes": 0, "tokens": 0}
    with bar("tokenize", total_kib, "KiB") as update:

        def advance(n_bytes: int, n_tokens: int) -> None:
            seen["bytes"] += n_bytes
            seen["tokens"] += n_tokens
            update(completed=min(total_kib, seen["bytes"] / 1024), info=f"{seen['tokens']:,} tokens")

        yield advance
        update(completed=total_kib)


def kib(n_bytes: int) -> int:
    return max(1, math.ceil(n_bytes / 1024))


def cut_blocks(out_bin: Path, documents: int, tokens: int, block_len: int, dtype: np.dtype) -> dict:
    """Cut the token stream in `out_bin` to whole blocks (the final partial block is the only text dropped) and
    return the split's counts. Idempotent: a file already cut stays as it is."""
    blocks, remainder = divmod(tokens, block_len)
    os.truncate(out_bin, blocks * block_len * np.dtype(dtype).itemsize)
    return {
        "documents": documents,
        "tokens": tokens,
        "blocks": blocks,
        "block_len": block_len,
        "remainder_tokens": remainder,
    }


def _pool(num_proc: int, tokenizer_json: str, eos: int, dtype: np.dtype):
    init_worker(tokenizer_json, eos, dtype.name)  # the in-process path (num_proc == 1) uses it too
    if num_proc <= 1:
        return None
    # Fork is fast (no re-import of torch); workers must not also spawn Rust threads each.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    generation = ctx.RawValue("i", 0)
    pool = ctx.Pool(num_proc, initializer=init_worker, initargs=(tokenizer_json, eos, dtype.name, generation))
    pool.generation = generation
    return pool


def encode_if_current(task: tuple[int, list[str]]) -> tuple[np.ndarray, np.ndarray] | None:
    """`encode_with_lengths` of a batch sent as (generation, documents); None, at once, for a batch of an older
    generation than the pool's (`drop_queued`)."""
    generation, docs = task
    if _GENERATION is not None and generation != _GENERATION.value:
        return None
    return encode_with_lengths(docs)


def drop_queued(pool) -> None:
    """Batches already sent to `pool` and not started are not needed: they will return None without work."""
    if pool is not None:
        pool.generation.value += 1


def close_pool(pool) -> None:
    """Let the workers finish and exit (no terminate(): a worker killed while it writes a result can leave the
    pool's pipes locked)."""
    if pool is not None:
        pool.close()
        pool.join()


def tokenize(cfg, force: bool = False) -> DataInfo:
    """Stage 3: pack every split into runs/<name>/data/packed/ (cached) and return its DataInfo."""
    if cfg.data.source == "mqar":  # the synthetic task needs no tokenizer: this stage generates it
        from .mqar import generate

        return generate(cfg, force=force)
    if cfg.data.streaming:
        from .pack_stream import tokenize_stream

        return tokenize_stream(cfg, force=force)
    if cfg.tokenizer.path:  # otherwise training the tokenizer runs the download
        download(cfg)
    train_tokenizer(cfg)
    out, tok_dir = packed_dir(cfg), tokenizer_dir(cfg)
    tok = stamp_info(tok_dir)
    up_fp = [stamp_info(splits_dir(cfg))["fingerprint"], tok["fingerprint"]]
    fp = fingerprint("tokenize", 1, up_fp, cfg.data.seq_len)
    if not force and is_up_to_date(out, fp):
        print(f"tokenize: up to date ({where(out)}); --force reruns")
        return DataInfo.load(out)
    dtype = token_dtype(tok["vocab_size"])
    t0, counts = time.perf_counter(), {}
    pool = pool_for(cfg, tok_dir, tok, dtype)
    jsonl = {split: splits_dir(cfg) / f"{split}.jsonl" for split in SPLITS}
    total = kib(sum(p.stat().st_size for p in jsonl.values()))
    try:
        with atomic_dir(out) as tmp:
            with stage_progress(total) as advance:  # one bar for the stage, every split
                for split in SPLITS:
                    counts[split] = pack_split(
                        jsonl[split],
                        tmp / f"{split}.bin",
                        cfg.data.seq_len + 1,
                        dtype,
                        pool,
                        cfg.data.num_proc,
                        advance,
                    )
            write_outputs(cfg, tmp, tok_dir, tok, counts, fp)
    finally:
        close_pool(pool)
    report(counts, time.perf_counter() - t0, cfg.data.seq_len, out)
    return DataInfo.load(out)


def pool_for(cfg, tok_dir: Path, tok: dict, dtype: np.dtype):
    """Tokenizer workers for the run's tokenizer (None for data.num_proc 1: this process encodes)."""
    tokenizer_json = (tok_dir / "tokenizer.json").read_text(encoding="utf-8")
    return _pool(cfg.data.num_proc, tokenizer_json, tok["eos_token_id"], dtype)


def write_outputs(cfg, data_dir: Path, tok_dir: Path, tok: dict, counts: dict, fp: str) -> None:
    """<split>.json for every packed split, info.json and the stage stamp."""
    common = {
        "dtype": token_dtype(tok["vocab_size"]).name,
        "seq_len": cfg.data.seq_len,
        "tokenizer_hash": tokenizer_hash(tok_dir),
        "vocab_size": tok["vocab_size"],
    }
    for split, c in counts.items():
        atomic_write_json(data_dir / f"{split}.json", {"split": split, **c, **common})
    _info(cfg, tok, tok_dir, data_dir).save()
    mark_done(data_dir, fp, **{s: c["tokens"] for s, c in counts.items()})


def _info(cfg, tok: dict, tok_dir: Path, data_dir: Path) -> DataInfo:
    ids = {k: tok[k] for k in ("pad_token_id", "bos_token_id", "eos_token_id")}
    return DataInfo(
        vocab_size=tok["vocab_size"],
        seq_len=cfg.data.seq_len,
        tokenizer_dir=tok_dir.resolve(),
        data_dir=data_dir,
        **ids,
    )


def report(counts: dict, seconds: float, seq_len: int, out: Path, tokens_now: int | None = None) -> None:
    """Per-split counts, then the speed of this session's work (`tokens_now`, default all tokens)."""
    for split, c in counts.items():
        if c["blocks"] == 0:
            print(
                f"tokenize: warning: {split} has {c['tokens']:,} tokens, less than one block of {seq_len + 1}; lower data.seq_len"
            )
    blocks = per_split(
        {s: c["blocks"] for s, c in counts.items()}
    )  # tokens and remainders: each split's json
    total = sum(c["tokens"] for c in counts.values()) if tokens_now is None else tokens_now
    print(
        f"tokenize: {total:,} tokens = {blocks} blocks, {total / max(seconds, 1e-9):,.0f} tokens/s -> {where(out)}"
    )
