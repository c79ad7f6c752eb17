"""data.streaming on local files read through `datasets`' streaming builders (the Hub's code path, offline):
exact budgets, disjoint and seeded splits, the tokenizer's bounded train-only sample, kill-and-resume to
identical bytes, memory independent of corpus size, and one line when the Hub is out of reach."""

import json
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from retlab.config.loader import load_config
from retlab.data import pack_stream as ps
from retlab.data.download import split_documents
from retlab.data.info import SPLITS
from retlab.data.streaming import Stream
from retlab.data.tokenize import packed_dir, tokenize
from retlab.data.tokenizer import bpe_from_documents, to_hf, tokenizer_dir
from retlab.utils.files import read_json

REPO = Path(__file__).resolve().parents[2]
WORDS = "the of and to in a is that for it as was with be by on not he this are or his from at which".split()


def write_corpus(folder: Path, n_docs: int, n_files: int, seed: int = 0, first: int = 0) -> list[Path]:
    """JSONL files of unique documents ("doc <i>: " and 10-120 words), about 400 bytes each on average."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"part-{k:03d}.jsonl" for k in range(n_files)]
    per_file = -(-n_docs // n_files)
    for k, path in enumerate(files):
        lines = []
        for i in range(first + k * per_file, first + min((k + 1) * per_file, n_docs)):
            words = rng.choice(WORDS, size=int(rng.integers(10, 120)))
            lines.append(json.dumps({"text": f"doc {i}: " + " ".join(words)}) + "\n")
        path.write_text("".join(lines), encoding="utf-8")
    return files


def corpus_docs(files: list[Path]) -> list[str]:
    return [json.loads(line)["text"] for f in files for line in f.read_text().splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"), 3000, 3)


@pytest.fixture(scope="module")
def tok_path(tmp_path_factory, corpus) -> Path:
    """A small byte-level BPE saved as a tokenizer directory, used through tokenizer.path by most tests."""
    out = tmp_path_factory.mktemp("tok") / "bpe"
    to_hf(bpe_from_documents(corpus_docs(corpus)[:500], 400)).save_pretrained(out)
    return out


def stream_cfg(tmp: Path, files, tok: Path | None, name: str = "s", **over):
    o = {
        "output_dir": str(tmp),
        "name": name,
        "data.source": "local",
        "data.path": [str(f) for f in files],
        "data.streaming": True,
        "data.val_documents": 50,
        "data.test_documents": 40,
        "data.shuffle_buffer": 64,
        "data.seq_len": 32,
        "data.num_proc": 1,  # tokenizer worker processes: the kill and memory tests use 2
        "tokenizer.vocab_size": 400,
    }
    if tok is not None:
        o["tokenizer.path"] = str(tok)
    return load_config(None, o | over)


def meta(cfg, split: str) -> dict:
    return read_json(packed_dir(cfg) / f"{split}.json")


def packed_documents(cfg, split: str) -> list[str]:
    """The documents of a packed split that end within its blocks (each is followed by <eos>), decoded."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir(cfg) / "tokenizer.json"))
    eos = read_json(packed_dir(cfg) / "info.json")["eos_token_id"]
    ids = np.fromfile(packed_dir(cfg) / f"{split}.bin", dtype=meta(cfg, split)["dtype"])
    ends = np.flatnonzero(ids == eos)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return tok.decode_batch([ids[a:b].tolist() for a, b in zip(starts, ends, strict=True)])


