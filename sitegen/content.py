"""Abstract files → ``Paper`` records: split front matter, validate every field, render the abstract.

The format is documented in ``docs/content-format.md``; ``FIELDS`` below is its single source in
code, and a test keeps the two in step. Loading never stops at the first bad file: every problem
of every file is collected with its line, so one run shows everything to fix.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import yaml
from markupsafe import Markup

from .config import TOPIC_SLUG, did_you_mean
from .errors import Problem, error, warning
from .markup import AbstractRenderer
from .parallel import in_background
from .writer import read_descriptor
from .yamltext import (
    load_yaml,
    nested_key_line,
    repeated_keys,
    top_level_key_lines,
    yaml_error_line,
    yaml_error_text,
)

PAPER_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$")
"""Ids become URL path segments, so they are slug-safe: no slashes, no ``..``, no spaces."""


WINDOWS_RESERVED = re.compile(r"^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\..*)?$", re.IGNORECASE)
"""Names Windows cannot create as files or folders, whatever the extension."""
MAX_TOPICS = 100
MAX_FILE_BYTES = 1_000_000
"""Abstracts are a few kilobytes; a file far larger is a mistake (a PDF, a data dump), not a paper."""


def is_valid_id(paper_id: str) -> bool:
    return (
        PAPER_ID.match(paper_id) is not None and ".." not in paper_id and not WINDOWS_RESERVED.match(paper_id)
    )


ARXIV_ID = re.compile(r"^\d{4}\.\d{4,5}(?:v\d+)?$")
LINK_KINDS = ("abs", "pdf", "code", "project", "dataset", "model")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Author:
    """One author of a paper."""

    name: str
    """The name as it should be shown."""
    affiliation: str = ""
    """Institution, when known."""


@dataclass(frozen=True, slots=True)
class Paper:
    """One abstract file, validated. Immutable: every later stage reads it, none changes it."""

    id: str
    """Unique, slug-safe identifier (usually the arXiv id); the paper's URL is ``papers/<id>/``."""
    title: str
    """The paper's title, as plain text."""
    authors: tuple[Author, ...]
    """Authors in the paper's order."""
    date: dt.date
    """The listing date: the day the paper appears on the site."""
    topics: tuple[str, ...]
    """Topic slugs, in the order the file gives them."""
    abstract: str
    """The abstract's Markdown source."""
    abstract_html: Markup
    """The abstract rendered to safe HTML, math as MathML: ``Markup``, so that the views templates
    see share this string rather than each holding a copy."""
    abstract_text: str
    """The abstract as plain text (math as LaTeX), for metadata and feeds."""
    abstract_words: str
    """The abstract as plain text with math as the text it displays, for the search index."""
    links: tuple[tuple[str, str], ...]
    """``(kind, url)`` pairs: abs, pdf, code, project, dataset, model, then any others."""
    source: Path
    """The file this paper came from, as shown in messages."""
    body_line: int
    """The line of ``source`` where the abstract starts."""
    published: dt.date | None = None
    """First version's date on arXiv."""
    updated: dt.date | None = None
    """Latest version's date on arXiv."""
    version: int | None = None
    """Latest arXiv version number."""
    categories: tuple[str, ...] = ()
    """arXiv categories such as ``cs.CL``."""
    primary_category: str = ""
    """The primary arXiv category."""
    comment: str = ""
    """Author comment, e.g. ``NeurIPS 2023, 12 pages``."""
    journal_ref: str = ""
    """Journal reference."""
    doi: str = ""
    """DOI without the ``https://doi.org/`` prefix."""
    license: str = ""
    """Licence URL or SPDX identifier."""
    upvotes: int | None = None
    """Votes from a listing service; orders the papers of a day."""
    stars: int | None = None
    """Stars of the code repository."""
    tldr: str = ""
    """One-sentence summary."""
    draft: bool = False
    """Drafts are built only with ``--drafts``."""
    field_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    """Line of each front-matter key in ``source``, for later messages."""

    def line_of(self, key: str) -> int:
        """The line of a front-matter key, or of the file's start when the key is absent."""
        return self.field_lines.get(key, 1)

    def link(self, kind: str) -> str | None:
        return next((url for k, url in self.links if k == kind), None)

    @property
    def is_arxiv(self) -> bool:
        return ARXIV_ID.match(self.id) is not None


