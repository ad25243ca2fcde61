"""The ``Site`` → planned pages: each page is a URL, a template and the context it is rendered with.

Generated pages (topics, date archives, pagination, sitemap) are planned exactly like paper pages,
by pure functions of the ``Site``; nothing is rendered or written here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import urls
from .citations import bibtex
from .content import Paper
from .feeds import FeedLink, feed_links
from .site import TRENDING_WINDOWS, Site, trending
from .views import PaperView, author_refs, paper_views, scholarly_article, topic_refs

T = TypeVar("T")

SITEMAP_LIMIT = 50_000
"""URLs per sitemap file, the protocol's maximum; past it ``sitemap.xml`` becomes an index."""
RECENT_DAYS = 7
"""Earlier listing days linked from the home page."""
AUTHORS_PER_PAGE = 300
"""Names per page of the author index: a long list of short lines."""


@dataclass(frozen=True, slots=True)
class Page:
    """One output file to render."""

    url: str
    """Site-relative URL, e.g. ``topics/vision/page/2/``."""
    template: str
    """Template name, looked up in the site's templates, then the theme's."""
    context: Mapping[str, Any]
    """What the template sees besides the site-wide globals."""
    source: str
    """What this page comes from, for messages when two pages claim one path."""
    title: str = ""
    """The page's own title (the site title is added by the template)."""
    description: str = ""
    """Meta description; the site's description when empty."""
    in_sitemap: bool = True
    lastmod: dt.date | None = None
    feeds: tuple[FeedLink, ...] = ()
    """Feeds of this page's own, advertised beside the site's (a topic page's feeds)."""


@dataclass(frozen=True, slots=True)
class Pager:
    """Where one page of a paginated list sits among its siblings."""

    number: int
    count: int
    urls: tuple[str, ...] = field(repr=False)

    @property
    def prev_url(self) -> str | None:
        return self.urls[self.number - 2] if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.urls[self.number] if self.number < self.count else None

    def window(self, around: int = 2) -> list[tuple[int, str] | None]:
        """Page links to show: first, last and ``around`` either side of this one; None is a gap."""
        shown = sorted(
            {1, self.count, *range(max(1, self.number - around), min(self.count, self.number + around) + 1)}
        )
        items: list[tuple[int, str] | None] = []
        previous = 0
        for number in shown:
            if number - previous > 1:
                items.append(None)
            items.append((number, self.urls[number - 1]))
            previous = number
        return items


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Links to the nearest earlier and later period that has papers."""

    prev_url: str | None
    prev_label: str
    next_url: str | None
    next_label: str


def paginate(items: Sequence[T], per_page: int, url_of_page: Any) -> Iterator[tuple[Pager, Sequence[T]]]:
    count = max(1, -(-len(items) // per_page))
    page_urls = tuple(url_of_page(number) for number in range(1, count + 1))
    for number in range(1, count + 1):
        yield Pager(number, count, page_urls), items[(number - 1) * per_page : number * per_page]


def neighbours(keys: Sequence[Any], index: int, url: Any, label: Any) -> Neighbours:
    """``keys`` newest first, so the previous (older) period is the next key in the list."""
    older = keys[index + 1] if index + 1 < len(keys) else None
    newer = keys[index - 1] if index > 0 else None
    return Neighbours(
        prev_url=url(older) if older is not None else None,
        prev_label=label(older) if older is not None else "",
        next_url=url(newer) if newer is not None else None,
        next_label=label(newer) if newer is not None else "",
    )


MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(date: dt.date) -> str:
    """``11 March 2024``, independent of the machine's locale."""
    return f"{date.day} {MONTH_NAMES[date.month - 1]} {date.year}"


def month_label(key: tuple[int, int]) -> str:
    return f"{MONTH_NAMES[key[1] - 1]} {key[0]}"


def plan_pages(site: Site) -> list[Page]:
    """Every HTML page of the site, in a stable order."""
    views = paper_views(site)
    pages = [*plan_home(site, views)]
    pages += plan_paper_pages(site, views)
    pages += plan_topic_pages(site, views)
    pages += plan_date_pages(site, views)
    pages += plan_author_pages(site, views)
    pages.append(plan_trending(site, views))
    pages.append(Page(urls.SEARCH, "search.html", {}, "the search page", title="Search", in_sitemap=False))
    pages.append(
        Page(urls.NOT_FOUND, "404.html", {}, "the 404 page", title="Page not found", in_sitemap=False)
    )
    return pages


