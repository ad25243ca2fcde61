"""Importers: realistic sources in tests/fixtures/import → abstract files that build."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sitegen.build import BuildOptions, build
from sitegen.content import find_abstract_files, load_papers
from sitegen.importers import READERS
from sitegen.importing import import_records

from .conftest import SiteFactory
from .helpers import snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "import"
DATE = "2024-03-12"


def sitegen(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sitegen", *args], cwd=cwd, capture_output=True, text=True, input=stdin,
        timeout=120, check=False,
    )  # fmt: skip


def papers(site: Path) -> dict[str, object]:
    loaded = load_papers(find_abstract_files(site / "content"), shown_root=site)
    assert not [p for p in loaded.problems if p.is_error], loaded.problems
    return {paper.id: paper for paper in loaded.papers}


def run_import(site: Path, fmt: str, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    result = sitegen("import", fmt, str(FIXTURES / name), "--date", DATE, *extra, cwd=site)
    assert result.returncode == 0, result.stderr
    return result


def test_arxiv_responses(make_site: SiteFactory) -> None:
    site = make_site()
    result = run_import(site, "arxiv", "arxiv.xml")
    found = papers(site)
    assert sorted(found) == ["1706.03762", "2106.09685", "2210.07144", "2305.14314", "hep-th-9711200"]
    lora = found["2106.09685"]
    assert lora.title == "LoRA: Low-Rank Adaptation of Large Language Models"  # line break folded
    assert (lora.version, lora.published, lora.updated) == (2, dt.date(2021, 6, 17), dt.date(2021, 10, 16))
    assert lora.date == dt.date(2024, 3, 12)
    assert (lora.authors[0].name, lora.authors[0].affiliation) == ("Edward J. Hu", "Microsoft")
    assert (lora.categories, lora.primary_category) == (("cs.CL", "cs.AI", "cs.LG"), "cs.CL")
    assert lora.comment.startswith("Draft V2 includes better baselines, experiments on GLUE")
    assert "$W_0 + BA$ with rank $r \\ll d$" in lora.abstract
    assert "\n\nA second paragraph survives the import." in lora.abstract
    assert "<math" in lora.abstract_html
    old = found["hep-th-9711200"]
    assert old.link("abs") == "https://arxiv.org/abs/hep-th/9711200"
    assert old.doi == "10.1023/A:1026654312961"
    assert found["2210.07144"].journal_ref == "ICML 2023"
    assert found["2305.14314"].authors == ()
    assert (site / "content/papers/2024/2106.09685.md").is_file()
    errors = result.stderr
    assert "entry 6: repeats 2106.09685 from entry 1; merged into it" in errors
    assert "entry 6: 2106.09685: the file has a newer version; kept" in errors
    assert "entry 7: the arXiv API reported an error: incorrect id format for 1234.1234v1" in errors
    assert "entry 8: 2401.99999: missing title or published date; skipped" in errors
    assert build(site, BuildOptions(strict=False)).plan.site.papers


@pytest.mark.parametrize(("fmt", "name"), [("arxiv", "arxiv.xml"), ("hf", "hf.json"), ("bibtex", "papers.bib"), ("listing", "listing.txt")])  # fmt: skip
def test_importing_twice_changes_nothing(make_site: SiteFactory, fmt: str, name: str) -> None:
    site = make_site()
    run_import(site, fmt, name)
    first = snapshot(site / "content")
    again = run_import(site, fmt, name)
    assert snapshot(site / "content") == first
    assert " 0 new, 0 updated" in again.stdout


def test_hugging_face_daily_papers(make_site: SiteFactory) -> None:
    site = make_site()
    result = run_import(site, "hf", "hf.json")
    found = papers(site)
    assert sorted(found) == ["2402.17764", "2403.03507", "2403.04132", "2403.05530"]
    galore = found["2403.03507"]
    assert galore.title == "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection"
    assert galore.date == dt.date(2024, 3, 7), "the item's publishedAt is the listing date"
    assert galore.published == dt.date(2024, 3, 6), "the paper's publishedAt is the arXiv date"
    assert galore.upvotes == 190, "the later duplicate's count wins"
    assert galore.stars == 1500
    assert galore.link("code") == "https://github.com/jiaweizzhao/GaLore"
    assert galore.tldr == "Low-rank gradient projection cuts optimizer memory."
    assert [a.name for a in found["2403.04132"].authors] == ["Émile Dupré", "Zoë Ångström"]
    assert found["2403.04132"].link("project") == "https://example.org/accents"
    assert found["2402.17764"].abstract.startswith("Fixture text at the item level")
    assert "item 4: repeats 2403.03507 from item 1; merged into it" in result.stderr
    assert "item 5: has no paper.id; skipped" in result.stderr
    assert "item 6: is not an object but str; skipped" in result.stderr


def test_bibtex(make_site: SiteFactory) -> None:
    site = make_site()
    result = run_import(site, "bibtex", "papers.bib")
    found = papers(site)
    assert sorted(found) == ["1706.03762", "2106.09685", "2401.01234", "erdos1959random"]
    assert found["2106.09685"].title == "LoRA: Low-Rank Adaptation of Large Language Models"
    assert [a.name for a in found["2106.09685"].authors] == ["Edward J. Hu", "Yelong Shen", "Phillip Wallis"]
    assert [a.name for a in found["erdos1959random"].authors] == ["Paul Erdős", "Alfréd Rényi"]
    assert found["1706.03762"].authors[2].name == "Łukasz Kaiser"
    assert found["1706.03762"].published is None, "a BibTeX year is not an arXiv submission date"
    assert found["1706.03762"].journal_ref == "Advances in Neural Information Processing Systems (2017)"
    fixture = found["2401.01234"]
    assert fixture.title == "Schöne Mathematik: $\\alpha$-Divergences for Gödel Numbers"
    assert [a.name for a in fixture.authors] == ["Jörg Müller", "Andrew Y. Ng", "John von Neumann"]
    assert "line 34: malformed entry skipped: Unexpected block start: `@misc`" in result.stderr
    assert "@book {knuth1984texbook} is not a paper type; skipped" in result.stderr
    assert "repeats 2106.09685 from line 2; merged into it" in result.stderr


def test_a_pasted_listing_of_twenty_papers(make_site: SiteFactory) -> None:
    site = make_site()
    result = run_import(site, "listing", "listing.txt")
    found = papers(site)
    assert len(found) == 20
    by_title = {paper.title: paper for paper in found.values()}
    first = by_title["Reprogramming Pretrained Language Models for Antibody Sequence Infilling"]
    assert first.date == dt.date(2024, 3, 11)
    assert first.link("code") == "https://github.com/IBM/ReprogBERT"
    assert by_title["Chronos: Learning the Language of Time Series"].date == dt.date(2024, 3, 11)
    assert by_title["MoAI: Mixture of All Intelligence for Large Language and Vision Models"].date == dt.date(
        2024, 3, 12
    )
    assert sum(p.date == dt.date(2024, 3, 11) for p in found.values()) == 10
    galore = by_title["GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection"]
    assert galore.link("code") == "https://github.com/jiaweizzhao/GaLore"
    design = by_title["Design2Code: How Far Are We From Automating Front-End Engineering?"]
    assert design.link("code") == "https://github.com/NoviScl/Design2Code"
    assert design.link("project") == "https://salt-nlp.github.io/Design2Code/"
    gemini = by_title["Gemini 1.5: Unlocking multimodal understanding across millions of tokens of context"]
    assert gemini.link("project") == "https://deepmind.google/technologies/gemini/"
    assert "2402.17764" in found, "an arXiv id in the block becomes the id"
    yi = by_title["Yi: Open Foundation Models by 01.AI"]
    assert [a.name for a in yi.authors] == ["Alex Young", "Bei Chen", "Chao Li"]
    assert yi.abstract.startswith("A family of bilingual models")
    assert "line 71: a title line without an abstract paragraph; skipped" in result.stderr
    assert "Trending" not in " ".join(found)


def test_reimport_keeps_what_the_user_added(make_site: SiteFactory) -> None:
    site = make_site()
    run_import(site, "arxiv", "arxiv.xml")
    path = site / "content/papers/2024/2210.07144.md"
    text = path.read_text()
    text = text.replace("date: '2024-03-12'\n", "date: '2024-03-12'\ntopics: [protein-design]\ntldr: Mine.\n")
    path.write_text(text + "\n## Notes\n\nDiscussed on Friday.\n")
    newer = (
        (FIXTURES / "arxiv.xml")
        .read_text()
        .replace("2210.07144v1", "2210.07144v2")
        .replace("ICML 2023", "ICML 2023, Honolulu")
    )
    source = site / "newer.xml"
    source.write_text(newer)
    result = sitegen("import", "arxiv", str(source), "--date", "2024-05-01", cwd=site)
    assert "updated content/papers/2024/2210.07144.md" in result.stdout
    paper = papers(site)["2210.07144"]
    assert (paper.version, paper.journal_ref) == (2, "ICML 2023, Honolulu")
    assert (paper.topics, paper.tldr, paper.date) == (("protein-design",), "Mine.", dt.date(2024, 3, 12))
    assert paper.abstract.rstrip().endswith("## Notes\n\nDiscussed on Friday.")


def test_dry_run_writes_nothing(make_site: SiteFactory) -> None:
    site = make_site()
    result = run_import(site, "hf", "hf.json", "--dry-run")
    assert "would create content/papers/2024/2403.03507.md (item 1, item 4)" in result.stdout
    assert "dry run: nothing written" in result.stdout
    assert not (site / "content").exists()


def test_standard_input_and_topics(make_site: SiteFactory) -> None:
    site = make_site()
    text = (FIXTURES / "hf.json").read_text()
    result = sitegen("import", "hf", "-", "--topic", "vision", cwd=site, stdin=text)
    assert result.returncode == 0
    assert all(paper.topics[0] == "vision" for paper in papers(site).values())


def test_keyword_rules_at_import_and_build(make_site: SiteFactory) -> None:
    config = (
        "base_url: https://example.org/\n"
        "topics:\n"
        "  peft:\n"
        "    name: Parameter-efficient fine-tuning\n"
        "    any: [lora, parameter-efficient, low-rank adaptation]\n"
        "    none: [vision]\n"
    )
    site = make_site(
        {
            "content/hand.md": "---\nid: hand\ntitle: Written by hand\nauthors: [A]\ndate: 2024-01-01\n---\nUses LoRA.\n",
            "content/vis.md": "---\nid: vis\ntitle: LoRA for vision\nauthors: [A]\ndate: 2024-01-01\n---\nx\n",
            "content/word.md": "---\nid: word\ntitle: Explorations\nauthors: [A]\ndate: 2024-01-01\n---\nFlora.\n",
        },
        config=config,
    )
    run_import(site, "arxiv", "arxiv.xml")
    text = (site / "content/papers/2024/2106.09685.md").read_text()
    assert "topics: [peft]" in text
    report = build(site, BuildOptions(today=dt.date(2024, 6, 1)))
    topics = {paper.id: paper.topics for paper in report.plan.site.papers}
    assert topics["hand"] == ("peft",) and topics["vis"] == () and topics["word"] == ()
    assert topics["2305.14314"] == ("peft",), "'LoRA adapters' in the abstract"


def test_ids_cannot_escape_content(make_site: SiteFactory) -> None:
    site = make_site()
    source = '[{"paper": {"id": "../../../etc/x", "title": "Evil", "summary": "x"}}, {"paper": {"id": "CON", "title": "ok", "summary": "y"}}, {"paper": {"id": "fine", "title": "ok", "summary": "z"}}]'
    report = import_records(
        READERS["hf"](source, dt.date(2024, 1, 1)), site, default_date=dt.date(2024, 1, 1)
    )
    assert [str(p) for p in report.problems] == [
        "item 1: id '..-..-..-etc-x' is not slug-safe; skipped",
        "item 2: id 'CON' is not slug-safe; skipped",  # reserved on Windows
    ]
    assert [change.path.relative_to(site).as_posix() for change in report.changes] == [
        "content/papers/2024/fine.md"
    ]
    assert not (site.parent / "etc").exists()


def test_unreadable_sources_fail_cleanly(make_site: SiteFactory) -> None:
    site = make_site()
    (site / "bad.json").write_text("[{")
    result = sitegen("import", "hf", "bad.json", cwd=site)
    assert result.returncode == 1
    assert result.stderr.startswith("bad.json:line 1: not valid JSON")
    (site / "bad.xml").write_text("<feed><entry>")
    result = sitegen("import", "arxiv", "bad.xml", cwd=site)
    assert result.returncode == 1 and "not well-formed XML" in result.stderr
    assert sitegen("import", "arxiv", "missing.xml", cwd=site).returncode == 2
    assert "Traceback" not in result.stderr


class RecordedArxiv:
    """A local stand-in for the arXiv API: recorded pages by ``start``, a 503 on the first try of one."""

    def __init__(self, pages: dict[int, str], fail_once: set[int]) -> None:
        self.pages = pages
        self.fail_once = set(fail_once)
        self.requests: list[dict[str, list[str]]] = []

    def serve(self) -> tuple[str, object]:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                recorded.requests.append(query)
                start = int(query["start"][0])
                if start in recorded.fail_once:
                    recorded.fail_once.discard(start)
                    self.send_response(503)
                    self.end_headers()
                    return
                body = recorded.pages[start].encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/api/query", server


def arxiv_page(total: int, entries: list[tuple[str, str]]) -> str:
    items = "".join(
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><published>{day}T12:00:00Z</published>"
        f"<updated>{day}T12:00:00Z</updated><title>Paper {arxiv_id}</title><summary>About {arxiv_id}.</summary>"
        "<author><name>A. Author</name></author></entry>"
        for arxiv_id, day in entries
    )
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>{total}</opensearch:totalResults>{items}</feed>"
    )


def test_fetch_pages_waits_retries_and_stops_at_since(make_site: SiteFactory) -> None:
    from sitegen.fetch import ArxivClient, fetch_arxiv

    pages = {
        0: arxiv_page(
            9, [("2403.00009", "2024-03-12"), ("2403.00008", "2024-03-11"), ("2403.00007", "2024-03-11")]
        ),
        3: arxiv_page(
            9, [("2403.00006", "2024-03-10"), ("2403.00005", "2024-03-10"), ("2403.00004", "2024-03-09")]
        ),
        6: arxiv_page(
            9, [("2403.00003", "2024-03-08"), ("2403.00002", "2024-03-07"), ("2403.00001", "2024-03-06")]
        ),
    }
    api = RecordedArxiv(pages, fail_once={3})
    url, server = api.serve()
    slept: list[float] = []
    client = ArxivClient(api_url=url, sleep=slept.append, log=lambda _: None)
    try:
        records = list(fetch_arxiv("cat:cs.CL", client, since=dt.date(2024, 3, 8), limit=50))
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    assert [r.id for r in records] == [f"2403.0000{n}" for n in range(9, 2, -1)]  # stops before 03-07
    assert [int(q["start"][0]) for q in api.requests] == [0, 3, 3, 6]
    assert all(q["max_results"] == ["50"] or int(q["max_results"][0]) <= 100 for q in api.requests)
    assert api.requests[0]["sortBy"] == ["submittedDate"] and api.requests[0]["search_query"] == ["cat:cs.CL"]
    assert slept == [3.0, 6.0, 3.0], "3 s between calls, doubled before the retry after the 503"

    site = make_site()
    report = import_records(records, site, default_date=dt.date(2024, 3, 12))
    assert report.count("create") == 7


def test_fetch_command_imports_what_the_api_returns(make_site: SiteFactory) -> None:
    page = arxiv_page(2, [("2403.00002", "2024-03-12"), ("2403.00001", "2024-03-11")])
    api = RecordedArxiv({0: page}, fail_once=set())
    url, server = api.serve()
    site = make_site()
    try:
        result = sitegen("fetch", "arxiv", "--query", "cat:cs.CL", "--api-url", url, "--date", DATE, cwd=site)
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr
    assert "arXiv API: 2 new, 0 updated, 0 unchanged, 0 problems" in result.stdout
    assert sorted(papers(site)) == ["2403.00001", "2403.00002"]


def test_fetch_gives_up_cleanly(make_site: SiteFactory) -> None:
    from sitegen.fetch import ArxivClient, FetchError, fetch_arxiv

    api = RecordedArxiv({}, fail_once={0})
    url, server = api.serve()
    client = ArxivClient(api_url=url, retries=0, sleep=lambda _: None, log=lambda _: None)
    try:
        with pytest.raises(FetchError, match=r"failed after 1 attempt \(HTTP 503\); try again later"):
            list(fetch_arxiv("x", client))
    finally:
        server.shutdown()  # type: ignore[attr-defined]


def hf_import(site: Path, items: list[object], *extra: str) -> subprocess.CompletedProcess[str]:
    return sitegen("import", "hf", "-", "--date", DATE, *extra, cwd=site, stdin=json.dumps(items))


def test_a_source_without_an_abstract_keeps_the_one_there(make_site: SiteFactory) -> None:
    site = make_site()
    hf_import(site, [{"paper": {"id": "2401.00001", "title": "T", "summary": "The real abstract."}}])
    path = site / "content/papers/2024/2401.00001.md"
    path.write_text(path.read_text() + "\n## Notes\n\nMine.\n")
    result = hf_import(site, [{"paper": {"id": "2401.00001", "title": "T2", "upvotes": 3}}])
    assert result.returncode == 0
    paper = papers(site)["2401.00001"]
    assert paper.abstract.startswith("The real abstract.") and "Mine." in paper.abstract
    assert paper.title == "T2"


def test_a_notes_heading_in_the_source_is_text_and_reimport_is_stable(make_site: SiteFactory) -> None:
    site = make_site()
    items = [{"paper": {"id": "2401.00001", "title": "T", "summary": "First.\n\n## Notes\n\nSecond."}}]
    hf_import(site, items)
    first = snapshot(site / "content")
    hf_import(site, items)
    hf_import(site, items)
    assert snapshot(site / "content") == first
    assert "\\## Notes" in (site / "content/papers/2024/2401.00001.md").read_text()


def test_odd_sources_give_problems_not_tracebacks(make_site: SiteFactory) -> None:
    site = make_site()
    result = hf_import(site, [{"paper": {"id": "2401.00001", "title": "T", "summary": "x", "authors": 5}}])
    assert result.returncode == 0 and "Traceback" not in result.stderr
    nested = sitegen("import", "hf", "-", cwd=site, stdin="[" * 100_000 + "]" * 100_000)
    assert nested.returncode == 1 and "nested too deeply" in nested.stderr
    listing = sitegen(
        "import",
        "listing",
        "-",
        "--date",
        DATE,
        cwd=site,
        stdin="Title here\nSee https://[oops/x and more.\n",
    )
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    surrogate = sitegen(
        "import",
        "hf",
        "-",
        cwd=site,
        stdin='[{"paper": {"id": "2401.00009", "title": "T", "summary": "a \\ud800"}}]',
    )
    assert "not valid Unicode" in surrogate.stderr
    assert not (site / "content/papers/2024/2401.00009.md").exists()


def test_an_existing_file_that_is_broken_is_reported_and_left_alone(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/papers/2024/2401.00001.md": "---\nid: 2401.00001\ntitle: T\ndate: 2024-01-01\ntopics: 5\n---\nx\n"
        }
    )
    before = snapshot(site / "content")
    result = hf_import(site, [{"paper": {"id": "2401.00001", "title": "T", "summary": "y"}}])
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "fix it before re-importing" in result.stderr
    assert snapshot(site / "content") == before


def test_existing_papers_are_found_by_their_id_ignoring_case(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/reading/attention.md": "---\nid: Mixed-Case\ntitle: T\nauthors: [A]\ndate: 2024-01-01\n---\nx\n"
        }
    )
    result = hf_import(site, [{"paper": {"id": "mixed-case", "title": "T", "summary": "y"}}])
    assert "updated content/reading/attention.md" in result.stdout
    assert len(list((site / "content").rglob("*.md"))) == 1
    assert build(site, BuildOptions(today=dt.date(2024, 6, 1))).plan.site.papers


def test_updated_files_keep_their_mode(make_site: SiteFactory) -> None:
    site = make_site()
    hf_import(site, [{"paper": {"id": "2401.00001", "title": "T", "summary": "y"}}])
    path = site / "content/papers/2024/2401.00001.md"
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o664)
    hf_import(site, [{"paper": {"id": "2401.00001", "title": "T2", "summary": "y"}}])
    assert path.stat().st_mode & 0o777 == 0o664


def test_listing_dates_that_are_not_real_are_reported(make_site: SiteFactory) -> None:
    site = make_site()
    text = (
        "Feb 30, 2024\nA Paper Title\nIts abstract text.\n\n"
        "The 2024-01-05 Snapshot of Common Crawl\nAn abstract about a snapshot.\n\n"
        "Feb 29\n\nLeap Day Paper\nAbstract on a leap day.\n"
    )
    result = sitegen("import", "listing", "-", "--date", "2023-03-01", cwd=site, stdin=text)
    assert "line 1: Feb 30, 2024 is not a real date" in result.stderr
    found = {paper.title: paper for paper in papers(site).values()}
    assert "A Paper Title" in found and "The 2024-01-05 Snapshot of Common Crawl" in found
    assert found["Leap Day Paper"].date == dt.date(2020, 2, 29)


def test_fetch_fails_when_the_api_reports_an_error(make_site: SiteFactory) -> None:
    from sitegen.fetch import ArxivClient, FetchError, fetch_arxiv

    error_feed = (FIXTURES / "arxiv.xml").read_text()
    api = RecordedArxiv(
        {
            0: error_feed[: error_feed.index("<entry>")]
            + error_feed[error_feed.index("<entry>\n    <id>http://arxiv.org/api/errors") :]
        },
        fail_once=set(),
    )
    url, server = api.serve()
    try:
        with pytest.raises(FetchError, match="reported an error"):
            list(fetch_arxiv("bad query", ArxivClient(api_url=url, sleep=lambda _: None, log=lambda _: None)))
    finally:
        server.shutdown()  # type: ignore[attr-defined]
