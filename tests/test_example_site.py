"""The bundled example site, built under a sub-path: every page kind, every link resolves."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlsplit

import html5lib
import pytest

from sitegen.build import BuildOptions, build

from .helpers import soup

REPO = Path(__file__).resolve().parent.parent
BASE = "https://example.org/sub/"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example") / "_site"
    build(REPO, BuildOptions(output=out, base_url=BASE))
    return out


def target_file(out: Path, path: str) -> Path:
    relative = unquote(path)[len("/sub/") :]
    return out / (relative + "index.html" if relative == "" or relative.endswith("/") else relative)


def test_the_example_meets_the_content_brief() -> None:
    from sitegen.content import find_abstract_files, load_papers

    loaded = load_papers(find_abstract_files(REPO / "content"))
    assert not [p for p in loaded.problems if p.is_error]
    papers = [p for p in loaded.papers if not p.draft]
    assert len(papers) >= 40
    assert len({topic for p in papers for topic in p.topics}) >= 6
    assert len({(p.date.year, p.date.month) for p in papers}) >= 3
    days = [p.date for p in papers]
    assert sum(1 for day in set(days) if days.count(day) > 1) >= 5
    assert sum("<math" in p.abstract_html for p in papers) >= 10
    assert sum(p.link("code") is not None for p in papers) >= 10


def test_every_page_kind_exists(example_site: Path) -> None:
    for path in [
        "index.html",
        "papers/2106.09685/index.html",
        "topics/index.html",
        "topics/vision/index.html",
        "archive/index.html",
        "2024/index.html",
        "2024/02/index.html",
        "2024/02/06/index.html",
        "404.html",
        "sitemap.xml",
        "robots.txt",
        ".nojekyll",
    ]:
        assert (example_site / path).is_file(), path
    assert not (example_site / "papers/1910.10683").exists(), "the draft is not built"


def test_every_link_stays_under_the_sub_path_and_resolves(example_site: Path) -> None:
    pages = sorted(example_site.rglob("*.html"))
    assert len(pages) > 60
    checked = 0
    for page in pages:
        document = soup(page)
        ids = {element["id"] for element in document.find_all(id=True)}
        for element in document.find_all(["a", "link", "script", "img", "source"]):
            ref = element.get("href") or element.get("src")
            if ref is None:
                continue
            parts = urlsplit(ref)
            where = f"{page.relative_to(example_site)}: {ref}"
            if ref.startswith("#"):
                assert ref[1:] in ids, where
                continue
            if parts.scheme in ("http", "https") and parts.netloc != "example.org":
                continue  # arXiv, code hosts, doi.org: outside links are fine
            assert parts.path.startswith("/sub/"), where
            if parts.netloc:
                assert ref.startswith(BASE), where
            assert target_file(example_site, parts.path).is_file(), where
            checked += 1
    assert checked > 1000


def test_sitemap_lists_existing_pages_under_the_base(example_site: Path) -> None:
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = [
        loc.text for loc in ET.parse(example_site / "sitemap.xml").getroot().findall("s:url/s:loc", namespace)
    ]
    assert len(locations) > 60
    for location in locations:
        assert location.startswith(BASE)
        assert target_file(example_site, urlsplit(location).path).is_file(), location
    assert BASE + "404.html" not in locations
    assert f"Sitemap: {BASE}sitemap.xml" in (example_site / "robots.txt").read_text()


def test_404_works_at_any_depth(example_site: Path) -> None:
    links = [a["href"] for a in soup(example_site / "404.html").find_all("a")]
    assert links and all(link.startswith(("/sub/", "#")) for link in links)
    assert soup(example_site / "404.html").find("link", rel="stylesheet")["href"] == "/sub/assets/style.css"


def test_every_page_is_well_formed_html5(example_site: Path) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    for page in sorted(example_site.rglob("*.html")):
        parser.parse(page.read_bytes())  # raises on any parse error


def test_building_from_the_repository_root_needs_no_options(tmp_path: Path) -> None:
    """What the README promises: ``sitegen build`` in the repository builds into ``_site/``."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns("_site", ".git", "*.egg-info", "__pycache__"))
    build(copy)
    assert (copy / "_site/index.html").is_file()
