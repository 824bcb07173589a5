"""Every ``huzhu`` command line the README shows exists, with the options and values it names.

A reader copies these lines; a renamed command, option or choice would fail them at the
terminal. The README's placeholders (UPPER CASE, ``...``) are not checked, literal values of an
option with fixed choices (``--as dismiss``) are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, flags=re.S)
    return [
        line.split("#", 1)[0].strip()
        for block in blocks
        for line in block.splitlines()
        if line.startswith("huzhu ")
    ]


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, f"huzhu {' '.join(path)}: {result.output}"
    return result.output


def _is_group(help_text: str) -> bool:
    return "Commands" in help_text


def _uses(line: str) -> list[tuple[list[str], list[str]]]:
    """(command path, words after it) for each command a README line shows; ``a | b ID`` after
    a group names two of its subcommands, ``--x|--y`` two options of one."""
    words = line.split()[1:]
    top, rest = [words[0]], words[1:]
    # ``org county create``: a group's group is walked into
    while rest and "|" not in rest[0] and _is_group(_help(top)):
        if not _is_group(_help([*top, rest[0]])):
            break
        top.append(rest.pop(0))
    if not _is_group(_help(top)):
        return [(top, rest)]
    uses: list[tuple[list[str], list[str]]] = []
    for piece in " ".join(rest).split("|"):
        tokens = piece.split()
        if not tokens:
            continue
        if tokens[0].startswith("--") and uses:  # ``--approve|--reject``: the same command
            uses[-1][1].extend(tokens)
        else:
            uses.append(([*top, tokens[0]], tokens[1:]))
    return uses


COMMANDS = _readme_commands()


def test_the_readme_shows_command_lines() -> None:
    assert len(COMMANDS) >= 15
    assert any(line.startswith("huzhu queue") for line in COMMANDS)


@pytest.mark.parametrize("line", COMMANDS)
def test_a_readme_command_line_runs_as_written(line: str) -> None:
    for path, rest in _uses(line):
        help_text = _help(path)
        assert not _is_group(help_text), f"{line!r}: huzhu {' '.join(path)} needs a subcommand"
        tokens = [t.strip("[]") for t in rest]
        for i, token in enumerate(tokens):
            if not token.startswith("--"):
                continue
            option = token.split("=", 1)[0]
            assert option in help_text, f"{line!r}: huzhu {' '.join(path)} has no {option}"
            value = tokens[i + 1] if i + 1 < len(tokens) else ""
            choices = re.search(rf"{re.escape(option)}\s+[<\[]([a-z_|]+)[>\]]", help_text)
            if choices and "|" in choices.group(1) and re.fullmatch(r"[a-z_]+", value):
                assert value in choices.group(1).split("|"), (
                    f"{line!r}: {option} takes {choices.group(1)}, not {value}"
                )
