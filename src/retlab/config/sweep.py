"""The `sweep` section: grid search over any config fields."""

from dataclasses import dataclass, field
from typing import Any, Literal

from .checks import Problem, arch_problems, non_negative, positive, require, seeds_problems

# Fields a grid may not set: they name the run, or are set per trial by the sweep itself
# (architecture from sweep.compare, seed from sweep.seeds).
RESERVED = {"name": "set it outside the grid", "output_dir": "set it outside the grid"}
RESERVED |= {
    "compare": "list architectures in sweep.compare",
    "model.arch": "list architectures in sweep.compare",
}
RESERVED |= {"seed": "list seeds in sweep.seeds"}


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
    """CPUs reserved per trial (ray); also a trial's torch threads unless `num_threads` sets them."""
    gpus_per_trial: float = 0.0
    """GPUs reserved per trial (ray)."""
    ray_address: str | None = None
    """Address of an existing Ray cluster to join, e.g. `auto` or `ray://head:10001` (default: start a local one).
    Every node needs retlab installed and the run folder on a shared file system."""
    ray_num_cpus: int | None = None
    """CPUs of the local Ray that retlab starts (default: all of this machine's)."""
    evaluate: bool = False
    """Also run `retlab eval` (the `eval` section's tasks) in every trial after training."""

    def problems(self) -> list[Problem]:
        bad = self.grid_problems() + arch_problems(self.compare, "sweep.compare")
        bad += require(
            len(set(self.compare)) == len(self.compare),
            "sweep.compare",
            f"repeats an architecture: {self.compare}",
            "list each once",
        )
        bad += seeds_problems(self.seeds, "sweep.seeds")
        bad += positive(self, "sweep", "max_concurrent", "cpus_per_trial")
        return bad + non_negative(self, "sweep", "gpus_per_trial")

    def grid_problems(self) -> list[Problem]:
        """Every grid key is a config field the grid may set, with a non-empty list of values (the values' types
        are checked when the sweep builds each point through the loader)."""
        from .schema import leaf_fields, suggest

        if not isinstance(self.grid, dict):
            return [("sweep.grid", f"must be a mapping of dotted fields to lists, got {self.grid!r}", "")]
        bad, fields = [], leaf_fields()
        for key, values in self.grid.items():
            where = f"sweep.grid.{key}"
            if key in RESERVED or key.startswith("sweep."):
                bad.append((where, "cannot be swept", RESERVED.get(key, "set it outside the grid")))
            elif key not in fields:
                bad.append((where, "is not a config field", suggest(key)))
            bad += require(
                isinstance(values, list) and len(values) > 0,
                where,
                f"needs a non-empty list of values, got {values!r}",
                f"e.g. {key}: [a, b]",
            )
        return bad
