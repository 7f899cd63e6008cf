"""The Python blocks of docs/tutorial.md run in order and print what the text claims."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def test_tutorial_blocks_print_claimed_values() -> None:
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), re.S)
    namespace: dict[str, object] = {}
    output = io.StringIO()

    with contextlib.redirect_stdout(output):
        for block in blocks:
            exec(compile(block, str(TUTORIAL), "exec"), namespace)

    printed = output.getvalue().splitlines()
    assert len(blocks) == 7
    assert printed[0] == "[0.758 0.771 0.791 0.801]"
    assert "0.6559" in printed
    assert "[0.028 0.925 0.925 0.09 ]" in printed
    assert "[0.925]" in printed
    assert "assignment destination is read-only" in printed
    # Every comparison that the text marks with "# True" prints True.
    claimed_true = sum(block.count("# True") for block in blocks)
    assert claimed_true >= 6
    assert printed.count("True") == claimed_true