def plan_home(site: Site, views: Mapping[str, PaperView]) -> Iterator[Page]:
    days = list(site.days)
    latest = days[0] if days else None
    papers = [views[p.id] for p in site.days[latest]] if latest else []
    recent = [(day, len(site.days[day]), urls.day(day)) for day in days[1 : RECENT_DAYS + 1]]
    yield Page(
        urls.HOME,
        "home.html",
        {
            "day": latest,
            "day_url": urls.day(latest) if latest else None,
            "papers": papers[: site.config.per_page],
            "total": len(papers),
            "recent_days": recent,
            "months": [(month_label(key), len(site.months[key]), urls.month(*key)) for key in site.months],
        },
        "the home page",
        description=site.config.description,
    )


@dataclass(frozen=True, slots=True)
class PaperContext(Mapping[str, Any]):
    """What a paper's page sees: ``paper``, ``day_url``, ``related``, and its ``scholarly_article``
    (JSON-LD) and ``bibtex``, which are made when the page renders. Made at planning, they were
    kept for every paper until the build ended: about 240 MB at 100,000 papers. Both come from the
    view alone, so that the page's cache key hashes no more than the view (``pagecache``)."""

    paper: PaperView
    day_url: str
    related: list[PaperView]
    base_url: str

    def __getitem__(self, key: str) -> Any:
        if key == "scholarly_article":
            return scholarly_article(self.paper, self.base_url)
        if key == "bibtex":
            return bibtex(self.paper, self.base_url)
        if key in _PAPER_CONTEXT_FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_PAPER_CONTEXT_KEYS)

    def __len__(self) -> int:
        return len(_PAPER_CONTEXT_KEYS)


_PAPER_CONTEXT_FIELDS = ("paper", "day_url", "related")
_PAPER_CONTEXT_KEYS = (*_PAPER_CONTEXT_FIELDS, "scholarly_article", "bibtex")


def plan_paper_pages(site: Site, views: Mapping[str, PaperView]) -> Iterator[Page]:
    for paper in site.papers:
        view = views[paper.id]
        yield Page(
            view.url,
            "paper.html",
            PaperContext(
                paper=view,
                day_url=urls.day(paper.date),
                related=[views[other.id] for other in site.related.get(paper.id, ())],
                base_url=site.config.base_url,
            ),
            f"{paper.source}",
            title=paper.title,
            description=view.summary,
            lastmod=paper.updated or paper.date,
        )


def with_related_papers(pages: Sequence[Page], related: Mapping[str, tuple[Paper, ...]]) -> list[Page]:
    """``pages`` with their papers' pages given each paper's ``related`` papers: planned before
    those were known (``build`` finds them while the other pages are planned and rendered)."""
    views = {
        page.context.paper.id: page.context.paper for page in pages if isinstance(page.context, PaperContext)
    }
    return [
        dataclasses.replace(
            page,
            context=dataclasses.replace(
                page.context, related=[views[other.id] for other in related[page.context.paper.id]]
            ),
        )
        if isinstance(page.context, PaperContext)
        else page
        for page in pages
    ]


def plan_topic_pages(site: Site, views: Mapping[str, PaperView]) -> Iterator[Page]:
    refs = topic_refs(site)
    yield Page(
        urls.TOPICS,
        "topics.html",
        {"topics": list(refs.values())},
        "the topic index",
        title="Topics",
    )
    for topic in site.topics:
        ref = refs[topic.slug]
        items = [views[p.id] for p in topic.papers]
        topic_feeds = feed_links(topic.name, urls.topic(topic.slug), site.config.base_path)
        for pager, chunk in paginate(items, site.config.per_page, lambda n, s=topic.slug: urls.topic(s, n)):
            suffix = f" (page {pager.number})" if pager.number > 1 else ""
            yield Page(
                pager.urls[pager.number - 1],
                "topic.html",
                {"topic": ref, "papers": chunk, "pager": pager, "total": len(items)},
                f"topic {topic.slug!r}",
                title=f"{topic.name}{suffix}",
                description=topic.description or f"Papers on {topic.name}.",
                feeds=topic_feeds,
            )


def plan_author_pages(site: Site, views: Mapping[str, PaperView]) -> Iterator[Page]:
    refs = author_refs(site)
    for pager, chunk in paginate(refs, AUTHORS_PER_PAGE, urls.authors_index):
        yield Page(
            pager.urls[pager.number - 1],
            "authors.html",
            {"authors": chunk, "pager": pager, "total": len(refs)},
            "the author index",
            title="Authors" + (f" (page {pager.number})" if pager.number > 1 else ""),
        )
    for ref, entry in zip(refs, site.authors, strict=True):
        items = [views[paper.id] for paper in entry.papers]
        for pager, papers in paginate(items, site.config.per_page, lambda n, s=entry.slug: urls.author(s, n)):
            yield Page(
                pager.urls[pager.number - 1],
                "author.html",
                {"author": ref, "papers": papers, "pager": pager, "total": len(items)},
                f"the page of author {entry.name!r}",
                title=entry.name + (f" (page {pager.number})" if pager.number > 1 else ""),
                description=f"Papers by {entry.name} on {site.config.title}.",
            )


