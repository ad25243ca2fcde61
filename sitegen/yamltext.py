"""YAML as people write it in front matter and config: what you see is what you get.

YAML 1.1 turns ``id: 2301.10000`` into the float ``2301.1``, ``title: No`` into ``False`` and
``date: 2024-13-01`` into a crash inside the loader. Our loader keeps such scalars as the text
that was typed, so the validators can read them and complain precisely, and only plain decimal
integers, ``true``/``false`` and ``null`` get implicit types.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_DROPPED_TAGS = {
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
}


class LiteralLoader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """A safe loader that resolves only decimal ints, true/false and null implicitly."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level table
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_TAGS]
        for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
    }


LiteralLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
LiteralLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with a mark) on malformed input."""
    return yaml.load(text, Loader=LiteralLoader)


_KEY_LINE = re.compile(
    r"""^(?:(?P<quote>["'])(?P<quoted>.*?)(?P=quote)|(?P<plain>[^\s#"'\-?:{\[][^:#]*?))[ \t]*:(?:[ \t]|$)"""
)


def top_level_keys(text: str) -> list[tuple[str, int]]:
    """Each top-level key of a block mapping with its 1-based line, in order, repeats included.

    A cheap scan used only to point messages at a line, rather than a second, marked parse.
    """
    keys = []
    for number, line in enumerate(text.split("\n"), start=1):
        match = _KEY_LINE.match(line)
        if match:
            keys.append((match.group("quoted") if match.group("quote") else match.group("plain"), number))
    return keys


def top_level_key_lines(text: str) -> dict[str, int]:
    """Map each top-level key to the line where it first appears."""
    lines: dict[str, int] = {}
    for key, number in top_level_keys(text):
        lines.setdefault(key, number)
    return lines


def repeated_keys(text: str) -> list[tuple[str, int, int]]:
    """``(key, first line, repeated line)`` for keys given twice; YAML would keep only the last."""
    first: dict[str, int] = {}
    repeats = []
    for key, number in top_level_keys(text):
        if key in first:
            repeats.append((key, first[key], number))
        else:
            first[key] = number
    return repeats


def nested_key_line(text: str, parent_line: int, key: str) -> int:
    """The line of ``key`` inside the mapping that starts at ``parent_line``, else ``parent_line``."""
    pattern = re.compile(rf"""(?:^\s+|[{{,]\s*)["']?{re.escape(key)}["']?\s*:""")
    lines = text.split("\n")
    for number in range(parent_line, len(lines) + 1):
        line = lines[number - 1]
        if number > parent_line and _KEY_LINE.match(line):
            break
        if pattern.search(line):
            return number
    return parent_line


def yaml_error_line(exc: yaml.YAMLError) -> int | None:
    """The 1-based line a YAML error points at, if it has a mark."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML error, without PyYAML's multi-line mark dump."""
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [part for part in (context, problem) if part]
    return ": ".join(parts) if parts else str(exc).splitlines()[0]
