"""Turning imported records into abstract files: create new ones, update what the source owns in
existing ones, keep what the user added, write each file whole or not at all.

Importers (``sitegen/importers/``) only read their format into ``Record`` values; everything about
files — where they go, how they are merged and written — is here, shared by every format.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .classify import TopicRule, topic_rules, with_rule_topics
from .config import load_config
from .content import (
    ARXIV_ID,
    FIELDS,
    MAX_FILE_BYTES,
    FileProblems,
    find_abstract_files,
    is_valid_id,
    parse_paper,
    split_front_matter,
)
from .markup import AbstractRenderer
from .yamltext import load_yaml

_SURROGATE = re.compile("[\ud800-\udfff]")
"""Lone surrogates, from broken JSON escapes or a mis-decoded stream: not text that can be written."""
NOTES_HEADING = re.compile(r"^#{1,6}\s+notes\s*$", re.IGNORECASE | re.MULTILINE)
"""Everything from a ``## Notes`` heading on is the user's and survives re-imports."""

SOURCE_FIELDS = (
    "title", "authors", "published", "updated", "version", "categories", "primary_category",
    "comment", "journal_ref", "doi", "license", "upvotes", "stars",
)  # fmt: skip
"""Fields a re-import overwrites when the source gives them; every other field is the user's."""


@dataclass(frozen=True, slots=True)
class Record:
    """One paper as a source describes it; only what the source says, nothing derived."""

    id: str
    title: str
    abstract: str
    position: str
    """Where in the source it came from, for messages: ``entry 3``, ``line 12``."""
    authors: tuple[tuple[str, str], ...] = ()
    """``(name, affiliation)``, affiliation empty when unknown."""
    date: dt.date | None = None
    """The listing date, when the source has one."""
    published: dt.date | None = None
    updated: dt.date | None = None
    version: int | None = None
    categories: tuple[str, ...] = ()
    primary_category: str = ""
    comment: str = ""
    journal_ref: str = ""
    doi: str = ""
    license: str = ""
    links: tuple[tuple[str, str], ...] = ()
    upvotes: int | None = None
    stars: int | None = None
    tldr: str = ""
    """A suggested summary: written only when the file has none."""


@dataclass(frozen=True, slots=True)
class ImportProblem:
    position: str
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.message}"


class SourceError(Exception):
    """The source as a whole cannot be read (not JSON, not XML...)."""


class ExistingFileError(Exception):
    """The abstract file a record would update cannot be read; it is left alone."""


@dataclass(slots=True)
class Change:
    """What an import does to one file."""

    path: Path
    old: str | None
    new: str
    positions: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        if self.old is None:
            return "create"
        return "unchanged" if self.old == self.new else "update"


def normalise_space(text: str) -> str:
    return " ".join(text.split())


def normalise_paragraphs(text: str) -> str:
    """Line breaks and runs of spaces folded, blank-line paragraph breaks kept."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    folded = (normalise_space(paragraph) for paragraph in paragraphs if paragraph.strip())
    # An imported "# …" paragraph is text, not a heading: it must not pass for the user's "## Notes".
    return "\n\n".join("\\" + p if p.startswith("#") else p for p in folded)


def _record_fields(record: Record) -> dict[str, Any]:
    """The source-owned front-matter values a record gives, in the content format's spelling."""
    values: dict[str, Any] = {
        "title": record.title,
        "authors": [{"name": name, "affiliation": aff} if aff else name for name, aff in record.authors],
        "published": record.published.isoformat() if record.published else None,
        "updated": record.updated.isoformat() if record.updated else None,
        "version": record.version,
        "categories": list(record.categories),
        "primary_category": record.primary_category,
        "comment": record.comment,
        "journal_ref": record.journal_ref,
        "doi": record.doi,
        "license": record.license,
        "upvotes": record.upvotes,
        "stars": record.stars,
    }
    return {key: value for key, value in values.items() if value not in (None, "", [])}