# --- field parsers: value → typed value, or ValueError with what to write instead -------------


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ValueError(f"must be text, got {_shown(value)}")
    text = " ".join(str(value).split())
    if not text:
        raise ValueError("must not be empty")
    control = CONTROL_CHARACTER.search(text)
    if control:  # written as a YAML escape such as "\0", which the check of the raw file cannot see
        raise ValueError(f"contains the control character U+{ord(control.group()):04X}; delete it")
    return text


def _optional_text(value: Any) -> str:
    return "" if value is None or value == "" else _text(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if ISO_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"must be a date written YYYY-MM-DD, got {_shown(value)}")


def _optional_date(value: Any) -> dt.date | None:
    return None if value is None else _date(value)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a whole number of 0 or more, got {_shown(value)}")
    return value


def _version(value: Any) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"v?\d+", value.strip()):
        value = int(value.strip().lstrip("v"))
    number = _count(value)
    if number == 0:
        raise ValueError("must be 1 or more")
    return number


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {_shown(value)}")
    return value


def _text_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(item for item in re.split(r"[,\s]+", value) if item)
    if not isinstance(value, list):
        raise ValueError(f"must be a list such as [cs.CL, cs.LG], got {_shown(value)}")
    return tuple(_text(item) for item in value)


def _topics(value: Any) -> tuple[str, ...]:
    topics = _text_list([value] if isinstance(value, str) else value)
    if len(topics) > MAX_TOPICS:
        raise ValueError(f"has {len(topics)} entries; a paper may have at most {MAX_TOPICS}")
    for topic in topics:
        if not TOPIC_SLUG.match(topic):
            slug = "-".join(re.findall(r"[a-z0-9]+", topic.lower())) or "a-topic"
            raise ValueError(
                f"topic {topic!r} is not a slug; write {slug!r} "
                "(lowercase letters, digits, single hyphens) and name it under 'topics' in sitegen.yaml"
            )
    return tuple(dict.fromkeys(topics))


def _authors(value: Any) -> tuple[Author, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # "A, B and C" as pasted from a listing; a YAML list is the unambiguous form.
        value = [name for name in re.split(r",\s*|\s+and\s+", value) if name.strip()]
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ValueError(f"must be a list of names or {{name, affiliation}}, got {_shown(value)}")
    authors = []
    for item in items:
        if isinstance(item, dict):
            unknown = sorted(str(key) for key in set(item) - {"name", "affiliation"})
            if unknown:
                hint = did_you_mean(unknown[0], ["name", "affiliation"])
                raise ValueError(f"author key {unknown[0]!r} is not 'name' or 'affiliation'{hint}")
            if "name" not in item:
                raise ValueError(f"each author needs a name, got {_shown(item)}")
            authors.append(Author(_text(item["name"]), _optional_text(item.get("affiliation"))))
        else:
            authors.append(Author(_text(item)))
    return tuple(authors)


def web_url(value: Any) -> str:
    """An absolute http(s) URL; anything else (``javascript:``, ``data:``…) is refused."""
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in text:
        raise ValueError(f"must be an absolute http(s) URL, got {_shown(text)}")
    return text


def _doi(value: Any) -> str:
    text = _optional_text(value)
    text = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", text, flags=re.IGNORECASE)
    if text and not re.fullmatch(r"10\.\d{4,9}/\S+", text):
        raise ValueError(f"must be a DOI such as 10.1000/xyz123, got {_shown(value)}")
    return text


def _shown(value: Any) -> str:
    shown = repr(value) if isinstance(value, str) else f"{value!r}"
    return shown if len(shown) <= 60 else shown[:57] + "..."


FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": _text,  # checked with is_valid_id once the file name fallback is known
    "title": _text,
    "authors": _authors,
    "date": _date,
    "topics": _topics,
    "links": lambda value: value,  # a mapping, checked key by key in _links
    "published": _optional_date,
    "updated": _optional_date,
    "version": _version,
    "categories": _text_list,
    "primary_category": _optional_text,
    "comment": _optional_text,
    "journal_ref": _optional_text,
    "doi": _doi,
    "license": _optional_text,
    "upvotes": _count,
    "stars": _count,
    "tldr": _optional_text,
    "draft": _flag,
}
REQUIRED = ("title", "date")


