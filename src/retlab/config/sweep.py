"""The `sweep` section: grid search over any config fields."""

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class SweepConfig:
    """Grid search for `retlab sweep`."""

    grid: dict[str, list[Any]] = field(default_factory=dict)
    """Dotted config fields mapped to the values to try, e.g. {train.lr: [1e-3, 5e-4]}."""
    compare: list[str] = field(default_factory=lambda: ["retnet", "transformer"])
    """Architectures trained at every grid point."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Seeds repeated at every point (mean and 95% confidence interval are reported)."""
    backend: Literal["ray", "sequential"] = "ray"
    """`ray` (Ray Tune, parallel) or `sequential` (no Ray)."""
    max_concurrent: int = 2
    """Trials running at once (ray)."""
    cpus_per_trial: float = 1.0
    """CPUs reserved per trial (ray)."""
    gpus_per_trial: float = 0.0
    """GPUs reserved per trial (ray)."""
    ray_address: str | None = None
    """Address of an existing Ray cluster to join (default: start a local one)."""
