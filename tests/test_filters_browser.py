"""Personal filters on listing pages (assets/filters.js) in Debian's Chromium, under a sub-path:
what is highlighted and hidden after a reload, on another page, after "Clear", and without
JavaScript. The expected papers are worked out here from the built HTML by the documented rules."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sitegen.build import BuildOptions, build

from .helpers import soup
from .test_browser import REPO, debian_chromium, serving

KEY = "sitegen-filters"
MONTH = "2024/02/"
TOPIC = "topics/reinforcement-learning/"
AXE = REPO / "tools/node_modules/axe-core/axe.min.js"

# The rules of docs/theme.md ("Personal filters"), as filters.js applies them.
LETTERS = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "\u0131": "i",
}  # dotless i


def fold(text: str) -> str:
    """Capitals, accents, ligatures and runs of spaces do not count."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M")).lower()
    return " ".join("".join(LETTERS.get(c, c) for c in bare).split())


def terms(value: str) -> list[str]:
    return [" ".join(term.split()) for term in value.split(",") if term.strip()]


def word_match(term: str, text: str) -> bool:
    """The term's words start words of the text, in order, with only non-letters between them."""
    words = [word for word in re.split(r"[\W_]+", fold(term)) if word]
    return bool(words) and re.search(r"(?:^|[\W_])" + r"[^\W_]*[\W_]+".join(words), text) is not None


@dataclass(frozen=True)
class Card:
    title: str
    text: str
    authors: tuple[str, ...]


def read_cards(page: Path) -> list[Card]:
    """The papers of a built listing page: title, folded title + TL;DR + abstract, folded authors."""
    cards = []
    for item in soup(page).select("ol.papers > li"):
        for summary in item.find_all("summary"):
            summary.decompose()  # "+4 more", and the abstract's preview and "more"
        title = item.select_one(".card-title").get_text()
        parts = [title] + [element.get_text() for element in item.select(".tldr, details.abstract")]
        byline = item.select_one(".byline").find_all(string=True)
        names = (fold(name) for chunk in byline for name in chunk.split(","))
        cards.append(Card(title.strip(), fold(" \n ".join(parts)), tuple(name for name in names if name)))
    return cards


def expected(cards: list[Card], keywords: str, authors: str, exclude: str) -> tuple[set[str], set[str]]:
    """(highlighted, hidden) titles; a paper that is both is hidden."""
    hidden = {c.title for c in cards if any(word_match(term, c.text) for term in terms(exclude))}
    highlighted = {
        c.title
        for c in cards
        if any(word_match(term, c.text) for term in terms(keywords))
        or any(fold(name) in c.authors for name in terms(authors))
    }
    return highlighted - hidden, hidden


def papers(count: int) -> str:
    return f"{count} paper" if count == 1 else f"{count} papers"


def status_text(highlighted: int | None, hidden: int, shown: bool = False) -> str:
    """The status line; ``highlighted`` is None when no keyword or author is set."""
    parts = []
    if highlighted is not None:
        parts.append(f"{papers(highlighted)} highlighted" if highlighted else "No paper highlighted")
    if hidden:
        parts.append(f"{papers(hidden)} hidden by your filters" + (", shown anyway" if shown else ""))
    return " · ".join(parts)


CARD_STATES = """() => Array.from(document.querySelectorAll("ol.papers > li"), (li) => {
  const note = li.querySelector(".filter-note");
  return {
    title: li.querySelector(".card-title").textContent.trim(),
    shown: li.getClientRects().length > 0,
    match: li.querySelector("article.card").classList.contains("card--match"),
    note: note && !note.hidden ? note.textContent : "",
  };
})"""


