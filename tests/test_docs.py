"""Every Python example in README.md and docs/*.md runs as written.

Each ```python block runs in a fresh module of its own, with an empty
default registry, so that a block's `@service` classes are all that a bare
`Container()` sees. A block whose first line is ``# not run`` (one that
would serve until Ctrl-C) is only compiled.
"""

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from mainspring import default_registry

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
NOT_RUN = "# not run"


def blocks() -> Iterator[object]:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            first_line = text.count("\n", 0, match.start(1)) + 1
            name = f"{page.relative_to(ROOT).as_posix()}:{first_line}"
            yield pytest.param(page, first_line, match[1], id=name)


@pytest.fixture
def empty_default_registry() -> Iterator[None]:
    saved = list(default_registry._declarations)
    default_registry._declarations.clear()
    try:
        yield
    finally:
        default_registry._declarations[:] = saved


@pytest.mark.usefixtures("empty_default_registry")
@pytest.mark.parametrize(("page", "first_line", "source"), list(blocks()))
def test_example_runs(page: Path, first_line: int, source: str) -> None:
    """The block compiles and, unless marked, runs without raising."""
    # Padding puts tracebacks on the block's real lines in the page.
    code = compile("\n" * (first_line - 1) + source, str(page), "exec")
    if source.startswith(NOT_RUN):
        return
    name = f"docs_example_{page.stem}_{first_line}"
    module = types.ModuleType(name)
    module.__file__ = str(page)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - running our own docs
    finally:
        del sys.modules[name]


def test_every_page_has_examples() -> None:
    """The pattern finds blocks in every page that teaches the API."""
    pages = {page for page, _, _ in (p.values for p in blocks())}
    # Pages about the project rather than the API hold shell commands only.
    prose = {"index.md", "performance.md", "contributing.md"}

    assert pages >= {p for p in PAGES if p.name not in prose}