def plan_trending(site: Site, views: Mapping[str, PaperView]) -> Page:
    windows = []
    for days in TRENDING_WINDOWS:
        ranked = trending(site, days)
        windows.append(
            {
                "days": days,
                "papers": [views[paper.id] for paper in ranked[: site.config.per_page]],
                "total": len(ranked),
            }
        )
    return Page(
        urls.TRENDING,
        "trending.html",
        {"windows": windows, "newest": site.newest_day},
        "the trending page",
        title="Trending",
        description=f"The most upvoted papers of the last {' and '.join(map(str, TRENDING_WINDOWS))} days.",
    )


def plan_date_pages(site: Site, views: Mapping[str, PaperView]) -> Iterator[Page]:
    years = list(site.years)
    yield Page(
        urls.ARCHIVE,
        "archive.html",
        {
            "years": [
                (
                    year,
                    urls.year(year),
                    len(site.years[year]),
                    [
                        (month_label(key), len(papers), urls.month(*key))
                        for key, papers in site.months.items()
                        if key[0] == year
                    ],
                )
                for year in years
            ]
        },
        "the archive index",
        title="Archive",
    )
    for index, year in enumerate(years):
        months = [(key, len(site.months[key]), urls.month(*key)) for key in site.months if key[0] == year]
        yield Page(
            urls.year(year),
            "year.html",
            {
                "year": year,
                "months": [(month_label(key), count, url) for key, count, url in months],
                "total": len(site.years[year]),
                "nav": neighbours(years, index, urls.year, str),
            },
            f"the archive of {year}",
            title=str(year),
        )

    month_keys = list(site.months)
    for index, key in enumerate(month_keys):
        days = [
            (day, len(site.days[day]), urls.day(day)) for day in site.days if (day.year, day.month) == key
        ]
        items = [views[p.id] for p in site.months[key]]
        nav = neighbours(month_keys, index, lambda k: urls.month(*k), month_label)
        for pager, chunk in paginate(items, site.config.per_page, lambda n, k=key: urls.month(k[0], k[1], n)):
            yield Page(
                pager.urls[pager.number - 1],
                "month.html",
                {
                    "year": key[0],
                    "year_url": urls.year(key[0]),
                    "label": month_label(key),
                    "days": days,
                    "papers": chunk,
                    "pager": pager,
                    "total": len(items),
                    "nav": nav,
                },
                f"the archive of {month_label(key)}",
                title=month_label(key) + (f" (page {pager.number})" if pager.number > 1 else ""),
            )

    day_keys = list(site.days)
    for index, day in enumerate(day_keys):
        items = [views[p.id] for p in site.days[day]]
        nav = neighbours(day_keys, index, urls.day, long_date)
        for pager, chunk in paginate(items, site.config.per_page, lambda n, d=day: urls.day(d, n)):
            yield Page(
                pager.urls[pager.number - 1],
                "day.html",
                {
                    "day": day,
                    "month_url": urls.month(day.year, day.month),
                    "month_label": month_label((day.year, day.month)),
                    "papers": chunk,
                    "pager": pager,
                    "total": len(items),
                    "nav": nav,
                },
                f"the archive of {day.isoformat()}",
                title=long_date(day) + (f" (page {pager.number})" if pager.number > 1 else ""),
            )


def plan_sitemaps(pages: Sequence[Page]) -> list[Page]:
    """``sitemap.xml`` of every listed page, split into an index of files past 50,000 URLs."""
    listed = [(page.url, page.lastmod) for page in pages if page.in_sitemap]
    chunks = [listed[start : start + SITEMAP_LIMIT] for start in range(0, len(listed), SITEMAP_LIMIT)] or [[]]
    if len(chunks) == 1:
        return [Page("sitemap.xml", "sitemap.xml", {"entries": chunks[0]}, "the sitemap", in_sitemap=False)]
    parts = [
        Page(f"sitemap-{number}.xml", "sitemap.xml", {"entries": chunk}, "the sitemap", in_sitemap=False)
        for number, chunk in enumerate(chunks, start=1)
    ]
    index = Page(
        "sitemap.xml",
        "sitemap-index.xml",
        {"sitemaps": [part.url for part in parts]},
        "the sitemap",
        in_sitemap=False,
    )
    return [index, *parts]


def plan_robots() -> Page:
    return Page("robots.txt", "robots.txt", {}, "robots.txt", in_sitemap=False)
