"""Whole builds of tiny sites: the pages a reader gets, and what happens to bad input."""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path

import pytest

from sitegen.build import DEFAULT_CACHE, BuildOptions, build, check_site
from sitegen.errors import InputError, OutputError

from .conftest import SiteFactory, paper_text
from .helpers import snapshot, soup

TODAY = dt.date(2024, 6, 1)


def build_site(site: Path, **options: object) -> Path:
    build(site, BuildOptions(today=TODAY, **options))  # type: ignore[arg-type]
    return site / "_site"


def three_days(make_site: SiteFactory, **extra: str) -> Path:
    return make_site(
        {
            "content/papers/2024/a.md": paper_text("2401.00001", "Alpha", "2024-01-15", extra="upvotes: 1\n"),
            "content/papers/2024/b.md": paper_text("2401.00002", "Beta", "2024-01-15", extra="upvotes: 9\n"),
            "content/papers/2024/c.md": paper_text(
                "2401.00003", "Gamma", "2024-01-15", topics="[vision, nlp]"
            ),
            "content/papers/2024/d.md": paper_text("2402.00004", "Delta", "2024-02-20"),
            "content/papers/2024/e.md": paper_text("2403.00005", "Epsilon", "2024-03-01", topics="[nlp]"),
            **extra,
        }
    )


def titles(page: Path) -> list[str]:
    return [h.get_text(strip=True) for h in soup(page).select("article.card h2")]


def test_every_page_kind_exists(make_site: SiteFactory) -> None:
    out = build_site(three_days(make_site))
    for path in [
        "index.html",
        "papers/2401.00001/index.html",
        "topics/index.html",
        "topics/vision/index.html",
        "topics/nlp/index.html",
        "archive/index.html",
        "2024/index.html",
        "2024/01/index.html",
        "2024/01/15/index.html",
        "404.html",
        "sitemap.xml",
        "robots.txt",
        ".nojekyll",
        "assets/style.css",
    ]:
        assert (out / path).is_file(), path


def test_home_shows_the_latest_day_and_links_to_earlier_days(make_site: SiteFactory) -> None:
    out = build_site(three_days(make_site))
    home = soup(out / "index.html")
    assert home.h1.get_text(" ", strip=True) == "Papers of 1 March 2024"
    assert titles(out / "index.html") == ["Epsilon"]
    earlier = [a["href"] for a in home.select("section.recent a")]
    assert earlier[:2] == ["/2024/02/20/", "/2024/01/15/"]


def test_a_day_is_ordered_by_upvotes_then_title(make_site: SiteFactory) -> None:
    out = build_site(three_days(make_site))
    assert titles(out / "2024/01/15/index.html") == ["Beta", "Alpha", "Gamma"]


def test_paper_page_has_metadata_math_and_links(make_site: SiteFactory) -> None:
    out = build_site(three_days(make_site))
    page = soup(out / "papers/2401.00003/index.html")
    assert page.h1.get_text() == "Gamma"
    assert page.find("meta", attrs={"name": "citation_title"})["content"] == "Gamma"
    assert [m["content"] for m in page.find_all("meta", attrs={"name": "citation_author"})] == [
        "Ada Lovelace",
        "Alan Turing",
    ]
    assert page.find("link", rel="canonical")["href"] == "https://example.org/papers/2401.00003/"
    assert page.find("meta", property="og:type")["content"] == "article"
    assert page.select_one("section.abstract-full math") is not None
    assert [a.get_text() for a in page.select("ul.links a")] == ["arXiv", "PDF"]
    assert [a["href"] for a in page.select("header ul.topics a")] == ["/topics/vision/", "/topics/nlp/"]
    import json

    data = json.loads(page.find("script", type="application/ld+json").string)
    assert data["@type"] == "ScholarlyArticle"
    assert data["headline"] == "Gamma"


def test_date_archives_link_to_the_nearest_periods(make_site: SiteFactory) -> None:
    out = build_site(three_days(make_site))
    february = soup(out / "2024/02/index.html")
    assert february.select_one(".period-nav .prev")["href"] == "/2024/01/"
    assert february.select_one(".period-nav .next")["href"] == "/2024/03/"
    day = soup(out / "2024/02/20/index.html")
    assert day.select_one(".period-nav .prev")["href"] == "/2024/01/15/"
    assert day.select_one(".period-nav .next")["href"] == "/2024/03/01/"
    january = soup(out / "2024/01/15/index.html")
    assert january.select_one(".period-nav .prev") is None


