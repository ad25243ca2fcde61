"""The ``Site`` → ``/data/``: every paper's fields as JSON, for anyone who wants the data rather
than the pages — an index of every paper and one file per month, described by a JSON Schema
(``data.schema.json``, shipped at ``/data/schema.json`` and documented in ``docs/data.md``).

URLs are absolute, because the files are meant to be read away from the site.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from . import urls
from .authors import author_key
from .content import Paper
from .site import Site
from .views import script_safe_json
from .writer import Output

if TYPE_CHECKING:
    from .pagecache import PageCache

SCHEMA_PATH = urls.DATA + "schema.json"
INDEX_PATH = urls.DATA + "index.json"
SCHEMA_FILE = "data.schema.json"


def month_path(year: int, month: int) -> str:
    return f"{urls.DATA}{year:04d}-{month:02d}.json"


def data_paths(site: Site) -> list[str]:
    return [SCHEMA_PATH, INDEX_PATH, *(month_path(*key) for key in site.months)]


def schema_text() -> str:
    return resources.files("sitegen").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def paper_record(paper: Paper, site: Site) -> dict[str, Any]:
    """Every field of a paper; absent values are ``null`` so every record has the same keys."""
    base = site.config.base_url
    slugs = site.author_slugs
    return {
        "id": paper.id,
        "url": base + urls.paper(paper.id),
        "title": paper.title,
        "authors": [
            {
                "name": author.name,
                "affiliation": author.affiliation or None,
                "url": base + urls.author(slugs[author_key(author.name)]),
            }
            for author in paper.authors
        ],
        "date": paper.date.isoformat(),
        "topics": list(paper.topics),
        "abstract": paper.abstract,
        "abstract_text": paper.abstract_text,
        "tldr": paper.tldr or None,
        "links": dict(paper.links),
        "arxiv_id": paper.id if paper.is_arxiv else None,
        "published": paper.published.isoformat() if paper.published else None,
        "updated": paper.updated.isoformat() if paper.updated else None,
        "version": paper.version,
        "categories": list(paper.categories),
        "primary_category": paper.primary_category or None,
        "comment": paper.comment or None,
        "journal_ref": paper.journal_ref or None,
        "doi": paper.doi or None,
        "license": paper.license or None,
        "upvotes": paper.upvotes,
        "stars": paper.stars,
        "citation": base + urls.paper(paper.id) + "cite.bib",
    }


def index_document(site: Site) -> dict[str, Any]:
    base = site.config.base_url
    return {
        "$schema": base + SCHEMA_PATH,
        "kind": "index",
        "title": site.config.title,
        "description": site.config.description,
        "base_url": base,
        "newest": site.newest_day.isoformat() if site.newest_day else None,
        "count": len(site.papers),
        "months": [
            {"month": f"{year:04d}-{month:02d}", "url": base + month_path(year, month), "count": len(papers)}
            for (year, month), papers in site.months.items()
        ],
        "topics": [
            {
                "slug": topic.slug,
                "name": topic.name,
                "url": base + urls.topic(topic.slug),
                "count": len(topic.papers),
            }
            for topic in site.topics
        ],
        "papers": [
            {
                "id": paper.id,
                "title": paper.title,
                "date": paper.date.isoformat(),
                "url": base + urls.paper(paper.id),
                "data": base + month_path(paper.date.year, paper.date.month),
            }
            for paper in site.papers
        ],
    }


def month_document(site: Site, year: int, month: int) -> dict[str, Any]:
    return {
        "$schema": site.config.base_url + SCHEMA_PATH,
        "kind": "month",
        "month": f"{year:04d}-{month:02d}",
        "count": len(site.months[(year, month)]),
        "papers": [paper_record(paper, site) for paper in site.months[(year, month)]],
    }


def render_data(site: Site, cache: PageCache | None = None) -> Iterator[Output]:
    """The data files; with ``cache``, a document whose values are those it had in the last
    build is taken from the last output rather than encoded again (a rebuild after one paper
    was added encodes one month's file and the index)."""
    yield Output(SCHEMA_PATH, schema_text().encode("utf-8"), "the data schema")
    yield _document_output(INDEX_PATH, index_document(site), "the data index", cache)
    for year, month in site.months:
        yield _document_output(
            month_path(year, month),
            month_document(site, year, month),
            f"the data of {year}-{month:02d}",
            cache,
        )


def _document_output(path: str, document: dict[str, Any], source: str, cache: PageCache | None) -> Output:
    if cache is None:
        return Output(path, _json_bytes(document), source)
    return cache.made(path, document, source, lambda: _json_bytes(document))


def _json_bytes(document: dict[str, Any]) -> bytes:
    # Escaped like every JSON file of the site, so that no user text can become markup in a page
    # that embeds it.
    return (script_safe_json(document, separators=(",", ":")) + "\n").encode("utf-8")
