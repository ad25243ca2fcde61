"""``Paper`` records → the ``Site``: the indexes every page is planned from (topics, days, months,
years, authors, related papers).

Pure functions of the papers and the config; nothing here reads files or renders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from .authors import AuthorEntry, index_authors
from .config import SiteConfig
from .content import Paper
from .related import related_papers

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic and the papers filed under it."""

    slug: str
    """URL-safe key used in front matter: ``protein-design``."""
    name: str
    """Display name, from ``sitegen.yaml`` or derived from the slug."""
    description: str
    """Optional text from ``sitegen.yaml``."""
    papers: tuple[Paper, ...]
    """Newest first, in listing order within a day."""


@dataclass(frozen=True, slots=True)
class Site:
    """Everything the page planner needs, indexed once."""

    config: SiteConfig
    papers: tuple[Paper, ...]
    """Every published paper, newest day first, each day in listing order."""
    topics: tuple[Topic, ...]
    """Topics that have papers, sorted by display name."""
    days: Mapping[dt.date, tuple[Paper, ...]]
    """Listing day → its papers in listing order; newest day first."""
    months: Mapping[tuple[int, int], tuple[Paper, ...]]
    """(year, month) → papers; newest month first."""
    years: Mapping[int, tuple[Paper, ...]]
    """Year → papers; newest year first."""
    authors: tuple[AuthorEntry, ...]
    """Every author, alphabetical."""
    author_slugs: Mapping[str, str]
    """Author key (``authors.author_key`` of a name) → the slug of their page."""
    related: Mapping[str, tuple[Paper, ...]]
    """Paper id → the papers most like it, most related first."""

    @property
    def newest_day(self) -> dt.date | None:
        """The newest listing day, the one the home page shows; None for a site without papers."""
        return next(iter(self.days), None)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which papers a build publishes, and how many it left out and why."""

    papers: tuple[Paper, ...]
    drafts_skipped: int
    future_skipped: int
    future_included: int


def select_papers(
    papers: Iterable[Paper], *, include_drafts: bool, include_future: bool, today: dt.date
) -> Selection:
    """Drop drafts unless asked for; keep future-dated papers unless ``include_future`` is off."""
    chosen: list[Paper] = []
    drafts = future_skipped = future_included = 0
    for paper in papers:
        if paper.draft and not include_drafts:
            drafts += 1
            continue
        if paper.date > today:
            if not include_future:
                future_skipped += 1
                continue
            future_included += 1
        chosen.append(paper)
    return Selection(tuple(chosen), drafts, future_skipped, future_included)


def listing_order(paper: Paper) -> tuple[int, str, str]:
    """Within a day: most upvoted first (papers without votes after), then by title."""
    votes = paper.upvotes if paper.upvotes is not None else -1
    return (-votes, paper.title.casefold(), paper.id)


def humanize_slug(slug: str) -> str:
    words = slug.replace("-", " ").strip()
    return words[:1].upper() + words[1:]


RelatedFinder = Callable[[Sequence[Paper]], Mapping[str, tuple[Paper, ...]]]


def index_site(
    config: SiteConfig, papers: Iterable[Paper], find_related: RelatedFinder | None = related_papers
) -> Site:
    """Group papers by day, month, year and topic, in the orders pages show them; ``find_related``
    is ``related_papers`` or one that remembers its results (``RememberedRelated``). With None, the
    site has no related papers yet (``build.RelatedPapers`` adds them)."""
    ordered = sorted(papers, key=listing_order)
    ordered.sort(key=lambda paper: paper.date, reverse=True)  # stable: keeps listing order per day

    days: dict[dt.date, list[Paper]] = {}
    months: dict[tuple[int, int], list[Paper]] = {}
    years: dict[int, list[Paper]] = {}
    by_topic: dict[str, list[Paper]] = {}
    for paper in ordered:
        days.setdefault(paper.date, []).append(paper)
        months.setdefault((paper.date.year, paper.date.month), []).append(paper)
        years.setdefault(paper.date.year, []).append(paper)
        for slug in paper.topics:
            by_topic.setdefault(slug, []).append(paper)

    topics = []
    for slug, topic_papers in by_topic.items():
        info = config.topics.get(slug)
        topics.append(
            Topic(
                slug=slug,
                name=info.name if info else humanize_slug(slug),
                description=info.description if info else "",
                papers=tuple(topic_papers),
            )
        )
    topics.sort(key=lambda topic: (topic.name.casefold(), topic.slug))
    authors, author_slugs = index_authors(ordered)
    return Site(
        config=config,
        papers=tuple(ordered),
        topics=tuple(topics),
        days=_frozen(days),
        months=_frozen(months),
        years=_frozen(years),
        authors=authors,
        author_slugs=author_slugs,
        related=find_related(ordered) if find_related is not None else MappingProxyType({}),
    )


def _frozen(groups: dict[K, list[V]]) -> Mapping[K, tuple[V, ...]]:
    return MappingProxyType({key: tuple(values) for key, values in groups.items()})


TRENDING_WINDOWS = (7, 30)
"""Days, counted back from the newest listing day, that ``/trending/`` ranks."""


def trending_order(paper: Paper) -> tuple[int, int, int, str, str]:
    """Most upvoted first, then most starred (papers without a count after those with one), then newest."""
    votes = paper.upvotes if paper.upvotes is not None else -1
    stars = paper.stars if paper.stars is not None else -1
    return (-votes, -stars, -paper.date.toordinal(), paper.title.casefold(), paper.id)


def trending(site: Site, days: int) -> tuple[Paper, ...]:
    """The papers of the last ``days`` listing days up to the newest one, so that a build of the
    same files gives the same page whatever day it runs."""
    if site.newest_day is None:
        return ()
    since = site.newest_day - dt.timedelta(days=days - 1)
    recent = [paper for day, papers in site.days.items() if day >= since for paper in papers]
    return tuple(sorted(recent, key=trending_order))
