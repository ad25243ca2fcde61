"""Feeds as feed readers see them: parsed with feedparser, JSON Feed checked field by field."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import pytest

from sitegen.build import BuildOptions, build

from .conftest import SiteFactory, paper_text
from .helpers import snapshot, soup

REPO = Path(__file__).resolve().parent.parent
BASE = "https://example.org/sub/"
TODAY = dt.date(2024, 6, 1)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("feeds") / "_site"
    build(REPO, BuildOptions(output=out, base_url=BASE))
    return out


def xml_feeds(out: Path) -> list[Path]:
    return sorted([*out.rglob("feed.xml"), *out.rglob("feed.atom")])


def test_every_feed_of_the_example_parses_cleanly(example: Path) -> None:
    feeds = xml_feeds(example)
    assert len(feeds) == 2 * 8  # the site and seven topics, RSS and Atom
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.version in ("rss20", "atom10")
        assert parsed.entries, path
        for entry in parsed.entries:
            assert entry.title
            assert entry.link.startswith(BASE + "papers/")
            assert (example / entry.link[len(BASE) :] / "index.html").is_file()
            assert entry.id.startswith("tag:example.org,2024-")
            assert entry.published_parsed is not None
            assert entry.tags, "every example paper has topics"


def test_site_feed_items_are_the_newest_papers_in_listing_order(example: Path) -> None:
    rss = feedparser.parse((example / "feed.xml").read_bytes())
    assert rss.feed.title == "Reading Group Digest"
    assert rss.feed.link == BASE
    assert len(rss.entries) == 44  # fewer papers than feed_size
    first = rss.entries[0]
    assert first.title.startswith("GraphCast")
    assert first.published == "Thu, 25 Apr 2024 00:00:00 +0100"  # midnight in Europe/London
    assert [tag.term for tag in first.tags] == ["AI for science", "Graph learning"]
    assert "<math" in first.content[0].value
    assert "$\\Delta t = 6$" in first.summary
    dates = [entry.published_parsed for entry in rss.entries]
    assert dates == sorted(dates, reverse=True)
    assert rss.feed.updated == first.published


def test_topic_feeds_hold_only_their_topic(example: Path) -> None:
    atom = feedparser.parse((example / "topics/vision/feed.atom").read_bytes())
    assert atom.feed.title == "Computer vision · Reading Group Digest"
    assert atom.entries
    for entry in atom.entries:
        assert "vision" in [tag.term for tag in entry.tags]
    assert atom.feed.links[0].href == BASE + "topics/vision/feed.atom"


def test_json_feeds_follow_json_feed_1_1(example: Path) -> None:
    paths = sorted(example.rglob("feed.json"))
    assert len(paths) == 8
    for path in paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(document["title"], str) and document["title"]
        assert document["feed_url"] == BASE + str(path.relative_to(example))
        assert document["home_page_url"].startswith(BASE)
        assert isinstance(document["items"], list) and document["items"]
        for item in document["items"]:
            assert isinstance(item["id"], str) and item["id"]
            assert isinstance(item["content_html"], str) and isinstance(item["content_text"], str)
            assert item["url"].startswith(BASE)
            dt.datetime.fromisoformat(item["date_published"])
            dt.datetime.fromisoformat(item["date_modified"])
            assert all(isinstance(a, dict) and isinstance(a["name"], str) for a in item["authors"])
            assert all(isinstance(tag, str) for tag in item["tags"])
            assert set(item) <= {
                "id", "url", "external_url", "title", "content_html", "content_text", "summary",
                "image", "banner_image", "date_published", "date_modified", "authors", "tags", "language",
            }  # fmt: skip


def test_opml_lists_every_topic_feed_under_the_sub_path(example: Path) -> None:
    root = ET.parse(example / "feeds.opml").getroot()
    outlines = root.findall("body/outline")
    urls = [outline.get("xmlUrl") for outline in outlines]
    topics = sorted(path.name for path in (example / "topics").iterdir() if path.is_dir())
    assert urls[0] == BASE + "feed.xml"
    assert sorted(urls[1:]) == sorted(f"{BASE}topics/{slug}/feed.xml" for slug in topics)
    for outline in outlines:
        assert outline.get("type") == "rss" and outline.get("text")
        assert outline.get("htmlUrl", "").startswith(BASE)


def test_pages_advertise_their_feeds(example: Path) -> None:
    home = soup(example / "index.html")
    assert [link["href"] for link in home.find_all("link", rel="alternate")] == [
        "/sub/feed.xml", "/sub/feed.atom", "/sub/feed.json",
    ]  # fmt: skip
    topic = soup(example / "topics/vision/index.html")
    hrefs = [link["href"] for link in topic.find_all("link", rel="alternate")]
    assert "/sub/topics/vision/feed.xml" in hrefs and "/sub/feed.xml" in hrefs
    types = {link["type"] for link in topic.find_all("link", rel="alternate")}
    assert types == {"application/rss+xml", "application/atom+xml", "application/feed+json"}


NASTY_TITLE = '"Quotes" & <angles> — 🚀 émigré 中文标题 العربية'


def test_awkward_text_survives_every_format(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": paper_text(
                "2401.00001",
                title="'" + NASTY_TITLE.replace("'", "''") + "'",
                body='Uses a < b & c > d, "quotes", 🚀 and 数学 $\\alpha < \\beta$.',
            )
        }
    )
    build(site, BuildOptions(today=TODAY))
    out = site / "_site"
    for name in ("feed.xml", "feed.atom"):
        parsed = feedparser.parse((out / name).read_bytes())
        assert parsed.bozo == 0
        (entry,) = parsed.entries
        assert entry.title == NASTY_TITLE
        assert "a < b & c > d" in entry.summary
        assert "🚀 and 数学 $\\alpha < \\beta$" in entry.summary
        assert "&lt;" not in entry.summary
    item = json.loads((out / "feed.json").read_text(encoding="utf-8"))["items"][0]
    assert item["title"] == NASTY_TITLE
    assert "a &lt; b &amp; c &gt; d" in item["content_html"]


def test_ids_are_stable_and_rebuilds_are_byte_identical(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site({f"content/{n}.md": paper_text(f"2401.0000{n}", f"Paper {n}") for n in range(3)})
    build(site, BuildOptions(today=TODAY))
    feeds = {k: v for k, v in snapshot(site / "_site").items() if "feed" in k}
    build(site, BuildOptions(today=TODAY))
    assert {k: v for k, v in snapshot(site / "_site").items() if "feed" in k} == feeds

    moved = tmp_path / "moved"
    build(site, BuildOptions(today=TODAY, output=moved, base_url="http://example.org/elsewhere/"))

    def ids(folder: Path) -> list[str]:
        return [entry.id for entry in feedparser.parse((folder / "feed.atom").read_bytes()).entries]

    assert ids(moved) == ids(site / "_site"), "moving the site to another scheme or path keeps ids"


def test_feed_size_limits_items(make_site: SiteFactory) -> None:
    config = "base_url: https://example.org/\nfeed_size: 2\n"
    site = make_site(
        {f"content/{n}.md": paper_text(f"p{n}", f"Paper {n}", f"2024-01-0{n + 1}") for n in range(4)},
        config=config,
    )
    build(site, BuildOptions(today=TODAY))
    titles = [e.title for e in feedparser.parse((site / "_site/feed.xml").read_bytes()).entries]
    assert titles == ["Paper 3", "Paper 2"]


def test_an_empty_site_has_valid_empty_feeds(make_site: SiteFactory) -> None:
    site = make_site({})
    build(site, BuildOptions(today=TODAY))
    for name in ("feed.xml", "feed.atom"):
        parsed = feedparser.parse((site / "_site" / name).read_bytes())
        assert parsed.bozo == 0 and parsed.entries == []