def reference_tokens(cfg, docs) -> int:
    """Tokens of `docs` each followed by <eos>, tokenized one by one."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir(cfg) / "tokenizer.json"))
    return sum(len(tok.encode(d, add_special_tokens=False).ids) + 1 for d in docs)


def test_budgets_are_respected_exactly(tmp_path, corpus, tok_path):
    cfg = stream_cfg(tmp_path, corpus, tok_path, "tokens", **{"data.max_tokens": 12_345})
    tokenize(cfg)
    train = meta(cfg, "train")
    assert train["tokens"] == 12_345 and train["blocks"] * 33 + train["remainder_tokens"] == 12_345
    assert meta(cfg, "validation")["documents"] == 50 and meta(cfg, "test")["documents"] == 40
    assert (packed_dir(cfg) / "train.bin").stat().st_size == train["blocks"] * 33 * 2

    cfg = stream_cfg(tmp_path, corpus, tok_path, "docs", **{"data.max_documents": 321})
    tokenize(cfg)
    first = list(Stream(cfg).documents("train"))
    assert len(first) == 321 and meta(cfg, "train")["documents"] == 321
    assert meta(cfg, "train")["tokens"] == reference_tokens(cfg, first)

    # Both budgets: whichever is reached first.
    few_docs = stream_cfg(
        tmp_path, corpus, tok_path, "both1", **{"data.max_documents": 10, "data.max_tokens": 10**6}
    )
    few_tokens = stream_cfg(
        tmp_path, corpus, tok_path, "both2", **{"data.max_documents": 10**6, "data.max_tokens": 999}
    )
    tokenize(few_docs), tokenize(few_tokens)
    assert meta(few_docs, "train")["documents"] == 10 and meta(few_tokens, "train")["tokens"] == 999


def test_splits_are_disjoint_and_seeded(tmp_path, corpus, tok_path):
    runs = {
        name: stream_cfg(tmp_path, corpus, tok_path, name, seed=seed, **{"data.max_documents": 2000})
        for name, seed in (("a", 0), ("b", 0), ("c", 1))
    }
    for cfg in runs.values():
        tokenize(cfg)
    a, b, c = runs.values()
    for split in SPLITS:  # the same seed gives the same bytes
        assert (packed_dir(a) / f"{split}.bin").read_bytes() == (packed_dir(b) / f"{split}.bin").read_bytes()
    docs = {s: packed_documents(a, s) for s in SPLITS}
    everything = set(corpus_docs(corpus))
    assert len(docs["validation"]) >= 45 and len(docs["test"]) >= 35 and len(docs["train"]) >= 1900
    for s in SPLITS:
        assert set(docs[s]) <= everything and len(set(docs[s])) == len(docs[s])
    assert not set(docs["train"]) & set(docs["validation"])
    assert not set(docs["train"]) & set(docs["test"])
    assert not set(docs["validation"]) & set(docs["test"])
    # A seed picks its own validation documents (from the shuffled stream, not the corpus' first lines).
    assert set(packed_documents(c, "validation")) != set(docs["validation"])
    assert docs["validation"] != corpus_docs(corpus)[:50]


def test_own_splits_of_a_local_dataset_folder(tmp_path, tok_path):
    """data.name as a folder: `datasets` finds its splits by file name; test is carved from train."""
    folder = tmp_path / "ds"
    write_corpus(folder / "t", 400, 1)[0].rename(folder / "train.jsonl")
    write_corpus(folder / "v", 100, 1, seed=1, first=10_000)[0].rename(folder / "validation.jsonl")
    cfg = stream_cfg(tmp_path, [], tok_path, "folder", **{"data.source": "hub", "data.name": str(folder)})
    tokenize(cfg)
    val_file = set(corpus_docs([folder / "validation.jsonl"]))
    assert set(packed_documents(cfg, "validation")) <= val_file and meta(cfg, "validation")["documents"] == 50
    train, test = set(packed_documents(cfg, "train")), set(packed_documents(cfg, "test"))
    assert test and not test & train and not (train | test) & val_file
    assert meta(cfg, "train")["documents"] + meta(cfg, "test")["documents"] == 400


def test_tokenizer_trains_on_a_bounded_train_only_sample(tmp_path, corpus, monkeypatch):
    from retlab.data import tokenizer as tz

    seen = []

    def spy(docs, *args, **kwargs):
        seen.extend(docs)
        return bpe_from_documents(seen, *args, **kwargs)

    monkeypatch.setattr(tz, "bpe_from_documents", spy)
    cfg = stream_cfg(
        tmp_path, corpus, None, "bpe", **{"tokenizer.train_documents": 700, "data.max_tokens": 5000}
    )
    tz.train_tokenizer(cfg)
    stream = Stream(cfg)
    assert seen == list(stream.documents("train"))[:700]
    held_out = set(stream.documents("validation")) | set(stream.documents("test"))
    assert len(held_out) == 90 and not held_out & set(seen)


def test_budget_is_part_of_the_fingerprint_and_up_to_date_needs_no_dataset(
    tmp_path, corpus, tok_path, capsys, monkeypatch
):
    cfg = stream_cfg(tmp_path, corpus, tok_path, "fp", **{"data.max_tokens": 3000})
    tokenize(cfg)
    capsys.readouterr()

    def unreachable(*args, **kwargs):
        raise AssertionError("an up-to-date stage opened the dataset")

    with monkeypatch.context() as m:  # packed data needs no network: nothing opens the dataset again
        m.setattr("retlab.data.streaming.open_corpus", unreachable)
        tokenize(cfg)
        assert len(list(split_documents(cfg, "test"))) == 40
    assert "tokenize: up to date" in capsys.readouterr().out
    more = stream_cfg(tmp_path, corpus, tok_path, "fp", **{"data.max_tokens": 4000})
    tokenize(more)
    assert "tokenize: up to date" not in capsys.readouterr().out
    assert meta(more, "train")["tokens"] == 4000 and not ps.partial_dir(more).exists()


def in_child(fn, tmp: Path) -> tuple[int | None, object]:
    """Run `fn()` in a forked copy of this process (no imports to redo); returns the signal that ended it (None
    when it returned) and what it returned."""
    out = tmp / f"child-{os.getpid()}-{time.perf_counter_ns()}.json"
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            out.write_text(json.dumps(fn()))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status), None
    assert os.WEXITSTATUS(status) == 0, "the child failed"
    return None, json.loads(out.read_text())


def killing_run(cfg, mode: str, shard: int):
    """tokenize(cfg) that SIGKILLs itself right after recording its `shard`-th train shard (boundary), or after
    writing two more batches of ids (mid: a partial shard on disk). Shards of ~3 batches, so both happen."""

    def run():
        ps.SHARD_TOKENS, ps.BATCH_CHARS = 20_000, 24_000  # batches > 8 KiB of ids reach the file unbuffered
        seen = {"commits": 0, "batches": 0}
        write, encoded = ps.atomic_write_json, ps.encoded

        def commit(path, state):
            write(path, state)
            if state["splits"]["train"]["tokens"] and not state["splits"]["train"]["done"]:
                seen["commits"] += 1
                seen["batches"] = 0
                if mode == "boundary" and seen["commits"] == shard:
                    os.kill(os.getpid(), signal.SIGKILL)

        def batches(*args):
            for item in encoded(*args):
                if mode == "mid" and seen["commits"] == shard and seen["batches"] == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
                seen["batches"] += 1
                yield item

        ps.atomic_write_json, ps.encoded = commit, batches
        tokenize(cfg)

    return run


def test_kill_at_a_shard_boundary_and_mid_shard_then_resume_writes_the_same_bytes(
    tmp_path, corpus, tok_path, capsys
):
    over = {"data.max_tokens": 100_000, "data.num_proc": 2}
    whole = stream_cfg(tmp_path, corpus, tok_path, "whole", **over)
    tokenize(whole)  # uninterrupted, with the default (larger) shards: where shards end changes nothing
    cfg = stream_cfg(tmp_path, corpus, tok_path, "killed", **over)
    work = ps.partial_dir(cfg)

    def recorded_and_on_disk() -> tuple[int, int]:
        progress = read_json(work / ps.PROGRESS)["splits"]
        assert not progress["train"]["done"] and not progress["validation"]["tokens"]
        return progress["train"]["tokens"] * 2, (work / "train.bin").stat().st_size

    assert in_child(killing_run(cfg, "boundary", 2), tmp_path)[0] == signal.SIGKILL
    recorded, on_disk = recorded_and_on_disk()
    assert recorded >= 2 * 20_000 * 2 and on_disk == recorded and not packed_dir(cfg).exists()

    assert in_child(killing_run(cfg, "mid", 1), tmp_path)[0] == signal.SIGKILL  # resumes, then is killed
    recorded_2, on_disk = recorded_and_on_disk()
    assert recorded_2 > recorded and on_disk > recorded_2  # bytes of a partial shard, past the record

    capsys.readouterr()
    tokenize(cfg)
    assert "resuming after the last complete shard" in capsys.readouterr().out
    for split in SPLITS:
        assert (packed_dir(cfg) / f"{split}.bin").read_bytes() == (
            packed_dir(whole) / f"{split}.bin"
        ).read_bytes()
        assert meta(cfg, split) == meta(whole, split)
    assert not work.exists()


def _memory_kib() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) for k in ("VmHWM", "VmRSS")}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's peak-RSS reset")
def test_peak_memory_does_not_grow_with_the_corpus(tmp_path, tok_path):
    """One token budget streamed from corpora ~5x and ~40x larger than it: the packing process's peak RSS (over its
    RSS when it starts) is the same. Each run is a forked copy of this process with its peak reset."""

    def packing(cfg):
        def run():
            ps.IN_FLIGHT_CHARS = 1 << 20  # the constants are the bound; smaller ones keep this test quick
            Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
            start = _memory_kib()["VmRSS"]
            tokenize(cfg)
            return _memory_kib()["VmHWM"] - start

        return run

    peaks, sizes = {}, {}
    parts = write_corpus(tmp_path / "parts", 10_000, 4)  # ~0.6 MB files, as a sharded Hub dataset comes
    warm = {"data.max_tokens": 5000, "data.num_proc": 2}
    tokenize(stream_cfg(tmp_path, parts, tok_path, "warm-up", **warm))  # lazy imports, before the children
    for n_files in (4, 32):
        files = [tmp_path / f"c{n_files}" / f"part-{k:03d}.jsonl" for k in range(n_files)]
        files[0].parent.mkdir()
        for k, f in enumerate(files):
            f.write_bytes(parts[k % 4].read_bytes())
        sizes[n_files] = sum(f.stat().st_size for f in files) / 2**20
        over = {"data.max_tokens": 150_000, "data.num_proc": 2}
        cfg = stream_cfg(tmp_path, files, tok_path, f"m{n_files}", **over)
        cfg.data.shuffle_buffer, cfg.data.val_documents, cfg.data.test_documents = 1000, 100, 100
        signal_, peaks[n_files] = in_child(packing(cfg), tmp_path)
        assert signal_ is None and read_json(packed_dir(cfg) / "train.json")["tokens"] == 150_000
    assert sizes[32] - sizes[4] > 15  # holding the corpus in memory would show as > 15 MiB more
    assert abs(peaks[32] - peaks[4]) < 6 * 1024 and max(peaks.values()) < 96 * 1024, peaks


def test_unreachable_hub_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from retlab.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    config = REPO / "configs" / "original-study-c4.yaml"
    with pytest.raises(SystemExit) as exit_:
        main(["data", "tokenize", "--config", str(config), "--output_dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "data.name" in err and "allenai/c4/en" in err and "offline" in err
    run = tmp_path / "original-study-c4"
    assert not (run / "data").exists() and not (run / "tokenizer").exists()


def test_streaming_fields_are_checked(tmp_path):
    from retlab.errors import ConfigError

    for over, field in (
        ({"data.max_tokens": 100}, "data.max_tokens"),  # a budget without streaming
        ({"data.streaming": True, "data.max_documents": 0}, "data.max_documents"),
        ({"data.streaming": True, "data.val_documents": -1}, "data.val_documents"),
        ({"data.streaming": True, "data.shuffle_buffer": 0}, "data.shuffle_buffer"),
        ({"tokenizer.train_documents": 0}, "tokenizer.train_documents"),
    ):
        base = {"output_dir": str(tmp_path), "data.source": "local", "data.path": ["x.txt"]}
        with pytest.raises(ConfigError) as e:
            load_config(None, base | over)
        assert e.value.field == field
