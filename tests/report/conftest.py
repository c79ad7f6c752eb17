"""A small but realistic run folder for the report tests (fake_run.py: files in the formats training and evaluation
write; the bench results really measured, on tiny random models), and its report."""

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from fake_run import ARCHS, eval_results, write_arch
from matplotlib.container import BarContainer, ErrorbarContainer

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
def built(run_dir):
    """The fixture run's report, built once: (index.html path, README.md text, every figure it saved as
    {file name: [(label, kind, colour, artist)]} of the figure's labelled artists)."""
    figures = {}
    save = plt.Figure.savefig

    def capture(fig, path, *args, **kwargs):
        artists = []
        for ax in fig.axes:
            artists += [(line.get_label(), "line", line.get_color(), line) for line in ax.lines]
            for c in ax.containers:
                if isinstance(c, BarContainer):
                    artists.append((c.get_label(), "bars", c.patches[0].get_facecolor(), c))
                elif isinstance(c, ErrorbarContainer) and c.lines[0] is not None:  # its line is unlabelled
                    artists.append((c.get_label(), "errorbar", c.lines[0].get_color(), c))
        name = re.sub(r"^\.(.+)\.\d+\.tmp$", r"\1", Path(path).name)  # atomic_savefig's temporary
        figures[name] = [a for a in artists if not a[0].startswith("_")]
        return save(fig, path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plt.Figure, "savefig", capture)
        page = build_report(None, [str(run_dir)])
    return page, (run_dir / "report" / "README.md").read_text(), figures


@pytest.fixture(scope="session")
def report(built):
    """(index.html path, README.md text) of the fixture run's report."""
    return built[:2]


@pytest.fixture(scope="session")
def drawn(built):
    return built[2]
