"""Plain-text tables for the terminal (and the report's Markdown)."""

from collections.abc import Sequence


def fmt(value, spec: str = "") -> str:
    if value is None:
        return "N/A"
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


def text_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """`columns`: (key, header, format spec). The first column (a name) left-aligned, the rest right-aligned."""
    cells = [[header for _, header, _ in columns]]
    cells += [[fmt(row.get(key), spec) for key, _, spec in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [
        "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
