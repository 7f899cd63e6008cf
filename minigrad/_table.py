"""Plain-text tables for the summary and the training-step trace."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right_aligned: Collection[int] = ()
) -> list[str]:
    """Return the lines of a table with a header, a rule of dashes, and one line per row.

    Each column is as wide as its widest cell. Columns whose index is in ``right_aligned``
    are aligned to the right, for numbers, and the others to the left.
    """
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [render(header), "  ".join("-" * width for width in widths), *map(render, rows)]
