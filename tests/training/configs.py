"""Tiny real-text training configs (Tiny Shakespeare, a 300-token BPE, 32-token blocks) for the training tests."""

from retlab.config.loader import load_config

# What every metrics.json holds (issue 4; sweeps and the report read these names).
METRIC_KEYS = {
    "arch",
    "params",
    "best_val_loss",
    "best_val_ppl",
    "test_loss",
    "test_ppl",
    "train_tokens_per_s",
    "wall_time_s",
    "steps",
    "tokens",
    "best_checkpoint",
}


def text_config(shared_data, out_dir, name="ts", **overrides):
    """A config that trains a ~30k-parameter model for a few steps on Tiny Shakespeare in a few seconds."""
    base = {
        "name": name,
        "output_dir": str(out_dir),
        "compare": ["transformer"],
        "model.arch": "transformer",
        "data.source": "local",
        "data.path": [str(shared_data / "corpora" / "tinyshakespeare" / "input.txt")],
        "data.seq_len": 32,
        "data.num_proc": 1,
        "tokenizer.vocab_size": 300,
        "model.hidden_size": 32,
        "model.num_hidden_layers": 2,
        "model.num_heads": 2,
        "train.batch_size": 8,
        "train.lr": 3e-3,
        "train.warmup_steps": 2,
        "train.max_steps": 12,
        "train.val_check_interval": 4,
        "train.limit_val_batches": 8,
        "train.log_every_n_steps": 1,
        "train.accelerator": "cpu",
    }
    return load_config(None, base | overrides)
