"""The example site in a real browser (Debian's Chromium driven by Playwright), under a sub-path."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sitegen.build import BuildOptions, build

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Debian's chromium package is required in CI (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


class SubPathHandler(SimpleHTTPRequestHandler):
    """Serves the built folder at /sub/, as GitHub Pages serves a project site."""

    def translate_path(self, path: str) -> str:
        if not path.startswith("/sub/"):
            return str(Path(self.directory) / "does-not-exist")
        return super().translate_path(path[len("/sub") :])

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """``folder`` served at /sub/ on a free port; yields its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SubPathHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sub/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("browser") / "_site"
    build(REPO, BuildOptions(output=out, base_url="http://127.0.0.1/sub/"))
    with serving(out) as url:
        yield url


@contextmanager
def debian_chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright: for each browser test module's fixture."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with debian_chromium() as launched:
        yield launched


PAGES = [
    "",
    "papers/2106.09685/",
    "topics/",
    "topics/vision/",
    "archive/",
    "2024/",
    "2024/02/",
    "2024/02/06/",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_cleanly_and_fit_a_phone(browser, served: str, path: str) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "request", lambda request: None if request.url.startswith(served) else problems.append(request.url)
    )
    response = page.goto(served + path)
    assert response is not None and response.status == 200
    assert problems == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} scrolls sideways on a phone ({width}px)"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.site-header')).borderBottomStyle") == "solid"
    )
    page.close()


def test_math_is_laid_out_as_mathml(browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "papers/2106.09685/")
    boxes = page.eval_on_selector_all(
        "section.abstract-full math", "nodes => nodes.map(n => n.getBoundingClientRect().width)"
    )
    assert boxes and all(width > 0 for width in boxes)
    page.close()


def test_dark_mode_follows_the_system(browser, served: str) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        page = browser.new_page(color_scheme=scheme)
        page.goto(served)
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.close()
    assert colours["light"] != colours["dark"]
    assert colours["dark"] == "rgb(22, 24, 27)"


def test_missing_page_links_back_under_the_sub_path(browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "404.html")
    page.click("text=The latest papers")
    assert page.url == served
    assert page.locator("h1").inner_text().startswith("Papers of")
    page.close()


def test_an_open_page_reloads_itself_after_an_edit(browser, tmp_path: Path) -> None:
    import datetime as dt

    from sitegen.serve import PreviewServer

    from .conftest import BASIC_CONFIG, paper_text

    site = tmp_path / "site"
    paper = site / "content/papers/2024/2401.00001.md"
    paper.parent.mkdir(parents=True)
    (site / "sitegen.yaml").write_text(BASIC_CONFIG)
    paper.write_text(paper_text("2401.00001", "Before the edit"))
    server = PreviewServer(site, BuildOptions(today=dt.date(2024, 6, 1)), port=0, log=lambda _: None)
    server.start()
    try:
        page = browser.new_page()
        page.goto(server.url + "papers/2401.00001/")
        assert page.locator("h1").inner_text() == "Before the edit"
        page.wait_for_function("() => window.EventSource !== undefined")
        page.evaluate("window.__marker = 'same document'")
        paper.write_text(paper_text("2401.00001", "After the edit"))
        page.wait_for_function(
            "() => document.querySelector('h1').textContent === 'After the edit'", timeout=15_000
        )
        assert page.evaluate("window.__marker") is None, "the page was reloaded, not patched"
        page.close()
    finally:
        server.stop()


def test_search_as_you_type_then_follow_the_first_result(browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "search/")
    page.locator("#search-q").press_sequentially("low-rank adaptation", delay=30)
    # Results may show for a prefix typed so far; wait for those of the whole query.
    page.wait_for_function(
        "document.getElementById('search-status').textContent.includes('“low-rank adaptation”')"
    )
    first = page.locator("#search-results > li").first.locator("h2 a")
    assert first.inner_text() == "LoRA: Low-Rank Adaptation of Large Language Models"
    assert "q=low-rank%20adaptation" in page.url
    marks = page.locator("#search-results > li").first.locator("mark").all_inner_texts()
    assert marks and all(m.lower().startswith(("low", "rank", "adapt")) for m in marks)
    first.click()
    page.wait_for_url("**/papers/2106.09685/")
    assert page.locator("h1").inner_text().startswith("LoRA")
    page.close()


def test_search_results_come_twenty_at_a_time(browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "search/?q=model")
    page.wait_for_function("document.querySelectorAll('#search-results > li').length > 0")
    status = page.locator("#search-status").inner_text()
    total = int(status.split()[0])
    assert total > 20
    assert page.locator("#search-results > li").count() == 20
    more = page.locator("#search-more")
    more.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#search-results > li').length === {min(total, 40)}")
    assert page.evaluate("document.activeElement.closest('li') !== null"), (
        "focus moves to the first new result"
    )
    assert more.is_hidden() == (total <= 40)
    page.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "+lora -vision",
            [
                "LoRA: Low-Rank Adaptation of Large Language Models",
                "QLoRA: Efficient Finetuning of Quantized LLMs",
            ],
        ),
        ("title:segment", ["Segment Anything"]),
        ("authors:vaswani", ["Attention Is All You Need"]),
        ("difusion~1 +title:probabilistic", ["Denoising Diffusion Probabilistic Models"]),
    ],
)
def test_lunr_query_syntax_in_the_page(browser, served: str, query: str, expected: list[str]) -> None:
    page = browser.new_page()
    page.goto(served + "search/")
    page.fill("#search-q", query)
    page.press("#search-q", "Enter")
    page.wait_for_function("document.getElementById('search-status').textContent.includes('match')")
    titles = page.locator("#search-results h2").all_inner_texts()
    assert titles[: len(expected)] == expected
    page.close()


