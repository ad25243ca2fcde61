"""Read-only views that templates see: what a page shows, never the model it came from.

Views carry ready-made URLs and display names, so templates need no knowledge of the URL scheme
or the config, and cannot change a ``Paper`` or the ``Site``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from markupsafe import Markup

from . import urls
from .authors import author_key

if TYPE_CHECKING:
    from .content import Author, Paper
    from .site import Site

LINK_LABELS = {
    "abs": "arXiv",
    "pdf": "PDF",
    "code": "Code",
    "project": "Project page",
    "dataset": "Dataset",
    "model": "Model",
}


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A topic as templates see it, on its own page, in the index and beside each paper."""

    slug: str
    name: str
    url: str
    description: str
    count: int


@dataclass(frozen=True, slots=True)
class TopicLink:
    """A topic beside a paper: no count, so that a paper's view (and every page showing it) stays
    the same when another paper joins one of its topics."""

    slug: str
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class AuthorView:
    """An author as templates see it, beside each paper."""

    name: str
    affiliation: str
    url: str
    """The author's page; empty where a page has no author pages to link (an e-mail)."""


@dataclass(frozen=True, slots=True)
class AuthorRef:
    """An author in the index and on their own page."""

    name: str
    url: str
    count: int
    affiliations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkView:
    kind: str
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class PaperView:
    """A paper as templates see it."""

    id: str
    url: str
    title: str
    authors: tuple[AuthorView, ...]
    date: dt.date
    topics: tuple[TopicLink, ...]
    abstract_html: Markup
    abstract_text: str
    summary: str
    """``tldr`` when given, else the abstract's start: for descriptions and cards."""
    preview: str
    """The abstract's first sentences, shown on cards before "more"."""
    links: tuple[LinkView, ...]
    tldr: str
    upvotes: int | None
    stars: int | None
    published: dt.date | None
    updated: dt.date | None
    version: int | None
    categories: tuple[str, ...]
    primary_category: str
    comment: str
    journal_ref: str
    doi: str
    license: str
    arxiv_id: str
    """The arXiv id when the paper's id is one, else an empty string."""

    def link(self, kind: str) -> str:
        return next((link.url for link in self.links if link.kind == kind), "")

    @property
    def is_arxiv(self) -> bool:
        return bool(self.arxiv_id)


def script_safe_json(data: object, **options: object) -> str:
    """JSON with ``<``, ``>`` and ``&`` escaped, so that it can sit inside a ``<script>`` element or
    be pasted into a page by a feed reader without any user text turning into markup."""
    text = json.dumps(data, ensure_ascii=False, **options)  # type: ignore[arg-type]
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def shorten(text: str, limit: int = 280) -> str:
    """Cut at a word boundary so a description stays readable."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def paper_views(site: Site) -> dict[str, PaperView]:
    links = topic_links(site)
    authors = AuthorViews(site.author_slugs)
    return {paper.id: paper_view(paper, links, authors) for paper in site.papers}


def topic_refs(site: Site) -> dict[str, TopicRef]:
    return {
        topic.slug: TopicRef(
            topic.slug, topic.name, urls.topic(topic.slug), topic.description, len(topic.papers)
        )
        for topic in site.topics
    }


def topic_links(site: Site) -> dict[str, TopicLink]:
    return {topic.slug: TopicLink(topic.slug, topic.name, urls.topic(topic.slug)) for topic in site.topics}


def author_refs(site: Site) -> list[AuthorRef]:
    return [
        AuthorRef(entry.name, urls.author(entry.slug), len(entry.papers), entry.affiliations)
        for entry in site.authors
    ]


class AuthorViews(dict[tuple[str, str], AuthorView]):
    """Authors' views by name and affiliation, each made the first time it is asked for and then
    shared by every paper the author is on (at 10,000 papers of the benchmark, 45,000 names of
    5,000 authors). Authors without a slug in ``author_slugs`` get no page link."""

    def __init__(self, author_slugs: Mapping[str, str] = MappingProxyType({})) -> None:
        super().__init__()
        self._author_slugs = author_slugs

    def of(self, authors: Iterable[Author]) -> tuple[AuthorView, ...]:
        return tuple([self[author.name, author.affiliation] for author in authors])

    def __missing__(self, name_and_affiliation: tuple[str, str]) -> AuthorView:
        name, affiliation = name_and_affiliation
        slug = self._author_slugs.get(author_key(name))
        view = self[name_and_affiliation] = AuthorView(name, affiliation, urls.author(slug) if slug else "")
        return view


def paper_view(
    paper: Paper, topic_links: dict[str, TopicLink], authors: AuthorViews | None = None
) -> PaperView:
    return PaperView(
        id=paper.id,
        url=urls.paper(paper.id),
        title=paper.title,
        authors=(authors if authors is not None else AuthorViews()).of(paper.authors),
        date=paper.date,
        topics=tuple(topic_links[slug] for slug in paper.topics),
        # The abstract was rendered by markup.AbstractRenderer, which escapes all user text.
        abstract_html=paper.abstract_html
        if type(paper.abstract_html) is Markup
        else Markup(paper.abstract_html),
        abstract_text=paper.abstract_text,
        summary=paper.tldr or shorten(paper.abstract_words),
        preview=shorten(paper.abstract_words, 220),
        links=tuple(LinkView(kind, LINK_LABELS.get(kind, kind), url) for kind, url in paper.links),
        tldr=paper.tldr,
        upvotes=paper.upvotes,
        stars=paper.stars,
        published=paper.published,
        updated=paper.updated,
        version=paper.version,
        categories=paper.categories,
        primary_category=paper.primary_category,
        comment=paper.comment,
        journal_ref=paper.journal_ref,
        doi=paper.doi,
        license=paper.license,
        arxiv_id=paper.id if paper.is_arxiv else "",
    )


def scholarly_article(paper: PaperView, base_url: str) -> dict[str, object]:
    """schema.org ``ScholarlyArticle`` for the paper page's JSON-LD."""
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "headline": paper.title,
        "name": paper.title,
        "url": base_url + paper.url,
        "author": [
            {"@type": "Person", "name": author.name}
            | ({"url": base_url + author.url} if author.url else {})
            | (
                {"affiliation": {"@type": "Organization", "name": author.affiliation}}
                if author.affiliation
                else {}
            )
            for author in paper.authors
        ],
        "datePublished": (paper.published or paper.date).isoformat(),
        "abstract": paper.abstract_text,
    }
    if paper.updated:
        data["dateModified"] = paper.updated.isoformat()
    if paper.topics:
        data["keywords"] = [topic.name for topic in paper.topics]
    if paper.arxiv_id:
        data["identifier"] = f"arXiv:{paper.arxiv_id}"
        data["sameAs"] = paper.link("abs")
    if paper.doi:
        data["sameAs"] = f"https://doi.org/{paper.doi}"
    return data
