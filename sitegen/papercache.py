"""Parsed papers kept from one build to the next, found by the hash of their file's bytes.

Parsing an abstract file (YAML, Markdown, math) is most of the load stage; a paper whose file,
shown path and parsing code are unchanged is taken from ``papers.jsonl`` in the cache folder
instead. The file is JSON, one paper a line after a header, and every field is checked when read:
a line that is not exactly what ``encode`` writes is a miss, and the file is parsed again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any, BinaryIO

from markupsafe import Markup

from .cachefiles import code_fingerprint, write_atomically
from .content import Author, Entry, Paper, shared_lines
from .errors import Problem, Severity

CACHE_FILE = "papers.jsonl"
FORMAT = "sitegen-papers-1"
KEY_LENGTH = 32
"""Hexadecimal digits of a key, at the start of its line."""
STALE_SHARE = 0.125
"""Lines of papers no longer in the site (removed, or changed and kept anew), as a share of the
current papers, up to which new papers are added to the end of the file rather than it all
written again."""


class PaperCache:
    """``found`` holds the wanted papers the file had; ``add`` the ones parsed afresh; ``save``
    keeps exactly the papers of this build (``keep``), copying unchanged lines without decoding
    them."""

    def __init__(self, folder: Path) -> None:
        self._path = folder / CACHE_FILE
        self._header = json.dumps({"format": FORMAT, "code": code_fingerprint().hex()}) + "\n"
        self._added: dict[str, Entry] = {}
        self._found: dict[str, int] = {}
        """Key → the number of the line it was found on."""
        self._lines = 0
        """Lines of the file after its header, found or not (gone, damaged, there twice)."""
        self._whole = False
        """Whether ``find`` read the file to its end: one it could not is written anew."""
        self._kept: set[str] | None = None

    def key(self, shown: Path, data: bytes) -> str:
        """A paper's record is found by its file's bytes, the path messages show, and the code."""
        digest = hashlib.blake2b(code_fingerprint(), digest_size=KEY_LENGTH // 2)
        digest.update(str(shown).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def find(self, wanted: set[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        try:
            with open(self._path, encoding="utf-8", newline="\n") as file:  # lines as in bytes
                if file.readline() != self._header:
                    return found
                for line in file:
                    key = line[:KEY_LENGTH]
                    self._lines += 1
                    if key in wanted and key not in found and line[KEY_LENGTH : KEY_LENGTH + 1] == " ":
                        try:
                            found[key] = decode(json.loads(line[KEY_LENGTH + 1 :]))
                            self._found[key] = self._lines
                        except (ValueError, TypeError, KeyError, IndexError, RecursionError):
                            continue  # damaged: that paper is parsed again
        except (OSError, UnicodeDecodeError):
            self._found, self._lines = {}, 0  # every paper is parsed again, and the file written anew
            return {}
        self._whole = True
        return found

    def add(self, key: str, entry: Entry) -> None:
        self._added[key] = entry  # encoded as it is saved, one at a time

    def keep(self, keys: Iterable[str]) -> None:
        self._kept = set(keys)

    def save(self) -> None:
        """Writes the papers ``keep`` was given, if it was, and if they are not what the file has:
        added at the end of the file while at most ``STALE_SHARE`` of its lines are papers gone
        or changed since (a day's new papers cost their own lines, not the archive's), else the
        file is written anew with only the current papers. What the cache held is let go: a
        build keeps going for long after, and the papers it parsed may be replaced by others."""
        try:
            self._save()
        finally:
            self._added, self._found, self._kept = {}, {}, None

    def _save(self) -> None:
        current = self._kept
        if current is None:
            return
        new_lines = [key for key in self._added if key in current]
        stale = self._lines - len(current.intersection(self._found))
        if (
            self._whole
            and stale <= len(current) * STALE_SHARE
            and (not new_lines or self._appended(new_lines))
        ):
            return

        def write(out: BinaryIO) -> None:
            out.write(self._header.encode())
            try:
                with open(self._path, "rb") as old:
                    if old.readline().decode("utf-8", "replace") == self._header:
                        # Each current paper's line that was found good, not a damaged one before it.
                        for number, line in enumerate(old, start=1):
                            key = line[:KEY_LENGTH].decode("ascii", "replace")
                            if self._found.get(key) == number and key in current and key not in self._added:
                                out.write(line if line.endswith(b"\n") else line + b"\n")
            except OSError:
                pass
            for key in new_lines:
                out.write(self._line(key))

        write_atomically(self._path, write)

    def _line(self, key: str) -> bytes:
        """A paper parsed afresh, as its line of the file."""
        return f"{key} {encode(*self._added[key])}\n".encode()

    def _appended(self, keys: list[str]) -> bool:
        """Adds these papers' lines to the end of the file, if it has its header and ends with a
        whole line (a save cut short leaves the line half-written; the rewrite drops it). A line
        is checked whole when it is read, so a write cut short here costs a parse, never a wrong
        paper."""
        lines = b"".join(map(self._line, keys))
        try:
            with open(self._path, "rb") as file:
                if file.read(len(self._header)) != self._header.encode():
                    return False
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":
                    return False
            # Opened to append (O_APPEND): another build's lines added meanwhile are written after,
            # never over.
            with open(self._path, "ab") as file:
                file.write(lines)
        except OSError:
            return False
        return True


# --- one paper ↔ JSON ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("not text")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(_text(item) for item in value)


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(_text(value))


def _number(value: Any) -> int:
    if type(value) is not int:
        raise TypeError("not a whole number")
    return value


def _optional(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else read(value)


def _flag(value: Any) -> bool:
    if type(value) is not bool:
        raise TypeError("not true or false")
    return value


def _authors(value: Any) -> tuple[Author, ...]:
    return tuple(Author(_text(name), _text(affiliation)) for name, affiliation in value)


def _links(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((_text(kind), _text(url)) for kind, url in value)


def _lines(value: Any) -> dict[str, int]:
    if type(value) is not dict:
        raise TypeError("not a mapping")
    return shared_lines(tuple((_text(key), _number(line)) for key, line in value.items()))


_READERS: dict[str, Callable[[Any], Any]] = {
    "id": _text,
    "title": _text,
    "authors": _authors,
    "date": _date,
    "topics": _texts,
    "abstract": _text,
    "abstract_html": lambda value: Markup(_text(value)),
    "abstract_text": _text,
    "abstract_words": _text,
    "links": _links,
    "source": lambda value: Path(_text(value)),
    "body_line": _number,
    "published": _optional(_date),
    "updated": _optional(_date),
    "version": _optional(_number),
    "categories": _texts,
    "primary_category": _text,
    "comment": _text,
    "journal_ref": _text,
    "doi": _text,
    "license": _text,
    "upvotes": _optional(_number),
    "stars": _optional(_number),
    "tldr": _text,
    "draft": _flag,
    "field_lines": _lines,
}
_FIELDS = tuple(field.name for field in fields(Paper))


def _plain(value: Any) -> Any:
    """What JSON cannot hold as it is, as JSON can (``JSONEncoder``'s ``default``)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Author):
        return [value.name, value.affiliation]
    raise TypeError(f"{type(value).__name__} is not kept in the paper cache")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_plain)
"""Tuples become lists and ``Markup`` a string, at C speed: converting the values first took as
long again as encoding them."""


def encode(paper: Paper, warnings: tuple[Problem, ...]) -> str:
    """The paper and its warnings as one line of JSON, which ``decode`` reads once loaded."""
    return _ENCODER.encode(
        [
            [getattr(paper, name) for name in _FIELDS],
            [[str(problem.path), problem.line, problem.message] for problem in warnings],
        ]
    )


def decode(record: Any) -> Entry:
    values, warnings = record
    if len(values) != len(_FIELDS):
        raise ValueError("another number of fields")
    fields = {name: _READERS[name](value) for name, value in zip(_FIELDS, values, strict=True)}
    if fields["abstract_words"] == fields["abstract_text"]:
        fields["abstract_words"] = fields["abstract_text"]  # one string, as when parsed
    paper = Paper(**fields)
    problems = tuple(
        Problem(Path(_text(path)), _optional(_number)(line), _text(message), Severity.WARNING)
        for path, line, message in warnings
    )
    return paper, problems
