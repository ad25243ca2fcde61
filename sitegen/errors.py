"""Problems found in a site's input, and the exceptions that carry them to the command line.

Every problem names the file and line it comes from, so a message reads
``content/papers/2024/2403.01234.md:7: 'date' must be YYYY-MM-DD, got '2024-13-01'``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can."""

    path: Path
    """The file the problem is in, as the user would type it (relative to the site when possible)."""
    line: int | None
    """1-based line number, or None when the problem concerns the whole file."""
    message: str
    """What is wrong and what to do about it."""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def shown_path(path: Path) -> Path:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def error(path: Path, line: int | None, message: str) -> Problem:
    return Problem(path, line, message, Severity.ERROR)


def warning(path: Path, line: int | None, message: str) -> Problem:
    return Problem(path, line, message, Severity.WARNING)


class SitegenError(Exception):
    """Base of every error sitegen reports to the user; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class InputError(SitegenError):
    """The site's configuration or content has problems; all of them are listed, not just the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class OutputError(SitegenError):
    """The planned output is inconsistent (two items claim one path, a path escapes the output)."""


class UsageError(SitegenError):
    """The command line asks for something impossible (a missing site folder, an existing file)."""

    exit_code = 2


class DeliveryError(SitegenError):
    """The mail server could not be reached or refused the login, a recipient or the message."""
