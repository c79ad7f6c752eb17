"""The `sweep` section: grid search over any config fields."""

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class SweepConfig:
    """Grid search for `retlab sweep`: every grid point x architecture x seed is one full train + test run."""

    grid: dict[str, list[Any]] = field(default_factory=dict)
    """Dotted config fields mapped to the values to try, e.g. {train.lr: [1e-3, 5e-4], data.seq_len: [256, 512]};
    the grid is their Cartesian product."""
    compare: list[str] = field(default_factory=lambda: ["retnet", "transformer"])
    """Architectures trained at every grid point; with `model.match_parameters` each one after the first gets the
    intermediate_size that matches the first one's parameter count at that point."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Seeds repeated at every point (mean and 95% confidence interval are reported)."""
    backend: Literal["ray", "sequential"] = "ray"
    """`ray` (Ray Tune, parallel, local or on a cluster) or `sequential` (one trial after another, no Ray)."""
    max_concurrent: int = 2
    """Trials running at once (ray)."""
    cpus_per_trial: float = 1.0
    """CPUs reserved per trial (ray); also a trial's torch threads unless `train.num_threads` sets them."""
    gpus_per_trial: float = 0.0
    """GPUs reserved per trial (ray)."""
    ray_address: str | None = None
    """Address of an existing Ray cluster to join, e.g. `auto` or `ray://head:10001` (default: start a local one).
    Every node needs retlab installed and the run folder on a shared file system."""
    ray_num_cpus: int | None = None
    """CPUs of the local Ray that retlab starts (default: all of this machine's)."""
    evaluate: bool = False
    """Also run `retlab eval` (the `eval` section's tasks) in every trial after training."""
