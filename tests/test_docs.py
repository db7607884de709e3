"""The docs keep up with the code: every command is documented, every page the
README names exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ledger.cli import main

TOP = Path(__file__).resolve().parent.parent
DOCS = "\n".join(
    p.read_text() for p in [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]
)


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_is_shown_in_the_docs(command: str) -> None:
    assert f"cma-ledger {command}" in DOCS


def test_every_page_the_readme_names_exists() -> None:
    named = re.findall(r"`(docs/[\w./-]+\.md)`", (TOP / "README.md").read_text())
    assert named
    assert [page for page in named if not (TOP / page).exists()] == []


def test_the_readme_has_the_two_set_up_commands() -> None:
    readme = (TOP / "README.md").read_text()
    assert "pip install -e . && cma-ledger demo" in readme
    assert 'pip install -e ".[test]" && pytest' in readme
