"""Docs stay true: every command has help with an example, and the README names every command."""

from __future__ import annotations

import pytest
from typer.main import get_command

from buyerjourney.cli import app
from conftest import REPO

COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_readme_opens_with_the_two_setup_commands():
    text = (REPO / "README.md").read_text()
    first_block = text.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_an_example(name):
    command = get_command(app).commands[name]  # type: ignore[attr-defined]
    assert "Example:" in (command.help or ""), f"{name} --help has no Example: block"


@pytest.mark.parametrize("name", COMMANDS)
def test_readme_mentions_every_command(name):
    assert f"buyerjourney {name}" in (REPO / "README.md").read_text()