def test_topics_index_counts_and_topic_names(make_site: SiteFactory) -> None:
    out = build_site(three_days(make_site))
    rows = {
        a.get_text(): a.find_next_sibling("span").get_text()
        for a in soup(out / "topics/index.html").select("ul.topic-index a")
    }
    assert rows == {"Computer vision": "4 papers", "Nlp": "2 papers"}


def test_topic_pages_paginate(make_site: SiteFactory) -> None:
    files = {
        f"content/papers/p{n}.md": paper_text(f"p{n}", f"Paper {n:02d}", f"2024-01-{n:02d}")
        for n in range(1, 8)
    }
    site = make_site(files, config="base_url: https://example.org/repo/\nper_page: 3\n")
    out = build_site(site)
    assert titles(out / "topics/vision/index.html") == ["Paper 07", "Paper 06", "Paper 05"]
    assert titles(out / "topics/vision/page/3/index.html") == ["Paper 01"]
    second = soup(out / "topics/vision/page/2/index.html")
    assert second.select_one('a[rel="prev"]')["href"] == "/repo/topics/vision/"
    assert second.select_one('a[rel="next"]')["href"] == "/repo/topics/vision/page/3/"
    assert second.select_one('[aria-current="page"]').get_text() == "2"


def test_user_text_is_escaped_everywhere(make_site: SiteFactory) -> None:
    nasty = '"<script>alert(1)</script> & Co"'
    site = make_site({"content/x.md": paper_text("x1", nasty, body="<b>bold</b> & <i>x</i>")})
    out = build_site(site)
    for path in out.rglob("*.html"):
        text = path.read_text()
        assert "<script>alert" not in text, path
        assert "<b>bold" not in text, path
    page = soup(out / "papers/x1/index.html")
    assert page.h1.get_text() == "<script>alert(1)</script> & Co"


def test_drafts_and_future_papers(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": paper_text("a1", "Now", "2024-05-01"),
            "content/b.md": paper_text("b1", "Later", "2024-07-01"),
            "content/c.md": paper_text("c1", "Draft", "2024-05-01", extra="draft: true\n"),
        }
    )
    out = build_site(site)
    assert (out / "papers/b1/index.html").exists(), "future-dated papers are built by default"
    assert not (out / "papers/c1").exists()
    out = build_site(site, future=False, drafts=True)
    assert not (out / "papers/b1").exists()
    assert (out / "papers/c1/index.html").exists()


def test_site_templates_and_static_files_override_the_theme(make_site: SiteFactory) -> None:
    site = three_days(
        make_site,
        **{
            "templates/404.html": '{% extends "base.html" %}{% block main %}<h1>Lost?</h1>{% endblock %}',
            "static/assets/style.css": "body { color: red; }",
            "static/favicon.ico": "icon",
        },
    )
    out = build_site(site)
    assert soup(out / "404.html").h1.get_text() == "Lost?"
    assert (out / "assets/style.css").read_text() == "body { color: red; }"
    assert (out / "favicon.ico").read_text() == "icon"
    assert soup(out / "index.html").h1 is not None  # other templates still come from the theme


def test_a_static_file_clashing_with_a_page_names_both(make_site: SiteFactory) -> None:
    site = three_days(make_site, **{"static/404.html": "mine"})
    with pytest.raises(
        OutputError, match=r"two items claim '404\.html': the 404 page and .*static/404\.html"
    ):
        build_site(site)
    with pytest.raises(OutputError, match=r"two items claim '404\.html'"):
        check_site(site)


def test_template_errors_name_the_template(make_site: SiteFactory) -> None:
    site = three_days(make_site, **{"templates/404.html": "{% block main %}{{ nope( }}{% endblock %}"})
    with pytest.raises(InputError, match=r"templates/404\.html:1: template error"):
        build_site(site)


def test_a_second_build_is_byte_identical(make_site: SiteFactory) -> None:
    site = three_days(make_site)
    first = snapshot(build_site(site))
    assert snapshot(build_site(site)) == first


def test_a_failed_build_leaves_the_previous_site_untouched(make_site: SiteFactory) -> None:
    site = three_days(make_site)
    before = snapshot(build_site(site))
    (site / "content/papers/2024/d.md").write_text(paper_text(date="2024-02-30"))
    with pytest.raises(InputError):
        build_site(site)
    assert snapshot(site / "_site") == before
    staging = [p.name for p in site.iterdir() if p.name.startswith(".") and p.name != DEFAULT_CACHE]
    assert staging == []  # none left behind


