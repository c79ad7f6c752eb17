"""Shared, session-scoped fixtures: a tiny byte-level BPE, tiny random retlab models, a run folder with their
exports, and lm-eval's view of retlab's local tasks (loading the harness once keeps the suite fast)."""

import importlib.util
from pathlib import Path

import pytest

from retlab.config.loader import load_config
from retlab.config.model import ModelConfig

SEQ_LEN = 64
# Long enough for every answer of the local tasks under a 512-token BPE (the harness asserts answers fit).
MAX_LENGTH = 1024
ARCHS = ["transformer"] + (["retnet"] if importlib.util.find_spec("retlab.models.native") else [])


def tiny_model(arch: str, vocab_size: int, seed: int = 0, pad: int = 0, bos: int = 1, eos: int = 2):
    from retlab.models.factory import DataShape, build_config, build_model

    sizes = ModelConfig(hidden_size=32, num_hidden_layers=2, num_heads=4)
    return build_model(
        build_config(sizes, arch, DataShape(vocab_size, SEQ_LEN, pad, bos, eos)), seed=seed
    ).eval()


@pytest.fixture(scope="session")
def corpus(shared_data, tmp_path_factory) -> Path:
    """40 KB of Tiny Shakespeare, paragraphs as documents."""
    path = tmp_path_factory.mktemp("corpus") / "shakespeare.txt"
    path.write_text(
        (shared_data / "corpora" / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:40_000],
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def tokenizer(corpus):
    """retlab's own kind of tokenizer: a byte-level BPE with <pad>=0 <bos>=1 <eos>=2, 512 ids."""
    from retlab.data.tokenizer import bpe_from_documents, to_hf

    return to_hf(bpe_from_documents(corpus.read_text(encoding="utf-8").split("\n\n"), 512, 2))


@pytest.fixture(scope="session")
def eval_data(shared_data) -> Path:
    return shared_data / "eval"


def run_config(root: Path, corpus: Path, **overrides):
    base = {
        "name": "tiny",
        "output_dir": str(root),
        "compare": ARCHS,
        "data.source": "local",
        "data.path": [str(corpus)],
        "data.splits": [0.8, 0.1, 0.1],
        "data.seq_len": SEQ_LEN,
        "data.num_proc": 1,
        "eval.device": "cpu",
        "eval.max_length": MAX_LENGTH,
        "generate.device": "cpu",
        "generate.max_new_tokens": 12,
    }
    return load_config(overrides=base | overrides)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, corpus, tokenizer) -> Path:
    """A run folder as training leaves it: <arch>/best/ exports (with the tokenizer) of random-init models."""
    from retlab.layout import RunLayout
    from retlab.models.export import export_hf

    root = tmp_path_factory.mktemp("runs")
    cfg = run_config(root, corpus)
    for i, arch in enumerate(ARCHS):
        export_hf(tiny_model(arch, len(tokenizer), seed=i), RunLayout.of(cfg).arch(arch).best, tokenizer)
    return root


@pytest.fixture(scope="session")
def task_dir(eval_data, tmp_path_factory) -> Path:
    from retlab.evaluation.harness import write_task_dir

    return write_task_dir(eval_data, tmp_path_factory.mktemp("tasks") / "rendered")


@pytest.fixture(scope="session")
def local_tasks(task_dir):
    """(TaskManager, {retlab_<task>: Task}) for every supported task, loaded once."""
    from retlab.evaluation.harness import SUPPORTED_TASKS, load_tasks

    return load_tasks(list(SUPPORTED_TASKS), task_dir)


MQAR = {
    "data.source": "mqar",
    "data.seq_len": 32,
    "data.mqar.vocab_size": 64,
    "data.mqar.num_kv_pairs": [2, 4],
    "data.mqar.test_examples": 40,
}


@pytest.fixture(scope="session")
def mqar_run(tmp_path_factory, corpus):
    """(config, run root) of an MQAR run whose <arch>/best/ exports are random-init models without a tokenizer."""
    from retlab.layout import RunLayout
    from retlab.models.export import export_hf

    root = tmp_path_factory.mktemp("mqar_runs")
    cfg = run_config(root, corpus, name="mqar", **MQAR)
    for arch in ARCHS:
        export_hf(tiny_model(arch, 64), RunLayout.of(cfg).arch(arch).best)
    return cfg
