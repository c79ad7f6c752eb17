"""Stage 3 for a streamed dataset (data.streaming): tokenize and pack each split straight from its stream,
resumably, into the same packed/ files as the other path (tokenize.py).

Train documents come from the stream (streaming.py), validation and test ones from the files stage 1 wrote of
them. The main process reads documents, sends batches of them to the tokenizer workers (at most IN_FLIGHT_CHARS
characters at a time, so memory stays bounded whatever the corpus size) and appends the ids they return to
<split>.bin in stream order, in runs/<name>/data/.packed.partial/. Every SHARD_TOKENS tokens it closes a shard:
the .bin file is flushed to disk, then progress.json (documents and tokens of every split, written atomically)
records it. A kill loses the open shard only: on resume each .bin is cut back to the length progress.json
records (bytes past it are a partial shard, never counted) and the stream is read again, without tokenizing,
up to the first document not packed yet. The bytes written do not depend on where shards end, so a resumed run
writes what an uninterrupted one does. progress.json carries the stage fingerprint (corpus, seed, split sizes,
budgets, tokenizer, seq_len): any change starts afresh. Once every split is done the files are cut to whole
blocks and the folder replaces packed/."""

import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..console import where
from ..layout import RunLayout
from ..utils.files import atomic_write_json, read_json, replace_dir
from ..utils.stage import fingerprint, is_up_to_date, stamp_info
from .download import download, iter_documents, split_meta, splits_dir
from .info import SPLITS, DataInfo, token_dtype
from .streaming import Stream
from .tokenize import (
    close_pool,
    cut_blocks,
    drop_queued,
    encode_if_current,
    encode_with_lengths,
    packed_dir,
    pool_for,
    report,
    write_outputs,
)
from .tokenizer import tokenizer_dir, train_tokenizer

SHARD_TOKENS = 1 << 22
"""Tokens per shard: the most work a kill can cost (a few seconds of tokenizing)."""
BATCH_CHARS = 1 << 18
"""Characters of text per batch sent to a worker."""
IN_FLIGHT_CHARS = 1 << 24
"""Characters of text sent to the workers and not yet written. Results are written in stream order, so while a
worker encodes one huge document (seconds for a whole book) the others go on only as far as this allows."""
PROGRESS = "progress.json"


def partial_dir(cfg) -> Path:
    return RunLayout.of(cfg).data / ".packed.partial"


