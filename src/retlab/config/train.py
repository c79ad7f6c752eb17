"""The `train` section: optimisation, precision, checkpoints, scale-out."""

from dataclasses import dataclass, field
from typing import Literal

from .checks import Problem, non_negative, path_field, positive, require


@dataclass
class TrainConfig:
    """Optimiser, schedule, duration, checkpoints and devices for `retlab train`."""

    lr: float = 3e-4
    """Peak learning rate."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    """AdamW betas."""
    weight_decay: float = 0.1
    """Decoupled weight decay (not applied to norms, biases and embeddings)."""
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    """Decay after warm-up, stepped per optimiser step."""
    warmup_steps: int = 100
    """Linear warm-up optimiser steps."""
    min_lr_ratio: float = 0.1
    """Final learning rate as a fraction of `lr` (cosine and linear)."""
    batch_size: int = 16
    """Sequences per device per micro-batch."""
    accumulate_grad_batches: int = 1
    """Micro-batches per optimiser step."""
    gradient_clip_val: float = 1.0
    """Gradient norm clipping (0 disables)."""
    precision: str | int = "32-true"
    """Numeric precision: any value Lightning's Trainer accepts (e.g. 32-true, bf16-mixed, bf16-true, 16-mixed,
    16-true, 64-true; checked by asking Lightning before anything is written)."""
    max_steps: int = -1
    """Optimiser steps to train (-1: no limit)."""
    max_tokens: int | None = None
    """Stop after this many training tokens (converted to steps)."""
    max_epochs: int | None = None
    """Stop after this many epochs."""
    val_check_interval: int = 200
    """Validate every this many training batches."""
    limit_val_batches: int | float = 1.0
    """Validation batches per check (int) or fraction of the validation set (float)."""
    early_stopping_patience: int = 0
    """Validations without improvement of val/loss before stopping (0 disables)."""
    save_top_k: int = 1
    """Lightning checkpoints kept, ranked by val/loss."""
    every_n_train_steps: int | None = None
    """Also checkpoint every this many steps."""
    every_n_minutes: float | None = None
    """Also checkpoint every this many minutes."""
    accelerator: str = "auto"
    """Lightning accelerator (`auto`, `cpu`, `gpu`)."""
    devices: int | str = 1
    """Devices per node."""
    num_nodes: int = 1
    """Nodes."""
    strategy: Literal["auto", "ddp", "fsdp"] = "auto"
    """Lightning strategy."""
    log_every_n_steps: int = 10
    """Logging interval in steps."""
    track_emissions: bool = False
    """Record energy and CO2 with CodeCarbon's offline tracker (emissions.csv)."""
    wandb: bool = False
    """Also log to Weights & Biases (if installed)."""
    resume: str | None = path_field(kind="name")
    """`auto` (latest checkpoint of this run) or a checkpoint path to continue from."""

    def problems(self) -> list[Problem]:
        """Ranges of this section (Lightning's own checks of the device settings run before anything is
        written: retlab.preflight.check_trainer)."""
        names = ("lr", "batch_size", "accumulate_grad_batches", "val_check_interval", "log_every_n_steps")
        bad = positive(self, "train", *names, "num_nodes", "limit_val_batches")
        optional = ("max_tokens", "max_epochs", "every_n_train_steps", "every_n_minutes")
        bad += positive(self, "train", *optional, optional=True)
        bad += non_negative(
            self, "train", "weight_decay", "warmup_steps", "gradient_clip_val", "early_stopping_patience"
        )
        bad += require(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            "train.betas",
            f"needs two values in [0, 1), got {self.betas}",
            "e.g. [0.9, 0.95]",
        )
        bad += require(
            0 <= self.min_lr_ratio <= 1,
            "train.min_lr_ratio",
            f"must be in [0, 1], got {self.min_lr_ratio}",
            "use e.g. 0.1",
        )
        bad += require(
            self.max_steps == -1 or self.max_steps > 0,
            "train.max_steps",
            f"must be -1 (no limit) or > 0, got {self.max_steps}",
            "use -1 or a step count",
        )
        bad += require(
            self.save_top_k >= -1,
            "train.save_top_k",
            f"must be >= -1, got {self.save_top_k}",
            "-1 keeps all, 0 none",
        )
        bad += require(
            isinstance(self.limit_val_batches, int) or self.limit_val_batches <= 1.0,
            "train.limit_val_batches",
            f"a fraction must be at most 1.0, got {self.limit_val_batches}",
            "use a fraction in (0, 1] or a whole number of batches",
        )
        counts = [self.devices] if isinstance(self.devices, int) else []
        if isinstance(self.devices, str):
            digits = [d.strip() for d in self.devices.split(",")]
            counts = [int(d[:18]) for d in digits if d.isascii() and d.lstrip("-").isdigit()]
        return bad + require(  # Lightning would build a list of that many devices
            all(abs(n) <= MAX_DEVICES for n in counts),
            "train.devices",
            f"{self.devices!r} is more than {MAX_DEVICES} devices per node",
            "use e.g. 1 or auto",
        )


MAX_DEVICES = 1024
