"""A stand-in for training in `retlab scaling` studies (tests of the mechanics, and of what reads a finished study):
it writes the losses of known laws, so a study of 4 sizes x 2 architectures x 2 seeds takes seconds."""

import time
from pathlib import Path

from retlab.config.loader import load_config
from retlab.scaling.fit import Law
from retlab.utils.files import atomic_write_json

LAWS = {"retnet": Law(2.0, 40.0, 0.35), "transformer": Law(2.2, 30.0, 0.3)}


class StandIn:
    """A trial function that records what it ran, writes the loss of a known law (for its architecture, at its
    trial's N) and can be interrupted at its k-th call, like a killed process."""

    def __init__(self, interrupt_at=None):
        self.calls, self.interrupt_at = [], interrupt_at

    def __call__(self, spec):
        t0 = time.perf_counter()
        self.calls.append(spec.trial_id)
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        from retlab.layout import RunLayout
        from retlab.models.factory import build_config
        from retlab.models.sizing import count_parameters
        from retlab.models.specs import DataShape

        config = build_config(spec.cfg.model, spec.arch, DataShape(300, 32))
        n = count_parameters(config, embeddings=False)
        loss = float(LAWS[spec.arch](n)) * (1 + 0.002 * (spec.seed - 0.5))
        metrics = {"test_loss": loss, "params": count_parameters(config), "tokens": spec.cfg.train.max_tokens}
        metrics["wall_time_s"] = time.perf_counter() - t0
        atomic_write_json(RunLayout.of(spec.cfg).arch(spec.arch).metrics, metrics)
        return metrics


MECH = {
    "data.seq_len": 32,
    "data.mqar.train_examples": 500,
    "train.batch_size": 8,
    "train.warmup_steps": 0,
    "sweep.backend": "sequential",
    "scaling.parameters": [2000.0, 6000.0, 20000.0, 60000.0],
    "scaling.count": "non_embedding",
    "scaling.aspect_ratio": 16.0,
    "scaling.head_dim": 8,
    "scaling.tokens": 1024,
    "scaling.targets": [1.0e6],
    "scaling.bootstrap": 200,
}
"""A study for the stand-in, on MQAR data (quick to make): 4 sizes x 2 archs x 2 seeds."""


def mech(root: Path, **scaling_fields):
    fields = MECH | {f"scaling.{k}": v for k, v in scaling_fields.items()}
    return load_config(overrides={"name": "mech", "output_dir": str(root)} | fields)
