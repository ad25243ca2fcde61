"""Feeds: the ``Site`` → one ``Feed`` per audience (the whole site, each topic) → RSS 2.0, Atom 1.0,
JSON Feed 1.1, and an OPML list of them all.

Planning (which items, which ids, which dates) happens once in ``plan_feeds``; the three formats
are thin serialisers of the same ``Feed``. Nothing here depends on the time of the build: a feed's
date is its newest item's, so an unchanged site gives byte-identical feeds.

Every item carries the abstract twice: as HTML with MathML (``content:encoded``, Atom ``content``,
``content_html``) and as plain text with math kept as ``$LaTeX$`` (RSS ``description``, Atom
``summary``, ``content_text``), for readers that cannot show MathML.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from markupsafe import escape

from . import urls
from .content import Paper
from .site import Site
from .views import LINK_LABELS, script_safe_json
from .writer import Output

if TYPE_CHECKING:
    from .pagecache import PageCache

FORMATS = {
    "rss": ("feed.xml", "application/rss+xml", "RSS"),
    "atom": ("feed.atom", "application/atom+xml", "Atom"),
    "json": ("feed.json", "application/feed+json", "JSON Feed"),
}
OPML = "feeds.opml"
GENERATOR = "sitegen"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""The date of an empty feed, so that it too is the same on every build."""

ET.register_namespace("atom", "http://www.w3.org/2005/Atom")
ET.register_namespace("content", "http://purl.org/rss/1.0/modules/content/")
ET.register_namespace("dc", "http://purl.org/dc/elements/1.1/")
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"


@dataclass(frozen=True, slots=True)
class FeedItem:
    id: str
    """Stable across builds: a ``tag:`` URI from the site's host, the listing date and the paper id."""
    title: str
    url: str
    published: dt.datetime
    """The listing date, at midnight in the site's time zone."""
    updated: dt.datetime
    authors: tuple[str, ...]
    categories: tuple[tuple[str, str], ...]
    """``(slug, display name)`` of each topic."""
    content_html: str
    content_text: str
    external_url: str
    """The paper itself (arXiv abstract page) when known."""


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed, whatever its format."""

    folder: str
    """Site-relative folder the feed files live in: ``""`` or ``topics/vision/``."""
    title: str
    description: str
    page_url: str
    """Absolute URL of the HTML page the feed mirrors."""
    base_url: str
    language: str
    updated: dt.datetime
    items: tuple[FeedItem, ...]

    def url(self, kind: str) -> str:
        return self.base_url + self.folder + FORMATS[kind][0]


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A ``<link rel="alternate">`` for autodiscovery."""

    type: str
    title: str
    href: str


def feed_links(title: str, folder: str, base_path: str) -> tuple[FeedLink, ...]:
    return tuple(
        FeedLink(media_type, f"{title} ({label})", base_path + folder + name)
        for name, media_type, label in FORMATS.values()
    )


def item_id(host: str, paper: Paper) -> str:
    """RFC 4151 tag URI: independent of scheme, sub-path and page layout, so moving the site
    from http to https or to another folder does not make readers see every paper again."""
    return f"tag:{host},{paper.date.isoformat()}:papers/{paper.id}"


def plan_feeds(site: Site, size: int) -> list[Feed]:
    """The site feed, then one per topic, each with its newest ``size`` papers."""
    config = site.config
    zone = config.zone
    host = urlsplit(config.base_url).hostname or "localhost"
    topic_names = {topic.slug: topic.name for topic in site.topics}
    items: dict[str, FeedItem] = {}

    def item(paper: Paper) -> FeedItem:
        if paper.id not in items:
            items[paper.id] = feed_item(paper, config.base_url, host, zone, topic_names)
        return items[paper.id]

    feeds = [
        _feed(
            "",
            config.title,
            config.description or f"New papers on {config.title}.",
            site,
            site.papers,
            size,
            item,
        )
    ]
    for topic in site.topics:
        feeds.append(
            _feed(
                urls.topic(topic.slug),
                f"{topic.name} · {config.title}",
                topic.description or f"New papers on {topic.name}.",
                site,
                topic.papers,
                size,
                item,
            )
        )
    return feeds


def _feed(
    folder: str,
    title: str,
    description: str,
    site: Site,
    papers: Sequence[Paper],
    size: int,
    item: Callable[[Paper], FeedItem],
) -> Feed:
    chosen = tuple(item(paper) for paper in papers[:size])
    return Feed(
        folder=folder,
        title=title,
        description=description,
        page_url=site.config.base_url + folder,
        base_url=site.config.base_url,
        language=site.config.language,
        updated=max((entry.updated for entry in chosen), default=EPOCH),
        items=chosen,
    )


def _midnight(date: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, tzinfo=zone)


def feed_item(
    paper: Paper, base_url: str, host: str, zone: ZoneInfo, topic_names: dict[str, str]
) -> FeedItem:
    links = " · ".join(
        f'<a href="{escape(url)}">{escape(LINK_LABELS.get(kind, kind))}</a>' for kind, url in paper.links
    )
    # Joined as plain text: ``Markup + str`` would escape the links' tags.
    html = "".join((paper.abstract_html, f"<p>{links}</p>\n" if links else ""))
    published = _midnight(paper.date, zone)
    updated = max(published, _midnight(paper.updated, zone)) if paper.updated else published
    return FeedItem(
        id=item_id(host, paper),
        title=paper.title,
        url=base_url + urls.paper(paper.id),
        published=published,
        updated=updated,
        authors=tuple(author.name for author in paper.authors),
        categories=tuple((slug, topic_names.get(slug, slug)) for slug in paper.topics),
        content_html=html,
        content_text=paper.abstract_text,
        external_url=paper.link("abs") or "",
    )


