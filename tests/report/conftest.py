"""A small but realistic run folder for the report tests (fake_run.py: files in the formats training and evaluation
write; the bench results really measured, on tiny random models), and its report."""

import json

import pytest
from fake_run import ARCHS, eval_results, write_arch

from retlab.bench.infer import bench_infer
from retlab.bench.train import bench_train
from retlab.config.loader import load_config, save_config
from retlab.layout import RunLayout
from retlab.report.report import build_report


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    overrides = {
        "name": "tiny",
        "output_dir": str(tmp_path_factory.mktemp("runs")),
        "compare": list(ARCHS),
        "model.hidden_size": 32,
        "model.num_hidden_layers": 1,
        "model.num_heads": 2,
        "model.chunk_size": 16,
        "bench.vocab_size": 64,
        "bench.contexts": [16, 32],
        "bench.batch_sizes": [1],
        "bench.decode_steps": 3,
        "bench.warmup_steps": 0,
        "bench.prefill_rounds": 2,
        "bench.train_seq_lens": [16],
        "bench.train_steps": 2,
        "bench.gemm_size": 128,
        "bench.archs": list(ARCHS),
        "bench.use_trained": False,  # the fixture's best/ holds a config but no weights
    }
    cfg = load_config(overrides=overrides)
    layout = RunLayout.of(cfg)
    save_config(cfg, layout.config)
    for i, arch in enumerate(ARCHS):
        write_arch(layout, arch, 0.1 * i)
    layout.eval.mkdir(parents=True)
    (layout.eval / "results.json").write_text(json.dumps(eval_results()))
    bench_infer(cfg)
    bench_train(cfg)
    return layout.root


@pytest.fixture(scope="session")
def report(run_dir):
    """(index.html path, README.md text) of the fixture run's report."""
    page = build_report(None, [str(run_dir)])
    return page, (run_dir / "report" / "README.md").read_text()
