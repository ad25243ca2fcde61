"""arXiv API responses (Atom 1.0 with the arxiv: extensions) → records."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from ..importing import ImportProblem, Record, SourceError, normalise_paragraphs, normalise_space

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ABS_URL = re.compile(r"^https?://arxiv\.org/abs/(?P<id>.+?)(?:v(?P<version>\d+))?$")


def parse_feed(text: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise SourceError(f"line {exc.position[0]}: not well-formed XML ({exc})") from None


def total_results(root: ET.Element) -> int | None:
    text = root.findtext(f"{OPENSEARCH}totalResults")
    return int(text) if text and text.strip().isascii() and text.strip().isdigit() else None


def arxiv_id_to_slug(arxiv_id: str) -> str:
    """Old-style ids (``hep-th/9901001``) carry a slash, which cannot be part of a file name."""
    return arxiv_id.replace("/", "-")


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None


def read_entry(entry: ET.Element, position: str) -> Record | ImportProblem:
    url = normalise_space(entry.findtext(f"{ATOM}id") or "")
    title = normalise_space(entry.findtext(f"{ATOM}title") or "")
    if "/api/errors" in url or (title == "Error" and not ABS_URL.match(url)):
        summary = normalise_space(entry.findtext(f"{ATOM}summary") or "")
        return ImportProblem(position, f"the arXiv API reported an error: {summary or url}")
    match = ABS_URL.match(url)
    if not match:
        return ImportProblem(position, f"has no arXiv abstract URL as its id (got {url!r}); skipped")
    arxiv_id = match.group("id")
    published = _date(entry.findtext(f"{ATOM}published"))
    if not title or published is None:
        return ImportProblem(position, f"{arxiv_id}: missing title or published date; skipped")
    authors = tuple(
        (
            normalise_space(author.findtext(f"{ATOM}name") or ""),
            "; ".join(normalise_space(a.text or "") for a in author.findall(f"{ARXIV}affiliation")),
        )
        for author in entry.findall(f"{ATOM}author")
        if (author.findtext(f"{ATOM}name") or "").strip()
    )
    primary = entry.find(f"{ARXIV}primary_category")
    categories = tuple(
        dict.fromkeys(c.get("term", "") for c in entry.findall(f"{ATOM}category") if c.get("term"))
    )
    pdf = next(
        (link.get("href", "") for link in entry.findall(f"{ATOM}link") if link.get("title") == "pdf"), ""
    )
    slug = arxiv_id_to_slug(arxiv_id)
    links = [("pdf", pdf.replace("http://", "https://", 1))] if pdf else []
    if slug != arxiv_id:
        links.insert(0, ("abs", f"https://arxiv.org/abs/{arxiv_id}"))
    version = match.group("version")
    updated = _date(entry.findtext(f"{ATOM}updated"))
    return Record(
        id=slug,
        title=title,
        abstract=normalise_paragraphs(entry.findtext(f"{ATOM}summary") or ""),
        position=position,
        authors=authors,
        published=published,
        updated=updated if updated != published else None,
        version=int(version) if version else None,
        categories=categories,
        primary_category=primary.get("term", "") if primary is not None else "",
        comment=normalise_space(entry.findtext(f"{ARXIV}comment") or ""),
        journal_ref=normalise_space(entry.findtext(f"{ARXIV}journal_ref") or ""),
        doi=normalise_space(entry.findtext(f"{ARXIV}doi") or ""),
        links=tuple(links),
    )


def read(text: str, reference: dt.date) -> Iterator[Record | ImportProblem]:
    root = parse_feed(text)
    if root.tag != f"{ATOM}feed":
        raise SourceError("not an arXiv API response: the root element is not an Atom <feed>")
    for number, entry in enumerate(root.findall(f"{ATOM}entry"), start=1):
        yield read_entry(entry, f"entry {number}")