# --- one file ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrontMatter:
    text: str
    first_line: int
    """File line of the front matter's first line (the one after the opening ``---``)."""
    body: str
    body_line: int


class FileProblems(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems


@functools.lru_cache(maxsize=4096)
def shared_lines(lines: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """One dict for every paper whose keys sit on the same lines: files written by one tool
    share a layout, and at 100,000 papers a dict each took 60 MB. Never changed once made."""
    return dict(lines)


def split_front_matter(text: str, path: Path) -> FrontMatter:
    """Separate the YAML block between ``---`` lines from the Markdown after it."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        raise FileProblems(
            [error(path, 1, "must start with a '---' line opening the front matter (id, title, date...)")]
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return FrontMatter(
                text="\n".join(lines[1:index]) + "\n",
                first_line=2,
                body="\n".join(lines[index + 1 :]),
                body_line=index + 2,
            )
    raise FileProblems(
        [
            error(
                path,
                1,
                "front matter opened with '---' is never closed; did you forget the closing '---'?",
            )
        ]
    )


CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
"""Characters that are invalid in XML feeds and HTML; a pasted one must not break a build's output."""


def parse_paper(text: str, path: Path, renderer: AbstractRenderer) -> tuple[Paper, list[Problem]]:
    """Validate one abstract file's text; raises ``FileProblems`` when any error is found."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    control = CONTROL_CHARACTER.search(text)
    if control:
        raise FileProblems(
            [
                error(
                    path,
                    text.count("\n", 0, control.start()) + 1,
                    f"contains the control character U+{ord(control.group()):04X}; delete it",
                )
            ]
        )
    front = split_front_matter(text, path)
    offset = front.first_line - 1
    try:
        data = load_yaml(front.text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        raise FileProblems(
            [
                error(
                    path,
                    line + offset if line else 1,
                    f"invalid YAML in front matter: {yaml_error_text(exc)}",
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise FileProblems([error(path, 1, "front matter must be a mapping of field: value lines")])

    lines = shared_lines(tuple((key, line + offset) for key, line in top_level_key_lines(front.text).items()))
    problems: list[Problem] = [
        error(path, again + offset, f"{key!r} is given twice (first on line {first + offset}); keep one")
        for key, first, again in repeated_keys(front.text)
    ]
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key)
        if value is None or value == "":
            continue  # 'field:' with nothing after it is the same as leaving the field out
        parse = FIELDS.get(key)
        if parse is None:
            problems.append(
                warning(
                    path, lines.get(key), f"unknown field {key!r} is ignored{did_you_mean(key, list(FIELDS))}"
                )
            )
            continue
        try:
            values[key] = parse(value)
        except ValueError as exc:
            problems.append(error(path, lines.get(key), f"{key!r} {exc}"))
    for key in REQUIRED:
        if key not in values and key in data and data[key] not in (None, ""):
            continue  # present but invalid: already reported
        if key not in values:
            problems.append(error(path, 1, f"{key!r} is missing; add a '{key}:' line to the front matter"))

    paper_id = values.get("id") or path.stem
    if not is_valid_id(paper_id):
        problems.append(
            error(
                path,
                lines.get("id", 1),
                f"id {paper_id!r} is not slug-safe; use letters, digits, '.', '-' and '_', "
                "not a name Windows reserves (it becomes the paper's URL)",
            )
        )
    links = _links(data.get("links"), paper_id, path, front.text, lines.get("links"), offset, problems)

    rendered = renderer.render(front.body)
    for line, url in rendered.rejected_links:
        problems.append(
            error(
                path,
                front.body_line + line,
                f"link {_shown(url)} is not allowed; abstracts may link only to http(s) and mailto addresses",
            )
        )
    for line, latex in rendered.bad_math:
        problems.append(
            warning(
                path,
                front.body_line + line,
                f"math {_shown(latex)} could not be rendered and is shown as source",
            )
        )
    if not rendered.text:
        problems.append(warning(path, front.body_line, "has no abstract after the front matter"))
    if "authors" not in data:
        problems.append(warning(path, 1, "has no 'authors'"))

    if any(problem.is_error for problem in problems):
        raise FileProblems(problems)
    paper = Paper(
        id=paper_id,
        title=values["title"],
        authors=values.get("authors", ()),
        date=values["date"],
        topics=values.get("topics", ()),
        abstract=front.body,
        abstract_html=Markup(rendered.html),
        abstract_text=rendered.text,
        # Without math the two plain texts are equal: one string then serves as both.
        abstract_words=rendered.text if rendered.words == rendered.text else rendered.words,
        links=links,
        source=path,
        body_line=front.body_line,
        published=values.get("published"),
        updated=values.get("updated"),
        version=values.get("version"),
        categories=values.get("categories", ()),
        primary_category=values.get("primary_category", ""),
        comment=values.get("comment", ""),
        journal_ref=values.get("journal_ref", ""),
        doi=values.get("doi", ""),
        license=values.get("license", ""),
        upvotes=values.get("upvotes"),
        stars=values.get("stars"),
        tldr=values.get("tldr", ""),
        draft=values.get("draft", False),
        field_lines=lines,
    )
    return paper, problems


def _links(
    value: Any,
    paper_id: str,
    path: Path,
    front: str,
    links_line: int | None,
    offset: int,
    problems: list[Problem],
) -> tuple[tuple[str, str], ...]:
    given: dict[str, str] = {}
    if value is not None and not isinstance(value, dict):
        problems.append(error(path, links_line, "'links' must be a mapping such as {code: https://...}"))
    elif value:
        for raw_kind, url in value.items():
            kind = str(raw_kind)
            line = nested_key_line(front, links_line - offset, kind) + offset if links_line else None
            if kind not in LINK_KINDS:
                problems.append(
                    warning(
                        path,
                        line,
                        f"unknown link kind {kind!r}{did_you_mean(kind, list(LINK_KINDS))}; "
                        f"it is shown as {kind!r}",
                    )
                )
            try:
                given[kind] = web_url(url)
            except ValueError as exc:
                problems.append(error(path, line, f"'links.{kind}' {exc}"))
    if ARXIV_ID.match(paper_id):
        given.setdefault("abs", f"https://arxiv.org/abs/{paper_id}")
        given.setdefault("pdf", f"https://arxiv.org/pdf/{paper_id}")
    ordered = [(kind, given[kind]) for kind in LINK_KINDS if kind in given]
    ordered += sorted((kind, url) for kind, url in given.items() if kind not in LINK_KINDS)
    return tuple(ordered)


# --- a whole content folder -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadedContent:
    papers: tuple[Paper, ...]
    """Every valid paper, drafts included, in file-path order."""
    problems: tuple[Problem, ...]
    """Errors and warnings from every file."""
    parsed: int = 0
    """Files parsed by this load; the others' papers came from the cache."""


def find_abstract_files(content_dir: Path) -> Iterator[Path]:
    """Every ``*.md`` under ``content_dir``, sorted, skipping hidden files and folders."""
    for root, dirs, files in os.walk(content_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.endswith(".md") and not name.startswith((".", "_")):
                yield Path(root, name)


Entry = tuple[Paper, tuple[Problem, ...]]
"""A parsed paper and its file's warnings."""


class ParsedPapers(Protocol):
    """Papers parsed by an earlier build, found by the key of their file (``papercache``)."""

    def key(self, shown: Path, data: bytes) -> str: ...

    def find(self, wanted: set[str]) -> dict[str, Entry]: ...

    def add(self, key: str, entry: Entry) -> None: ...

    def keep(self, keys: Iterable[str]) -> None:
        """The keys of this build's papers: the ones the cache's own ``save`` writes."""


PARSE_IN_TWO_FROM = 200
"""Files to parse from which a second process saves more than it costs to start and to hand
its papers back."""


def load_papers(
    files: Iterable[Path],
    shown_root: Path | None = None,
    parsed: ParsedPapers | None = None,
    fork: bool = False,
) -> LoadedContent:
    """Parse and validate every abstract file; a bad file adds problems, never stops the rest.
    A file ``parsed`` has is taken from it; ``parsed`` is then told what this build parsed and
    which papers it has (saving them is the caller's: a build does it beside its other work). With
    ``fork``, a second process parses half the files."""
    read: list[tuple[Path, bytes | OSError]] = []
    shown_folders: dict[str, Path] = {}  # relpath is slow, and thousands of files share a folder
    for file in files:
        if shown_root:
            folder, name = os.path.split(file)
            shown_folder = shown_folders.get(folder)
            if shown_folder is None:
                shown_folder = shown_folders[folder] = Path(os.path.relpath(folder, shown_root))
            shown = shown_folder / name
        else:
            shown = file
        try:
            read.append((shown, _file_bytes(file)))
        except OSError as exc:
            read.append((shown, exc))
    keys = [
        parsed.key(shown, data) if parsed is not None and isinstance(data, bytes) else ""
        for shown, data in read
    ]
    found = parsed.find(set(keys) - {""}) if parsed is not None else {}
    missing = [number for number, key in enumerate(keys) if key not in found]
    split = len(missing) // 2 if fork and len(missing) >= PARSE_IN_TWO_FROM else len(missing)
    mine, theirs = missing[:split], missing[split:]
    with in_background(_parse_files, read, theirs, fork=fork and bool(theirs)) as other:
        outcomes = dict(zip(mine, _parse_files(read, mine), strict=True))
        outcomes.update(zip(theirs, other.result(), strict=True))
    del read, other  # the bytes of the files the other process parsed
    papers: list[Paper] = []
    problems: list[Problem] = []
    for number in range(len(keys)):
        entry = found.get(keys[number])
        if entry is None:
            outcome = outcomes[number]
            if isinstance(outcome, list):
                problems.extend(outcome)
                keys[number] = ""
                continue
            entry = outcome
            if parsed is not None:
                parsed.add(keys[number], entry)
        papers.append(entry[0])
        problems.extend(entry[1])
    if parsed is not None:
        parsed.keep(key for key in keys if key)
    problems.extend(duplicate_ids(papers))
    return LoadedContent(tuple(papers), tuple(problems), len(missing))


def _file_bytes(path: Path) -> bytes:
    """The file's bytes; an ``OSError`` says why it cannot be read."""
    # O_NONBLOCK: a named pipe is not waited on for ever (its read fails, or finds nothing).
    descriptor = os.open(
        path,
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0),
    )
    try:
        return read_descriptor(descriptor)
    finally:
        os.close(descriptor)


def _parse_files(
    read: list[tuple[Path, bytes | OSError]], numbers: list[int]
) -> Iterator[Entry | list[Problem]]:
    """Each of the files ``numbers`` parsed: its paper and warnings, or its problems."""
    renderer = AbstractRenderer()
    for number in numbers:
        shown, data = read[number]
        read[number] = (shown, b"")  # let each file's bytes go once it is parsed
        try:
            yield _parse_file(shown, data, renderer)
        except FileProblems as exc:
            yield exc.problems


def _parse_file(shown: Path, data: bytes | OSError, renderer: AbstractRenderer) -> Entry:
    if isinstance(data, OSError):
        raise FileProblems([error(shown, None, f"cannot be read: {data.strerror or data}")])
    if len(data) > MAX_FILE_BYTES:
        size = f"{len(data) / 1_000_000:.1f} MB"
        raise FileProblems(
            [error(shown, 1, f"is {size}; an abstract file may be at most 1 MB (is it the right file?)")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise FileProblems(
            [error(shown, line, f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8")]
        ) from None
    paper, warnings = parse_paper(text, shown, renderer)
    return paper, tuple(warnings)


def duplicate_ids(papers: Iterable[Paper]) -> list[Problem]:
    """Ids must be unique, ignoring case, since output paths may land on a case-blind disk."""
    first_by_key: dict[str, Paper] = {}
    problems = []
    for paper in papers:
        key = paper.id.lower()
        first = first_by_key.setdefault(key, paper)
        if first is not paper:
            same = "the same id" if first.id == paper.id else f"an id differing only in case ({first.id!r})"
            problems.append(
                error(
                    paper.source,
                    paper.line_of("id"),
                    f"duplicate id {paper.id!r}: {first.source}:{first.line_of('id')} has {same}; "
                    "every paper needs its own id",
                )
            )
    return problems
