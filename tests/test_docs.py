"""The README is a user's guide: short, its links lead somewhere, and every command it shows exists as written."""

import re
import shlex
from pathlib import Path

import pytest

from rag import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_a_guide_of_at_most_250_lines():
    assert len(README.splitlines()) <= 250
    assert README.startswith("# ") and "make run" in README.splitlines()[3] and "make test" in README.splitlines()[4]


def test_every_link_in_the_readme_and_the_docs_leads_to_a_file():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to missing {target}"


def _readme_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("rag "):
                commands.append(shlex.split(line)[1:])
    return commands


COMMANDS = _readme_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_every_command_in_the_readme_parses_as_written(argv):
    """The command and each of its options are real: click parses the line (nothing runs; --help is never asked)."""
    group = cli.cli if hasattr(cli, "cli") else None
    assert group is not None
    name, *rest = argv
    command = group.get_command(None, name)
    assert command is not None, f"rag {name} is not a command"
    context = command.make_context(name, list(rest), resilient_parsing=False)
    assert context.params is not None