def test_punctuation_around_words_is_ignored(browser, served: str) -> None:
    page = browser.new_page()
    counts = []
    for query in ("diffusion", "diffusion?", "(diffusion),"):
        page.goto(served + "search/?q=" + query.replace("?", "%3F").replace(",", "%2C"))
        page.wait_for_function("document.getElementById('search-status').textContent.includes('match')")
        counts.append(page.locator("#search-status").inner_text().split()[0])
    assert counts[0] == counts[1] == counts[2] != "No"
    page.close()


def test_nothing_is_downloaded_for_search_until_the_box_is_focused(browser, served: str) -> None:
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(served)
    page.wait_for_load_state("networkidle")
    assert not [url for url in requests if "search" in url or "lunr" in url]
    page.focus("#site-search-q")
    page.wait_for_function("document.querySelectorAll('link[rel=prefetch]').length === 4")
    page.wait_for_load_state("networkidle")
    assert any(url.endswith("search/meta.json") for url in requests)
    page.fill("#site-search-q", "attention")
    page.press("#site-search-q", "Enter")
    page.wait_for_url("**/search/?q=attention")
    page.locator("#search-results > li").first.wait_for()
    assert page.locator("#search-results h2").first.inner_text() == "Attention Is All You Need"
    page.close()


def test_search_without_javascript_says_so(browser, served: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served + "search/?q=lora")
    notice = page.locator("p.notice")
    assert notice.is_visible()
    assert notice.inner_text().startswith(
        "Search runs in your browser and needs JavaScript, which is turned off."
    )
    assert page.locator("#search-results > li").count() == 0
    context.close()


def test_cards_expand_authors_and_abstracts_without_javascript(browser, served: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served)
    card = page.locator("article.card").first
    more_authors = card.locator("details.more-authors summary")
    assert more_authors.inner_text().startswith("+")
    more_authors.click()
    assert card.locator("details.more-authors").get_attribute("open") is not None
    preview = card.locator("details.abstract summary .preview")
    assert preview.is_visible()
    card.locator("details.abstract summary").click()
    assert not preview.is_visible()
    assert card.locator("details.abstract p").first.is_visible()
    assert card.locator("a.code-badge").inner_text().startswith("Code")
    context.close()


def test_theme_toggle_is_remembered_and_slash_focuses_search(browser, served: str) -> None:
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(served + "topics/")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.click("#theme-toggle")  # system → light
    page.click("#theme-toggle")  # light → dark
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.goto(served + "archive/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search-q"
    context.close()


def test_copy_bibtex(browser, served: str) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(served + "papers/2106.09685/")
    page.click("button[data-copy=bibtex]")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("@misc{hu2021lora,")
    assert "author = {Edward J. Hu and Yelong Shen and Phillip Wallis" in copied
    context.close()


@pytest.mark.parametrize(
    "query",
    ["reinforcementlearning~8", "1:2", "e^x", "a:b:c", "title:", ":x", "*", "~", "^", "+", "-", '"quoted"'],
)
def test_odd_queries_neither_fail_nor_freeze(browser, served: str, query: str) -> None:
    page = browser.new_page()
    page.goto(served + "search/")
    page.fill("#search-q", query)
    page.press("#search-q", "Enter")
    page.wait_for_function(
        "document.getElementById('search-status').textContent !== 'Loading the search index…'", timeout=10_000
    )
    assert "cannot be understood" not in page.locator("#search-status").inner_text()
    page.close()


@pytest.fixture(scope="module")
def served_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A generated 1,500-paper archive: common terms span several chunks, so the browser reads
    them as a large site does."""
    from .test_valid_output import load_corpus_generator

    site = tmp_path_factory.mktemp("archive")
    load_corpus_generator()(site, 1_500)
    out = site / "_site"
    build(site, BuildOptions(output=out, base_url="http://127.0.0.1/sub/"))
    with serving(out) as url:
        yield url, site


def test_search_on_a_large_archive_shows_lunr_js_ranking_page_by_page(browser, served_archive) -> None:  # type: ignore[no-untyped-def]
    from sitegen.build import plan_site
    from sitegen.search import search_documents

    from .test_search import engine_search, whole_index_file

    url, site = served_archive
    documents = search_documents(plan_site(site, BuildOptions()).site)
    query = "language model"
    (answer,) = engine_search(site / "_site", [query], whole_index_file(documents, site))
    expected = [documents[int(ref)].title for ref, _ in answer["expected"][:40]]
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url + "search/?q=language+model")
    page.wait_for_function("document.querySelectorAll('#search-results > li').length === 20")
    assert page.locator("#search-status").inner_text().startswith("About ")
    page.locator("#search-more").click()
    page.wait_for_function("document.querySelectorAll('#search-results > li').length === 40")
    assert page.locator("#search-results h2").all_inner_texts() == expected
    fetched = [request for request in requests if "/search/" in request and request.endswith(".json")]
    files = sum(1 for _ in (site / "_site/search").rglob("*.json"))
    assert 0 < len(fetched) < files / 10, "only the parts of the index the query needs"
    page.close()
