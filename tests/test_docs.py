"""Documented options stay documented: the docs name every field, option and flag the code has."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from sitegen.cli import make_parser
from sitegen.config import OPTIONS
from sitegen.content import FIELDS, LINK_KINDS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def documented_table_keys(path: Path) -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)`", path.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_every_front_matter_field_is_documented() -> None:
    assert documented_table_keys(DOCS / "content-format.md") == set(FIELDS)


def test_every_link_kind_is_documented() -> None:
    text = (DOCS / "content-format.md").read_text(encoding="utf-8")
    for kind in LINK_KINDS:
        assert f"`{kind}`" in text


def test_every_config_option_is_documented() -> None:
    assert documented_table_keys(DOCS / "configuration.md") == {option.name for option in OPTIONS}


@pytest.mark.parametrize("command", ["init", "new", "build", "check", "serve", "import", "fetch", "digest"])
def test_every_command_line_flag_is_documented(command: str) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    subparsers = next(a for a in make_parser()._actions if a.dest == "command")
    parser = subparsers.choices[command]  # type: ignore[attr-defined]
    assert f"sitegen {command}" in text
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue  # test-only options
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in text, f"{command} {flag}"
