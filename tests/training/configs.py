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


def mqar_overrides(name: str, out_dir, **more) -> dict:
    """`load_config` overrides of a small MQAR run on CPU (16-token blocks, 32 ids, two key-value pairs, two
    layers of two heads); `more` (dotted names) adds to them and wins."""
    base = {
        "name": name,
        "output_dir": str(out_dir),
        "data.source": "mqar",
        "data.seq_len": 16,
        "data.mqar.vocab_size": 32,  # 14 values: guessing scores 1/14
        "data.mqar.num_kv_pairs": [2],
        "model.num_hidden_layers": 2,
        "model.num_heads": 2,
        "train.accelerator": "cpu",
        "eval.device": "cpu",
    }
    return base | more


# `retlab train` arguments of a tiny MQAR run (a few thousand parameters, 12 steps, seconds): dropout on, validation
# every 4 steps and a last.ckpt every 3, so checkpoints, validations and resumption all come into play.
TINY_MQAR = [
    "train",
    "--name",
    "k",
    "--model.arch",
    "retnet",
    "--compare",
    "[retnet]",
    "--data.seq_len",
    "16",
    "--data.mqar.vocab_size",
    "32",
    "--data.mqar.num_kv_pairs",
    "[2, 3]",
    "--data.mqar.num_queries",
    "4",
    "--data.mqar.train_examples",
    "20000",  # enough to catch the generation in the act
    "--data.mqar.val_examples",
    "64",
    "--data.mqar.test_examples",
    "64",
    "--model.hidden_size",
    "16",
    "--model.num_hidden_layers",
    "1",
    "--model.num_heads",
    "2",
    "--model.dropout",
    "0.1",  # dropout's RNG stream must continue exactly
    "--train.batch_size",
    "8",
    "--train.max_steps",
    "12",
    "--train.warmup_steps",
    "2",
    "--train.val_check_interval",
    "4",
    "--train.every_n_train_steps",
    "3",
    "--train.log_every_n_steps",
    "1",
    "--train.accelerator",
    "cpu",
    "--num_threads",
    "1",
    "--bench.enabled",
    "false",
]