def _derived_links(paper_id: str) -> dict[str, str]:
    if ARXIV_ID.match(paper_id):
        return {"abs": f"https://arxiv.org/abs/{paper_id}", "pdf": f"https://arxiv.org/pdf/{paper_id}"}
    return {}


def merged_front_matter(
    existing: dict[str, Any] | None,
    record: Record,
    listing_date: dt.date,
    topics: Sequence[str],
    rules: Iterable[TopicRule],
) -> dict[str, Any]:
    """Source fields from ``record``; user fields (topics, tldr, date, draft...) from ``existing``."""
    data: dict[str, Any] = dict(existing or {})
    data["id"] = record.id
    data.update(_record_fields(record))
    data.setdefault("date", listing_date.isoformat())
    if record.tldr and not data.get("tldr"):
        data["tldr"] = record.tldr
    links = dict(data.get("links") or {})
    derived = _derived_links(record.id)
    for kind, url in record.links:
        if derived.get(kind) != url:
            links[kind] = url
    if links:
        data["links"] = links
    own_topics = data.get("topics") or []
    own_topics = [own_topics] if isinstance(own_topics, str) else list(own_topics)
    all_topics = with_rule_topics([*own_topics, *topics], record.title, record.abstract, rules)
    if all_topics:
        data["topics"] = list(all_topics)
    order = {key: index for index, key in enumerate(FIELDS)}
    return dict(sorted(data.items(), key=lambda item: order.get(item[0], len(order))))


def dump_front_matter(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1_000_000)


def file_text(data: dict[str, Any], abstract: str, notes: str) -> str:
    body = abstract.strip() + (f"\n\n{notes.strip()}" if notes.strip() else "")
    return f"---\n{dump_front_matter(data)}---\n{body}\n"


def split_notes(body: str) -> tuple[str, str]:
    match = NOTES_HEADING.search(body)
    return (body[: match.start()], body[match.start() :]) if match else (body, "")


_ID_LINE = re.compile(r"""^id:[ \t]*["']?([^"'\n#]+?)["']?[ \t]*$""", re.MULTILINE)


def existing_files(content_dir: Path) -> dict[str, Path]:
    """Abstract files by their id, ignoring case as the build does: the ``id:`` line of the front
    matter when there is one, else the file name."""
    found: dict[str, Path] = {}
    if not content_dir.is_dir():
        return found
    for path in find_abstract_files(content_dir):
        try:
            head = path.read_bytes()[:4096].decode("utf-8", "replace")
        except OSError:
            continue
        front = head.split("\n---", 1)[0]
        match = _ID_LINE.search(front)
        found.setdefault((match.group(1) if match else path.stem).casefold(), path)
    return found


def plan_import(
    records: Iterable[Record | ImportProblem],
    content_dir: Path,
    *,
    default_date: dt.date,
    topics: Sequence[str] = (),
    rules: Iterable[TopicRule] = (),
) -> tuple[list[Change], list[ImportProblem]]:
    """Work out every file change without writing anything."""
    rules = tuple(rules)
    renderer = AbstractRenderer()  # every file is validated as a build would, before it is written
    known = existing_files(content_dir)
    changes: dict[str, Change] = {}
    problems: list[ImportProblem] = []
    for record in records:
        if isinstance(record, ImportProblem):
            problems.append(record)
            continue
        if not is_valid_id(record.id):
            problems.append(ImportProblem(record.position, f"id {record.id!r} is not slug-safe; skipped"))
            continue
        if not record.title.strip():
            problems.append(ImportProblem(record.position, "has no title; skipped"))
            continue
        if _SURROGATE.search(f"{record.title}{record.abstract}{record.authors}{record.comment}{record.tldr}"):
            problems.append(ImportProblem(record.position, "has text that is not valid Unicode; skipped"))
            continue
        change = changes.get(record.id)
        if change is not None:
            problems.append(
                ImportProblem(
                    record.position, f"repeats {record.id} from {change.positions[0]}; merged into it"
                )
            )
            current_text: str | None = change.new
            path = change.path
        else:
            path = known.get(record.id.casefold()) or (
                content_dir / "papers" / f"{(record.date or default_date).year:04d}" / f"{record.id}.md"
            )
            try:
                current_text = path.read_text(encoding="utf-8-sig") if path.is_file() else None
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(ImportProblem(record.position, f"{path} cannot be read ({exc}); skipped"))
                continue
        try:
            new_text = merged_text(
                current_text, record, record.date or default_date, topics, rules, path, renderer
            )
        except ExistingFileError as exc:
            problems.append(ImportProblem(record.position, f"{exc}; fix it before re-importing"))
            continue
        if new_text is None:
            problems.append(
                ImportProblem(record.position, f"{record.id}: the file has a newer version; kept")
            )
            new_text = current_text or ""
        elif len(new_text.encode("utf-8")) > MAX_FILE_BYTES:
            problems.append(
                ImportProblem(record.position, f"{record.id}: the file would exceed 1 MB; skipped")
            )
            continue
        else:
            try:
                parse_paper(new_text, path, renderer)
            except FileProblems as exc:
                reasons = "; ".join(p.message for p in exc.problems if p.is_error)
                problems.append(ImportProblem(record.position, f"{record.id}: {reasons}; skipped"))
                continue
        if change is None:
            change = changes[record.id] = Change(path, current_text, new_text)
        change.new = new_text
        change.positions.append(record.position)
    return list(changes.values()), problems