def card_states(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(CARD_STATES)  # type: ignore[no-any-return]


def shown_and_highlighted(page: Any) -> tuple[set[str], set[str]]:
    """(highlighted and visible, not visible) titles, as the reader sees the page."""
    states = card_states(page)
    return {s["title"] for s in states if s["match"] and s["shown"]}, {
        s["title"] for s in states if not s["shown"]
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with debian_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The example site built under /sub/ and served: (its address, the built folder)."""
    out = tmp_path_factory.mktemp("filters") / "_site"
    build(REPO, BuildOptions(output=out, base_url="http://127.0.0.1/sub/"))
    with serving(out) as url:
        yield url, out


def open_panel(page: Any) -> None:
    if page.locator("#filters details").get_attribute("open") is None:
        page.click("#filters summary")


def test_keywords_authors_and_exclusions_are_remembered_across_pages(browser, example) -> None:
    served, out = example
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served + MONTH)
    assert page.locator("#filters").is_visible()
    assert not page.locator("#filter-keywords").is_visible(), "the panel starts closed"
    assert page.locator("#filter-status").inner_text() == "", "no filters, no status"

    keywords, authors, exclude = "LoRA, quantum", "  max   WELLING ", "policy"
    open_panel(page)
    page.fill("#filter-keywords", keywords)
    page.fill("#filter-authors", authors)
    page.fill("#filter-exclude", exclude)
    page.wait_for_function(f"(JSON.parse(localStorage.getItem('{KEY}')) || {{}}).exclude === 'policy'")
    assert json.loads(page.evaluate(f"localStorage.getItem('{KEY}')")) == {
        "keywords": keywords,
        "authors": authors,
        "exclude": exclude,
    }
    page.reload()

    cards = read_cards(out / MONTH / "index.html")
    highlighted, hidden = expected(cards, keywords, authors, exclude)
    assert {
        "LoRA: Low-Rank Adaptation of Large Language Models",
        "QLoRA: Efficient Finetuning of Quantized LLMs",  # "LoRA" in its abstract, not in "QLoRA"
        "Neural Message Passing for Quantum Chemistry",
        "E(n) Equivariant Graph Neural Networks",  # by Max Welling
    } <= highlighted
    assert {"Proximal Policy Optimization Algorithms", "Trust Region Policy Optimization"} <= hidden
    assert highlighted and hidden and len(highlighted | hidden) < len(cards)

    assert shown_and_highlighted(page) == (highlighted, hidden)
    assert page.input_value("#filter-keywords") == keywords
    assert page.input_value("#filter-exclude") == exclude
    status = page.locator("#filter-status")
    assert status.get_attribute("role") == "status"
    assert status.inner_text() == status_text(len(highlighted), len(hidden))
    notes = {s["title"]: s["note"] for s in card_states(page)}
    assert notes["LoRA: Low-Rank Adaptation of Large Language Models"] == "Matches your keywords: LoRA"
    assert notes["E(n) Equivariant Graph Neural Networks"] == "By your authors: max WELLING"
    assert notes["Distilling the Knowledge in a Neural Network"] == ""

    show = page.locator("#filter-show")
    assert show.inner_text() == "Show them"
    show.click()
    assert all(s["shown"] for s in card_states(page))
    assert notes_of(page, hidden) == {"Hidden by your filters: policy"}
    assert page.locator("article.card--excluded").count() == len(hidden)
    assert status.inner_text() == status_text(len(highlighted), len(hidden), shown=True)
    assert show.inner_text() == "Hide them"
    show.click()
    assert shown_and_highlighted(page) == (highlighted, hidden)

    page.goto(served + TOPIC)
    topic_cards = read_cards(out / TOPIC / "index.html")
    on_topic = expected(topic_cards, keywords, authors, exclude)
    assert on_topic[1], "the exclusion hides papers on the topic page too"
    assert shown_and_highlighted(page) == on_topic
    assert page.locator("#filter-status").inner_text() == status_text(len(on_topic[0]), len(on_topic[1]))

    open_panel(page)
    page.click("#filter-clear")
    states = card_states(page)
    assert all(s["shown"] and not s["match"] and not s["note"] for s in states)
    assert len(states) == len(topic_cards)
    assert page.locator("#filter-status").inner_text() == ""
    assert page.locator("#filter-show").is_hidden()
    assert page.evaluate(f"localStorage.getItem('{KEY}')") is None
    page.goto(served + MONTH)
    assert all(s["shown"] and not s["match"] for s in card_states(page))
    assert page.input_value("#filter-keywords") == ""
    assert errors == []
    context.close()


def notes_of(page: Any, titles: set[str]) -> set[str]:
    return {s["note"] for s in card_states(page) if s["title"] in titles}


def test_without_javascript_the_panel_is_absent_and_every_paper_shows(browser, example) -> None:
    served, out = example
    saved = json.dumps({"keywords": "lora", "authors": "", "exclude": "policy"})
    origin = served.split("/sub/")[0]
    context = browser.new_context(
        java_script_enabled=False,
        storage_state={
            "cookies": [],
            "origins": [{"origin": origin, "localStorage": [{"name": KEY, "value": saved}]}],
        },
    )
    page = context.new_page()
    for path in (MONTH, TOPIC, ""):
        page.goto(served + path)
        assert page.locator("#filters").count() == 1
        assert not page.locator("#filters").is_visible()
        assert not page.locator("#filter-keywords").is_visible()
        states = card_states(page)
        assert len(states) == len(read_cards(out / path / "index.html")) > 0
        assert all(s["shown"] and not s["match"] and not s["note"] for s in states)
    context.close()


@pytest.mark.skipif(not AXE.is_file(), reason="axe-core is missing: run 'npm ci --prefix tools'")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_active_filters_pass_axe(browser, example, scheme: str) -> None:
    served, _ = example
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(served + MONTH)
    saved = json.dumps({"keywords": "lora", "authors": "Max Welling", "exclude": "policy"})
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [KEY, saved])
    page.reload()
    open_panel(page)
    page.click("#filter-show")
    assert page.locator(".filter-note:visible").count() > 3
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert [f"{v['id']}: {v['help']}" for v in result["violations"]] == []
    context.close()


# A tiny site that pins the matching rules on purpose-made titles and names.
RULES_PAPERS = {
    "2401.00001": ("LoRA for everyone", "Petar Veličković, Ada Lovelace"),
    "2401.00002": ("Explorations of the deep", "Alan Turing"),
    "2401.00003": ("Large Language Models", "Grace Hopper"),
    "2401.00004": ("A language-modelling toolkit", "Grace  Hopper-Smith"),
    "2401.00005": ("Models of language", "Ada Lovelace"),
    "2401.00006": ("Café culture on graphs", "Søren Kierkegaard"),
}
RULES_CONFIG = """\
title: Rules
base_url: https://example.org/
topics:
  vision: Computer vision
"""


@pytest.fixture(scope="module")
def rules_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("rules") / "site"
    (site / "content/papers").mkdir(parents=True)
    (site / "sitegen.yaml").write_text(RULES_CONFIG, encoding="utf-8")
    for paper_id, (title, authors) in RULES_PAPERS.items():
        (site / f"content/papers/{paper_id}.md").write_text(
            f"---\nid: {paper_id}\ntitle: {title}\nauthors: [{authors}]\ndate: 2024-01-15\n"
            "topics: [vision]\n---\nAn abstract that says nothing in particular.\n",
            encoding="utf-8",
        )
    out = site.parent / "_site"
    build(site, BuildOptions(output=out, base_url="http://127.0.0.1/sub/"))
    with serving(out) as url:
        yield url + "2024/01/15/"


@pytest.mark.parametrize(
    ("keywords", "authors", "exclude", "highlighted", "hidden"),
    [
        ("lora", "", "", {"LoRA for everyone"}, set()),  # not "Explorations"
        ("LANGUAGE MODEL", "", "", {"Large Language Models", "A language-modelling toolkit"}, set()),
        ("cafe, soren", "", "", {"Café culture on graphs"}, set()),
        ("", "petar   VELICKOVIC", "", {"LoRA for everyone"}, set()),
        ("", "Soren Kierkegaard, velickovic", "", {"Café culture on graphs"}, set()),  # whole names only
        ("", "", "graph", set(), {"Café culture on graphs"}),
        ("lora, language", "", "LoRA", {"Large Language Models", "A language-modelling toolkit", "Models of language"}, {"LoRA for everyone"}),
        (" , ;; ,", "", "-", set(), set()),  # terms without letters or digits are ignored
    ],
)  # fmt: skip
def test_matching_rules(
    browser,
    rules_site: str,
    keywords: str,
    authors: str,
    exclude: str,
    highlighted: set[str],
    hidden: set[str],
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(rules_site)
    assert len(card_states(page)) == len(RULES_PAPERS)
    saved = json.dumps({"keywords": keywords, "authors": authors, "exclude": exclude})
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [KEY, saved])
    page.reload()
    assert shown_and_highlighted(page) == (highlighted, hidden)
    asked = bool(re.search(r"[^\W_]", keywords + authors))
    status = status_text(len(highlighted) if asked else None, len(hidden)) if asked or hidden else ""
    assert page.locator("#filter-status").inner_text() == status
    context.close()


def test_damaged_or_refused_storage_leaves_every_paper(browser, rules_site: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(rules_site)
    page.evaluate(f"localStorage.setItem('{KEY}', '{{not json')")
    page.reload()
    assert page.locator("#filters").is_visible()
    assert all(s["shown"] and not s["match"] for s in card_states(page))
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new Error('denied'); }})"
    )
    page.reload()
    open_panel(page)
    page.fill("#filter-exclude", "graph")
    page.locator("#filter-exclude").blur()
    assert shown_and_highlighted(page) == (set(), {"Café culture on graphs"})
    assert errors == []
    context.close()


def test_the_storage_key_is_the_documented_one() -> None:
    script = (REPO / "themes/default/static/assets/filters.js").read_text(encoding="utf-8")
    docs = (REPO / "docs/theme.md").read_text(encoding="utf-8")
    assert f'var KEY = "{KEY}";' in script
    assert f"`{KEY}`" in docs


def test_a_change_in_one_tab_applies_in_the_others(browser, rules_site: str) -> None:
    context = browser.new_context()
    first, second = context.new_page(), context.new_page()
    first.goto(rules_site)
    second.goto(rules_site)
    open_panel(first)
    first.fill("#filter-exclude", "graph")
    second.wait_for_function("document.querySelectorAll('ol.papers > li[hidden]').length === 1")
    assert shown_and_highlighted(second) == (set(), {"Café culture on graphs"})
    assert second.input_value("#filter-exclude") == "graph"
    context.close()