def test_an_empty_site_builds(make_site: SiteFactory) -> None:
    out = build_site(make_site({}))
    assert "No papers yet" in soup(out / "index.html").get_text()


def test_large_sitemaps_become_an_index() -> None:
    from sitegen.pages import SITEMAP_LIMIT, Page, plan_sitemaps

    pages = [Page(f"p{n}/", "paper.html", {}, "x") for n in range(SITEMAP_LIMIT + 1)]
    sitemaps = plan_sitemaps(pages)
    assert [page.url for page in sitemaps] == ["sitemap.xml", "sitemap-1.xml", "sitemap-2.xml"]
    assert len(sitemaps[2].context["entries"]) == 1


def test_citations_keep_author_order_and_escape_latex(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": paper_text(
                "2401.00001", "'100% of {Things} & $x_1$ #1'", extra="journal_ref: J. Stuff_1\n"
            ).replace("[Ada Lovelace, Alan Turing]", "[Zoë Zed, Ada Lovelace, Émile Borel]"),
        }
    )
    out = build_site(site)
    text = (out / "papers/2401.00001/cite.bib").read_text()
    assert text.startswith("@article{zed2024things,\n")
    assert "title = {{100\\% of \\{Things\\} \\& \\$x\\_1\\$ \\#1}}" in text
    assert "author = {Zoë Zed and Ada Lovelace and Émile Borel}" in text
    assert "eprint = {2401.00001}" in text and "journal = {J. Stuff\\_1}" in text
    page = soup(out / "papers/2401.00001/index.html")
    assert page.select_one("pre#bibtex").get_text() == text
    assert page.select_one("a[download]")["href"] == "/papers/2401.00001/cite.bib"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_among_the_abstract_files_is_a_problem_not_a_wait(make_site: SiteFactory) -> None:
    """Nothing writes to it: reading it must not wait for a writer."""

    class Waited(Exception):  # not an OSError, which the build reports as an unreadable file
        pass

    def waited(*_: object) -> None:
        raise Waited("the build waited on the named pipe")

    site = make_site({"content/a.md": paper_text()})
    os.mkfifo(site / "content/pipe.md")
    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(60)
    try:
        with pytest.raises(InputError) as raised:
            build(site, BuildOptions(cache=False))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [problem.path.name for problem in raised.value.problems] == ["pipe.md"]


def test_a_papers_page_cites_it_as_its_cite_bib_does(make_site: SiteFactory) -> None:
    """The page cites from the paper's view, ``cite.bib`` from the paper: the same text, whatever
    the paper has (an arXiv id or not, a DOI, a journal, a published date, its own links)."""
    site = make_site(
        {
            "content/a.md": paper_text(
                "2401.00001",
                "First & Foremost",
                extra="published: 2023-12-30\nprimary_category: cs.CL\ndoi: 10.1000/x_y\n",
                authors="[{name: Zoë Zed, affiliation: Lab}, Ada Lovelace]",
            ),
            "content/b.md": paper_text(
                "acl-2024-7",
                "Not on arXiv",
                extra="journal_ref: Proc. ACL\nlinks: {abs: 'https://example.org/7', code: 'https://example.org/c'}\n",
                authors="[]",
            ),
            "content/c.md": paper_text(
                "2401.00003", "Plain", extra="links: {pdf: 'https://example.org/p.pdf'}\n"
            ),
        }
    )
    out = build_site(site)
    cited = sorted(out.glob("papers/*/cite.bib"))
    assert len(cited) == 3
    for cite in cited:
        page = soup(cite.parent / "index.html")
        assert page.select_one("pre#bibtex").get_text() == cite.read_text()
    assert "url = {https://example.org/7}" in (out / "papers/acl-2024-7/cite.bib").read_text()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_paper_with_no_abstract_is_built_with_the_others(
    make_site: SiteFactory, tmp_path: Path, jobs: int
) -> None:
    """An empty abstract is a warning, not an error; its card has no abstract to be kept without."""
    site = make_site(
        {
            "content/a.md": paper_text("2401.00001", "No Abstract", body=""),
            "content/b.md": paper_text("2401.00002", "With Abstract", body="Words."),
        }
    )
    out = build(site, BuildOptions(output=tmp_path / "out", jobs=jobs)).output
    day = (out / "2024/01/15/index.html").read_text(encoding="utf-8")
    assert "No Abstract" in day and "<p>Words.</p>" in day
    assert snapshot(out) == snapshot(build(site, BuildOptions(output=tmp_path / "clean", cache=False)).output)
