"""Every ```python block in the README runs, and prints what its comments promise."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def expectations(code: str) -> list[re.Pattern[str]]:
    """``print(...)  # -> text`` lines promise ``text`` (``...`` matches anything)."""
    found = []
    for line in code.splitlines():
        match = re.search(r"print\(.*\)\s+#\s*->\s*(.+)$", line)
        if match:
            parts = [re.escape(p.strip()) for p in match.group(1).split("...")]
            found.append(re.compile(".*".join(parts)))
    return found


def test_the_readme_has_runnable_snippets() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_snippet_runs(index: int) -> None:
    code = BLOCKS[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md[{index}]", "exec"), {"__name__": f"readme_{index}"})
    printed = out.getvalue()
    assert printed.strip(), "a snippet should show its result"
    for pattern in expectations(code):
        assert pattern.search(printed), f"{pattern.pattern!r} not in {printed!r}"