# --- formats --------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def rss(feed: Feed) -> bytes:
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.page_url)
    _sub(channel, "description", feed.description)
    _sub(channel, "language", feed.language)
    _sub(channel, "generator", GENERATOR)
    if feed.items:
        _sub(channel, "lastBuildDate", email.utils.format_datetime(feed.updated))
    _sub(channel, f"{ATOM}link", href=feed.url("rss"), rel="self", type=FORMATS["rss"][1])
    for entry in feed.items:
        item = _sub(channel, "item")
        _sub(item, "title", entry.title)
        _sub(item, "link", entry.url)
        _sub(item, "guid", entry.id, isPermaLink="false")
        _sub(item, "pubDate", email.utils.format_datetime(entry.published))
        if entry.authors:
            _sub(item, f"{DC}creator", ", ".join(entry.authors))
        for slug, name in entry.categories:
            _sub(item, "category", name, domain=feed.base_url + urls.topic(slug))
        _sub(item, "description", entry.content_text)
        _sub(item, f"{CONTENT}encoded", entry.content_html)
    return _xml(root)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.isoformat()


def atom(feed: Feed) -> bytes:
    root = ET.Element(f"{ATOM}feed", {"xml:lang": feed.language})
    _sub(root, f"{ATOM}id", feed.url("atom"))
    _sub(root, f"{ATOM}title", feed.title)
    _sub(root, f"{ATOM}subtitle", feed.description)
    _sub(root, f"{ATOM}updated", _rfc3339(feed.updated))
    _sub(root, f"{ATOM}link", href=feed.url("atom"), rel="self", type=FORMATS["atom"][1])
    _sub(root, f"{ATOM}link", href=feed.page_url, rel="alternate", type="text/html")
    _sub(root, f"{ATOM}generator", GENERATOR)
    for entry in feed.items:
        element = _sub(root, f"{ATOM}entry")
        _sub(element, f"{ATOM}id", entry.id)
        _sub(element, f"{ATOM}title", entry.title)
        _sub(element, f"{ATOM}link", href=entry.url, rel="alternate", type="text/html")
        if entry.external_url:
            _sub(element, f"{ATOM}link", href=entry.external_url, rel="related", type="text/html")
        _sub(element, f"{ATOM}published", _rfc3339(entry.published))
        _sub(element, f"{ATOM}updated", _rfc3339(entry.updated))
        for name in entry.authors or ("Unknown",):
            _sub(_sub(element, f"{ATOM}author"), f"{ATOM}name", name)
        for slug, name in entry.categories:
            _sub(element, f"{ATOM}category", term=slug, label=name)
        _sub(element, f"{ATOM}summary", entry.content_text, type="text")
        _sub(element, f"{ATOM}content", entry.content_html, type="html")
    return _xml(root)


def json_feed(feed: Feed) -> bytes:
    items = []
    for entry in feed.items:
        item: dict[str, object] = {
            "id": entry.id,
            "url": entry.url,
            "title": entry.title,
            "content_html": entry.content_html,
            "content_text": entry.content_text,
            "date_published": _rfc3339(entry.published),
            "date_modified": _rfc3339(entry.updated),
            "authors": [{"name": name} for name in entry.authors],
            "tags": [name for _, name in entry.categories],
        }
        if entry.external_url:
            item["external_url"] = entry.external_url
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.page_url,
        "feed_url": feed.url("json"),
        "description": feed.description,
        "language": feed.language,
        "items": items,
    }
    return (script_safe_json(document, indent=1) + "\n").encode("utf-8")


def opml(feeds: Sequence[Feed], title: str) -> bytes:
    root = ET.Element("opml", {"version": "2.0"})
    head = _sub(root, "head")
    _sub(head, "title", f"{title}: all feeds")
    if feeds:
        _sub(head, "dateModified", email.utils.format_datetime(max(feed.updated for feed in feeds)))
    body = _sub(root, "body")
    for feed in feeds:
        attributes = {
            "type": "rss",
            "text": feed.title,
            "title": feed.title,
            "xmlUrl": feed.url("rss"),
            "htmlUrl": feed.page_url,
        }
        ET.SubElement(body, "outline", attributes)
    return _xml(root)


SERIALISERS = {"rss": rss, "atom": atom, "json": json_feed}


def feed_paths(feeds: Sequence[Feed]) -> Iterator[str]:
    for feed in feeds:
        for name, _, _ in FORMATS.values():
            yield feed.folder + name
    yield OPML


def render_feeds(feeds: Sequence[Feed], title: str, cache: PageCache | None = None) -> Iterator[Output]:
    """Each feed in each format; with ``cache``, a feed whose values are those it had in the last
    build is taken from the last output rather than written out again."""
    for feed in feeds:
        source = f"the feed of {feed.folder or 'the site'}"
        for kind, (name, _, _) in FORMATS.items():
            serialise = SERIALISERS[kind]
            if cache is None:
                yield Output(feed.folder + name, serialise(feed), source)
            else:
                yield cache.made(feed.folder + name, feed, source, functools.partial(serialise, feed))
    yield Output(OPML, opml(feeds, title), "the OPML of all feeds")
