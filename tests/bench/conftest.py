import pytest

from retlab.config.loader import load_config


@pytest.fixture(scope="module")
def tiny_cfg(tmp_path_factory):
    """Builds tiny bench configs writing into a fresh folder; archs default to RetNet and Transformer."""

    def make(archs=("retnet", "transformer"), **overrides):
        base = {
            "name": "bench-test",
            "output_dir": str(tmp_path_factory.mktemp("runs")),
            "compare": list(archs),
            "model.hidden_size": 32,
            "model.num_hidden_layers": 2,
            "model.num_heads": 2,
            "model.chunk_size": 16,
            "bench.vocab_size": 128,
            "bench.contexts": [32, 64],
            "bench.batch_sizes": [1, 2],
            "bench.decode_steps": 3,
            "bench.warmup_steps": 1,
            "bench.prefill_rounds": 1,
            "bench.gemm_size": 128,
            "bench.train_seq_lens": [32, 64],
            "bench.train_steps": 1,
        }
        return load_config(overrides={**base, **overrides})

    return make
