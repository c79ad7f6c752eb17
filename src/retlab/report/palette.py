"""One colour per architecture in every plot (loss curves, MQAR, loss by position, the bench plots, sweep and
scaling sections), in one place.

An architecture keeps its colour everywhere; its variants in one plot (a Transformer's dynamic and static KV
caches, RetNet's parallel and chunkwise forms) are shades of that colour with their own markers, so the hue still
names the architecture. Architectures without a colour of their own (`hf:<type>` contenders) take the next spare
colour in the order they are first asked for; `register` fixes that order up front (the report registers each
run's `compare`), so every plot of one report agrees. Grey is kept for reference lines (chance, baselines)."""

from matplotlib.colors import to_hex, to_rgb

ARCH_COLORS = {  # matplotlib's tab10 hues, the two native architectures first
    "retnet": "#1f77b4",  # blue
    "transformer": "#ff7f0e",  # orange
    "torchscale-retnet": "#2ca02c",  # green
    "torchscale-transformer": "#9467bd",  # purple
}
SPARE = ("#d62728", "#8c564b", "#e377c2", "#bcbd22", "#17becf")  # red, brown, pink, olive, cyan
REFERENCE = "#6e7781"  # grey: chance and other reference lines, never an architecture
MARKERS = ("o", "s", "^", "D", "v", "P")
SHADES = ((0.0, 0.4), (1.0, 0.45), (0.0, 0.65), (1.0, 0.7))  # (black or white, how far towards it)

_assigned: dict[str, str] = {}


def register(archs) -> None:
    """Give architectures without a fixed colour their spare colours in this order."""
    for arch in archs:
        color(arch)


def color(arch: str) -> str:
    """The colour of `arch` (hex)."""
    if arch in ARCH_COLORS:
        return ARCH_COLORS[arch]
    if arch not in _assigned:
        used = set(_assigned.values())
        free = [c for c in SPARE if c not in used]
        _assigned[arch] = free[0] if free else SPARE[len(_assigned) % len(SPARE)]
    return _assigned[arch]


def shade(arch: str, i: int) -> str:
    """The `i`-th shade of `arch`'s colour: 0 the colour itself, then darker, lighter, ...: mixed with black or
    white, which keeps its hue."""
    if i == 0:
        return color(arch)
    towards, amount = SHADES[(i - 1) % len(SHADES)]
    return to_hex(tuple(c + (towards - c) * amount for c in to_rgb(color(arch))))


def variant_style(arch: str, variant: str, variants: list[str]) -> dict:
    """Line style of one variant of `arch` (`variants`: that arch's variants in this plot, in a fixed order)."""
    i = variants.index(variant) if variant in variants else 0
    return {"color": shade(arch, i), "marker": MARKERS[i % len(MARKERS)]}


def arch_of(name: str, archs) -> str:
    """The architecture a decoder or training variant (`transformer-static`, `retnet-chunkwise`) belongs to: the
    longest of `archs` that `name` is, or starts with followed by a dash."""
    found = [a for a in archs if name == a or name.startswith(f"{a}-")]
    return max(found, key=len) if found else name