def merged_text(
    current: str | None,
    record: Record,
    listing_date: dt.date,
    topics: Sequence[str],
    rules: Iterable[TopicRule],
    path: Path,
    renderer: AbstractRenderer,
) -> str | None:
    """The file's new text; None when the file already holds a newer arXiv version."""
    existing: dict[str, Any] | None = None
    notes = ""
    if current is not None:
        try:
            front = split_front_matter(current.replace("\r\n", "\n"), path)
            loaded = load_yaml(front.text)
        except FileProblems as exc:
            raise ExistingFileError(str(exc.problems[0])) from None
        except yaml.YAMLError as exc:
            raise ExistingFileError(f"{path}: invalid YAML in front matter ({exc})") from None
        if not isinstance(loaded, dict):
            raise ExistingFileError(f"{path}: front matter is not a mapping")
        try:
            parse_paper(current, path, renderer)
        except FileProblems as exc:
            raise ExistingFileError(str(next(p for p in exc.problems if p.is_error))) from None
        existing = loaded
        old_version, new_version = existing.get("version"), record.version
        if isinstance(old_version, int) and new_version is not None and new_version < old_version:
            return None
        old_abstract, notes = split_notes(front.body)
    data = merged_front_matter(existing, record, listing_date, topics, rules)
    # A source without an abstract (a BibTeX entry, a sparse JSON item) never erases the one there.
    abstract = record.abstract if record.abstract.strip() else (old_abstract if current is not None else "")
    return file_text(data, abstract, notes)


def apply_changes(changes: Iterable[Change]) -> None:
    """Write each changed file whole: into a temporary file beside it, then renamed over it."""
    for change in changes:
        if change.action == "unchanged":
            continue
        change.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{change.path.name}.", dir=change.path.parent)
        try:
            # mkstemp makes 0600 files; keep the old file's mode, or the usual 0644 for new ones.
            os.chmod(temporary, change.path.stat().st_mode & 0o777 if change.old is not None else 0o644)
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
                file.write(change.new)
            os.replace(temporary, change.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


@dataclass(frozen=True, slots=True)
class ImportReport:
    changes: list[Change]
    problems: list[ImportProblem]

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)


def import_records(
    records: Iterable[Record | ImportProblem],
    site_dir: Path,
    *,
    default_date: dt.date,
    topics: Sequence[str] = (),
    dry_run: bool = False,
) -> ImportReport:
    """Plan every change (validating each file as a build would), then write unless ``dry_run``."""
    config = load_config(site_dir)
    changes, problems = plan_import(
        records,
        site_dir / "content",
        default_date=default_date,
        topics=topics,
        rules=topic_rules(config.topics),
    )
    if not dry_run:
        apply_changes(changes)
    return ImportReport(changes, problems)
