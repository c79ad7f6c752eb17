"""The `scaling` section: the sizes, token budgets, seeds and target sizes of `retlab scaling`."""

from dataclasses import dataclass, field
from typing import Literal

from .checks import Problem, positive, require, seeds_problems

MIN_SIZES = 3
"""A law with 3 free parameters needs at least 3 sizes (and 4 or more to say anything about its fit)."""
MIN_BOOTSTRAP = 100
"""Fewer bootstrap samples than this cannot place the 2.5% and 97.5% percentiles of a 95% interval."""
SHAPE_FIELDS = ("hidden_size", "num_hidden_layers", "num_heads", "intermediate_size", "value_dim")
"""`model` fields an entry of `scaling.shapes` may set."""


@dataclass
class ScalingConfig:
    """A scaling study for `retlab scaling`: every architecture of `compare` trained at several sizes (each size
    x architecture x seed one sweep trial, run on the `sweep` section's backend; the architectures after the
    first parameter-matched to it), then L(N) = E + A N^-alpha fitted per architecture and extrapolated to the
    target sizes. Each size sets the model's hidden_size, num_hidden_layers and num_heads (intermediate_size and
    value_dim follow the width) and trains for its token budget alone (train.max_steps / max_epochs are
    ignored); every other field comes from the config."""

    parameters: list[float] = field(default_factory=list)
    """Sizes as parameter counts, e.g. [1.0e5, 3.0e5, 1.0e6]; each becomes a shape by the aspect-ratio rule: the
    depth L at which width = aspect_ratio x L (a multiple of head_dim) comes closest to the count, then the
    multiple of head_dim that brings the width closest at that depth (counts of `compare[0]`, as `count` says)."""
    shapes: list[dict[str, int]] = field(default_factory=list)
    """Sizes as explicit shapes instead, e.g. [{hidden_size: 64, num_hidden_layers: 2}, ...] (also num_heads,
    default hidden_size / head_dim; intermediate_size and value_dim, default the architecture's)."""
    aspect_ratio: float = 64.0
    """hidden_size / num_hidden_layers of the shapes made from `parameters` (and the targets); GPT-2 small has 64."""
    head_dim: int = 64
    """Width of one head: shapes get hidden_size / head_dim heads, and widths are multiples of it."""
    count: Literal["total", "non_embedding"] = "total"
    """Which parameters N counts, in sizes, budgets, fits and targets: `total` (Chinchilla's convention) or
    `non_embedding` (Kaplan's: without the vocabulary matrices, cleaner laws for small models)."""
    tokens: int | None = None
    """Training tokens of every size (a fixed budget); set this or `tokens_per_parameter`."""
    tokens_per_parameter: float | None = None
    """Training tokens = this x N at every size (Chinchilla's compute-optimal budget is about 20)."""
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    """Seeds trained at every size; the bootstrap resamples them."""
    targets: list[float] = field(default_factory=list)
    """Parameter counts to predict the loss at (counted as `count` says), e.g. [1.0e8, 1.0e9]."""
    bootstrap: int = 1000
    """Bootstrap samples (over sizes and seeds) behind every 95% interval and probability."""

    def problems(self) -> list[Problem]:
        """The section's own checks. Whether the sizes give distinct shapes, whether a budget covers one batch
        and whether the targets lie above the smallest size need the data's vocabulary: `retlab scaling` checks
        those after preparing the data, before training anything."""
        bad = positive(self, "scaling", "aspect_ratio", "head_dim")
        bad += positive(self, "scaling", "tokens", "tokens_per_parameter", optional=True)
        bad += seeds_problems(self.seeds, "scaling.seeds")
        bad += require(
            not (self.parameters and self.shapes),
            "scaling.parameters",
            "is set together with scaling.shapes",
            "give the sizes one way: parameter counts or shapes",
        )
        bad += require(
            self.tokens is None or self.tokens_per_parameter is None,
            "scaling.tokens",
            "is set together with scaling.tokens_per_parameter",
            "choose a fixed budget or tokens per parameter",
        )
        bad += require(
            self.bootstrap >= MIN_BOOTSTRAP,
            "scaling.bootstrap",
            f"must be >= {MIN_BOOTSTRAP}, got {self.bootstrap}",
            "use e.g. 1000",
        )
        bad += _counts_problems(self.parameters, "scaling.parameters")
        bad += _counts_problems(self.targets, "scaling.targets")
        bad += self.shapes_problems()
        if self.parameters or self.shapes:
            bad += self.sizes_problems()
        if self.parameters and self.targets and min(self.targets) < min(self.parameters):
            bad.append(
                (
                    "scaling.targets",
                    f"{min(self.targets):.3g} is below the smallest size ({min(self.parameters):.3g})",
                    "targets extrapolate upwards: drop it or add a smaller size",
                )
            )
        return bad

    def shapes_problems(self) -> list[Problem]:
        bad = []
        for i, shape in enumerate(self.shapes):
            where = f"scaling.shapes[{i}]"
            if not isinstance(shape, dict):
                bad.append(
                    (
                        where,
                        f"must be a mapping, got {shape!r}",
                        "e.g. {hidden_size: 64, num_hidden_layers: 2}",
                    )
                )
                continue
            unknown = sorted(set(shape) - set(SHAPE_FIELDS))
            bad += require(not unknown, where, f"sets {unknown}", f"use only {', '.join(SHAPE_FIELDS)}")
            bad += require(
                "hidden_size" in shape and "num_hidden_layers" in shape,
                where,
                "needs hidden_size and num_hidden_layers",
                "e.g. {hidden_size: 64, num_hidden_layers: 2}",
            )
            bad += require(
                all(isinstance(v, int) and v > 0 for v in shape.values()),
                where,
                f"needs positive integers, got {shape}",
                "e.g. {hidden_size: 64, num_hidden_layers: 2}",
            )
        distinct = {tuple(sorted(s.items())) for s in self.shapes if isinstance(s, dict)}
        return bad + require(
            len(distinct) == len(self.shapes),
            "scaling.shapes",
            "repeats a shape",
            "list each shape once",
        )

    def sizes_problems(self) -> list[Problem]:
        """Enough sizes and a token budget: checked when sizes are given, and by `retlab scaling` always."""
        n = len(self.parameters or self.shapes)
        bad = require(
            n >= MIN_SIZES,
            "scaling.shapes" if self.shapes else "scaling.parameters",
            f"gives {n} sizes; a law with 3 free parameters needs at least {MIN_SIZES} (5 or more to judge its fit)",
            "list more sizes in scaling.parameters or scaling.shapes",
        )
        return bad + require(
            self.tokens is not None or self.tokens_per_parameter is not None,
            "scaling.tokens",
            "no token budget is set",
            "set scaling.tokens (fixed) or scaling.tokens_per_parameter (e.g. 20)",
        )


def _counts_problems(values: list[float], where: str) -> list[Problem]:
    bad = require(
        all(v > 0 for v in values),
        where,
        f"needs positive parameter counts, got {values}",
        "e.g. [1.0e6, 1.0e7]",
    )
    return bad + require(
        len(set(values)) == len(values), where, f"repeats a value: {values}", "list each count once"
    )