def batches(docs: Iterator[str], max_chars: int) -> Iterator[list[str]]:
    """Consecutive documents grouped into lists of about `max_chars` characters."""
    batch: list[str] = []
    chars = 0
    for doc in docs:
        batch.append(doc)
        chars += len(doc)
        if chars >= max_chars:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def encoded(
    docs: Iterator[str], pool, tokens_left: Callable[[], int | None] = lambda: None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, tokens per document) of each batch of `docs`, in order. At most IN_FLIGHT_CHARS characters are
    being encoded at once (Pool.imap would read the whole stream ahead into memory), and no more than
    `tokens_left()` tokens are likely to need (twice the characters per token seen so far; 16 before any)."""
    if pool is None:
        yield from map(encode_with_lengths, batches(docs, BATCH_CHARS))
        return
    pending: deque = deque()
    in_flight = done_chars = done_tokens = 0
    generation = pool.generation.value

    def wanted() -> float:
        left = tokens_left()
        per_token = 2 * done_chars / done_tokens if done_tokens else 16
        return IN_FLIGHT_CHARS if left is None else min(IN_FLIGHT_CHARS, left * per_token)

    for batch in batches(docs, BATCH_CHARS):
        chars = sum(map(len, batch))
        pending.append((pool.apply_async(encode_if_current, ((generation, batch),)), chars))
        in_flight += chars
        while pending and in_flight >= wanted():
            result, chars = pending.popleft()
            in_flight -= chars
            ids, lengths = result.get()
            done_chars, done_tokens = done_chars + chars, done_tokens + len(ids)
            yield ids, lengths
    while pending:
        yield pending.popleft()[0].get()


def pack_documents(
    docs: Iterator[str],
    out: BinaryIO,
    state: dict,
    max_tokens: int | None,
    pool,
    on_shard: Callable[[], None] = lambda: None,
    on_batch: Callable[[int, int], None] = lambda tokens, docs: None,
) -> None:
    """Append the ids of `docs` (each followed by <eos>) to `out` until `state["tokens"]` reaches `max_tokens`,
    cutting the last document there; `state` counts the documents and tokens written. `on_shard` is called
    every SHARD_TOKENS tokens, between batches, and `on_batch(tokens, documents)` after each batch."""
    since_shard = 0

    def tokens_left() -> int | None:
        return None if max_tokens is None else max_tokens - state["tokens"]

    for ids, lengths in encoded(docs, pool, tokens_left):
        n_docs = len(lengths)
        if max_tokens is not None and state["tokens"] + len(ids) >= max_tokens:
            room = max_tokens - state["tokens"]
            starts = np.cumsum(lengths) - lengths
            ids, n_docs = ids[:room], int(np.searchsorted(starts, room))  # documents begun within the budget
        out.write(ids.tobytes())
        state["tokens"] += len(ids)
        state["documents"] += n_docs
        on_batch(len(ids), n_docs)
        if max_tokens is not None and state["tokens"] >= max_tokens:
            return
        since_shard += len(ids)
        if since_shard >= SHARD_TOKENS:
            on_shard()
            since_shard = 0


@contextmanager
def _progress_bar(split: str, state: dict, total_tokens: int | None, total_docs: int | None):
    """A bar (`console.bar`) against the split's budget: tokens when it has a token budget (or none), else
    documents. Yields advance(n_tokens, n_docs)."""
    from ..console import bar

    by_tokens = total_tokens is not None or total_docs is None
    t0, tokens = time.perf_counter(), [0]
    total = total_tokens if by_tokens else total_docs
    with bar(f"tokenize {split}", total, "tokens" if by_tokens else "documents") as update:
        update(completed=state["tokens" if by_tokens else "documents"])

        def advance(n_tokens: int, n_docs: int) -> None:
            tokens[0] += n_tokens
            rate = f"{tokens[0] / max(time.perf_counter() - t0, 1e-9):,.0f} tok/s"
            update(n_tokens if by_tokens else n_docs, info=rate)

        yield advance


def _fresh_state(fp: str) -> dict:
    return {"fingerprint": fp, "splits": {s: {"documents": 0, "tokens": 0, "done": False} for s in SPLITS}}


def _resume(work: Path, fp: str, force: bool) -> dict:
    """The progress of an interrupted run of this very stage, or a fresh start (any other partial is removed)."""
    try:
        saved = read_json(work / PROGRESS)
    except (OSError, ValueError):
        saved = None
    if not force and saved and saved.get("fingerprint") == fp:
        done = [f"{s} {v['tokens']:,} tokens" for s, v in saved["splits"].items() if v["tokens"]]
        if done:
            print(f"tokenize: resuming after the last complete shard ({', '.join(done)})")
        return saved
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    state = _fresh_state(fp)
    atomic_write_json(work / PROGRESS, state)
    return state


def _split_documents(stream: Stream, split: str, skip: int) -> tuple[Iterator[str], int | None]:
    """The documents of `split` after the first `skip`, and how many the split has (None: up to its budget).
    Train comes from the stream; validation and test from the files stage 1 wrote of them."""
    if split == "train":
        return stream.documents("train", skip), stream.data.max_documents
    total = split_meta(splits_dir(stream.cfg))["splits"][split]["documents"]
    return islice(iter_documents(splits_dir(stream.cfg), split), skip, None), total


def _pack_split(stream: Stream, split: str, work: Path, state: dict, itemsize: int, pool) -> None:
    st = state["splits"][split]
    path = work / f"{split}.bin"
    path.touch()
    os.truncate(path, st["tokens"] * itemsize)  # drop a partial shard
    docs, total_docs = _split_documents(stream, split, st["documents"])
    max_tokens = stream.data.max_tokens if split == "train" else None
    with open(path, "ab") as f, _progress_bar(split, st, max_tokens, total_docs) as advance:

        def commit() -> None:
            f.flush()
            os.fsync(f.fileno())  # the shard's bytes are on disk before progress.json says they are
            atomic_write_json(work / PROGRESS, state)

        pack_documents(docs, f, st, max_tokens, pool, commit, advance)
        st["done"] = True
        commit()


def tokenize_stream(cfg, force: bool = False) -> DataInfo:
    """Stage 3 for data.streaming: pack every split into runs/<name>/data/packed/ (cached, resumable) and return
    its DataInfo. Up to date, it does not open the dataset (no network needed to train on packed data)."""
    download(cfg)  # validation and test documents
    train_tokenizer(cfg)
    stream, tok_dir, d = Stream(cfg), tokenizer_dir(cfg), cfg.data
    tok = stamp_info(tok_dir)
    fp = fingerprint("tokenize-stream", 1, stream.fingerprint(), d.max_tokens, tok["fingerprint"], d.seq_len)
    out = packed_dir(cfg)
    if not force and is_up_to_date(out, fp):
        print(f"tokenize: up to date ({where(out)}); --force reruns")
        return DataInfo.load(out)
    stream.open()  # now: a wrong name or an unreachable Hub stops here, before anything is written
    work = partial_dir(cfg)
    state = _resume(work, fp, force)
    dtype = token_dtype(tok["vocab_size"])
    t0, tokens_before = time.perf_counter(), sum(s["tokens"] for s in state["splits"].values())
    pool = pool_for(cfg, tok_dir, tok, dtype)
    try:
        for split in (s for s in SPLITS if not state["splits"][s]["done"]):
            _pack_split(stream, split, work, state, dtype.itemsize, pool)
            drop_queued(pool)  # the batches read past a budget
    except BaseException:
        if pool:  # interrupted: the shards committed so far are what counts
            pool.terminate()
            pool.join()
        raise
    close_pool(pool)
    seconds = time.perf_counter() - t0
    splits = state["splits"]
    counts = {
        s: cut_blocks(work / f"{s}.bin", splits[s]["documents"], splits[s]["tokens"], d.seq_len + 1, dtype)
        for s in SPLITS
    }
    write_outputs(cfg, work, tok_dir, tok, counts, fp)
    replace_dir(work, out)
    (out / PROGRESS).unlink(missing_ok=True)
    if d.max_tokens and splits["train"]["tokens"] < d.max_tokens:
        print(
            f"tokenize: the train stream ended at {splits['train']['tokens']:,} tokens, before data.max_tokens"
        )
    tokens_now = sum(v["tokens"] for v in splits.values()) - tokens_before
    report(counts, seconds, d.seq_len, out, tokens_now)
    return DataInfo.load(out)
