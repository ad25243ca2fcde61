"""Author pages, related papers, trending and the data export, on small sites built in each test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from sitegen.authors import author_key, name_slug
from sitegen.build import BuildOptions, build, plan_site
from sitegen.content import find_abstract_files, load_papers
from sitegen.related import RELATED_LIMIT, related_papers
from sitegen.render import CardRenderer, make_environment, render_pages
from tests.conftest import SiteFactory, paper_text
from tests.helpers import soup

REPO = Path(__file__).resolve().parent.parent


def paper(
    paper_id: str,
    title: str,
    authors: str = "[Ada Lovelace]",
    date: str = "2024-03-01",
    body: str = "An abstract.",
    extra: str = "",
) -> str:
    return paper_text(paper_id, title, date, topics=None, body=body, extra=extra, authors=authors)


def built(site: Path) -> Path:
    out = site.parent / "out"
    build(site, BuildOptions(output=out))
    return out


def author_links(page: Path) -> dict[str, str]:
    return {a.get_text(): a["href"] for a in soup(page).select("ul.authors a")}


# --- authors -----------------------------------------------------------------------------------


def test_names_equal_after_nfc_and_whitespace_folding_are_one_author(make_site: SiteFactory) -> None:
    decomposed = "Jose\u0301  Garci\u0301a"  # combining accents, two spaces
    site = make_site(
        {
            "content/a.md": paper("a", "First", f'["{decomposed}"]', date="2024-03-01"),
            "content/b.md": paper("b", "Second", '["José García"]', date="2024-03-02"),
        }
    )
    out = built(site)
    assert author_key(decomposed) == "José García"
    page = soup(out / "authors/jose-garcia/index.html")
    assert page.h1.get_text() == "José García"
    # Newest first.
    assert [a.get_text() for a in page.select(".card-title a")] == ["Second", "First"]
    assert not (out / "authors/jose-garcia-2").exists()
    index = soup(out / "authors/index.html")
    assert [li.get_text(" ", strip=True) for li in index.select("ul.author-index li")] == [
        "José García 2 papers"
    ]


def test_names_sharing_a_slug_get_distinct_slugs_that_new_papers_do_not_move(
    make_site: SiteFactory,
) -> None:
    site = make_site(
        {
            "content/new.md": paper("new", "Newer", "[ADA LOVELACE]", date="2024-03-05"),
            "content/old.md": paper("old", "Older", "[Ada Lovelace]", date="2024-03-01"),
        }
    )
    out = built(site)
    # The name listed first on the site keeps the plain slug.
    assert author_links(out / "papers/old/index.html") == {"Ada Lovelace": "/authors/ada-lovelace/"}
    assert author_links(out / "papers/new/index.html") == {"ADA LOVELACE": "/authors/ada-lovelace-2/"}
    assert soup(out / "authors/ada-lovelace-2/index.html").h1.get_text() == "ADA LOVELACE"

    (site / "content/newest.md").write_text(paper("newest", "Newest", "[Ada LOVELACE]", date="2024-03-09"))
    out = built(site)
    assert author_links(out / "papers/old/index.html") == {"Ada Lovelace": "/authors/ada-lovelace/"}
    assert author_links(out / "papers/new/index.html") == {"ADA LOVELACE": "/authors/ada-lovelace-2/"}
    assert author_links(out / "papers/newest/index.html") == {"Ada LOVELACE": "/authors/ada-lovelace-3/"}


def test_every_name_gets_a_safe_slug() -> None:
    assert name_slug("Łukasz Kaiser") == "lukasz-kaiser"
    assert name_slug("Petar Veličković") == "petar-velickovic"
    assert name_slug("Aidan N. Gomez") == "aidan-n-gomez"
    assert name_slug("Søren Kierkegaard") == "soren-kierkegaard"
    assert name_slug("Johann Strauß") == "johann-strauss"
    assert name_slug("Hans Christian Ørsted") == "hans-christian-orsted"
    chinese = name_slug("王小明")
    assert re.fullmatch(r"author-[0-9a-f]{10}", chinese)
    assert name_slug("王小明") == chinese != name_slug("李华")
    assert name_slug("../../etc/passwd") == "etc-passwd"


def test_author_pages_show_affiliations_and_paginate(make_site: SiteFactory) -> None:
    authors = "[{name: Grace Hopper, affiliation: Yale}, Alan Turing]"
    files = {
        f"content/p{n:02d}.md": paper(f"p{n:02d}", f"Paper {n}", authors, date=f"2024-03-{n + 1:02d}")
        for n in range(25)
    }
    site = make_site(files, config="title: T\nbase_url: https://example.org/sub/\nper_page: 10\n")
    out = built(site)
    page = soup(out / "authors/grace-hopper/index.html")
    assert page.select_one(".affiliations").get_text() == "Yale"
    assert page.select_one(".count").get_text(" ", strip=True).startswith("25 papers · page 1 of 3")
    assert (out / "authors/grace-hopper/page/3/index.html").exists()
    assert not (out / "authors/grace-hopper/page/4").exists()
    links = author_links(out / "papers/p00/index.html")
    assert links == {"Grace Hopper": "/sub/authors/grace-hopper/", "Alan Turing": "/sub/authors/alan-turing/"}
    card_links = [a["href"] for a in soup(out / "index.html").select(".byline a")]
    assert card_links == ["/sub/authors/grace-hopper/", "/sub/authors/alan-turing/"]


def test_user_text_in_author_names_is_escaped(make_site: SiteFactory) -> None:
    site = make_site({"content/a.md": paper("a", "A", '["<script>alert(1)</script> Smith"]')})
    out = built(site)
    html = (out / "authors/index.html").read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Smith" in html
    assert (out / "authors/script-alert-1-script-smith/index.html").exists()


# --- related papers ----------------------------------------------------------------------------

TOPICS = {
    "protein": "Protein folding structure prediction with residue contact maps and evolutionary couplings.",
    "retrieval": "Dense passage retrieval for open domain question answering with dual encoders.",
    "diffusion": "Denoising diffusion probabilistic models generate images by reversing a noising process.",
    "robotics": "Quadruped robot locomotion learned with reinforcement learning and domain randomization.",
    "compiler": "Compiler optimization of loop tiling and vectorization for sparse tensor kernels.",
    "weather": "Medium range weather forecasting with graph neural networks on icosahedral meshes.",
}


VARIANTS = (
    "We measure accuracy across benchmarks and report calibration curves.",
    "Our ablation isolates the contribution of pretraining scale and tokenizer choice.",
    "A user study with practitioners evaluates usability in deployment.",
)


def related_site(make_site: SiteFactory) -> Path:
    files = {}
    for number, (name, text) in enumerate(TOPICS.items()):
        for variant, extra in enumerate(VARIANTS):
            files[f"content/{name}{variant}.md"] = paper(
                f"{name}{variant}",
                f"{name.capitalize()} study {variant}",
                body=f"{text} {extra}",
                date=f"2024-03-{number + 1:02d}",
            )
    # protein0 with one sentence reworded.
    files["content/protein-copy.md"] = paper(
        "protein-copy",
        "Protein study revisited",
        body=f"{TOPICS['protein']} We measure accuracy across benchmarks and also report calibration plots.",
    )
    return make_site(files)


def test_a_near_duplicate_ranks_first_and_related_papers_share_the_subject(make_site: SiteFactory) -> None:
    site = related_site(make_site)
    loaded = load_papers(find_abstract_files(site / "content"))
    related = related_papers(sorted(loaded.papers, key=lambda p: p.id))
    assert related["protein0"][0].id == "protein-copy"
    assert related["protein-copy"][0].id == "protein0"
    for paper_id, others in related.items():
        assert len(others) <= RELATED_LIMIT
        assert paper_id not in {other.id for other in others}
        subject = paper_id.rstrip("0123456789").removesuffix("-copy")
        assert others, paper_id
        same = [other.id.startswith(subject) for other in others]
        # Papers on the same subject first; others only after them, through a shared sentence.
        assert same == sorted(same, reverse=True) and same[:2] == [True, True], (paper_id, others)


def test_related_papers_appear_on_the_paper_page(make_site: SiteFactory) -> None:
    out = built(related_site(make_site))
    page = soup(out / "papers/protein0/index.html")
    items = page.select("section.related li a")
    assert items[0].get_text() == "Protein study revisited"
    assert items[0]["href"] == "/papers/protein-copy/"
    assert 1 <= len(items) <= RELATED_LIMIT


def test_a_paper_sharing_no_words_has_no_related_section(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": paper("a", "Cats", body="Felines purr loudly."),
            "content/b.md": paper("b", "Volcanoes", body="Magma erupts violently."),
        }
    )
    out = built(site)
    assert soup(out / "papers/a/index.html").select_one("section.related") is None


# --- trending ----------------------------------------------------------------------------------


def test_trending_ranks_the_last_7_and_30_days_by_upvotes_then_stars_then_date(
    make_site: SiteFactory,
) -> None:
    def votes(up: int | None, stars: int | None) -> str:
        return (f"upvotes: {up}\n" if up is not None else "") + (
            f"stars: {stars}\n" if stars is not None else ""
        )

    site = make_site(
        {
            "content/newest.md": paper("newest", "Newest", date="2024-03-31", extra=votes(5, None)),
            "content/starred.md": paper("starred", "Starred", date="2024-03-30", extra=votes(5, 100)),
            "content/edge7.md": paper("edge7", "Seventh day", date="2024-03-25", extra=votes(5, 100)),
            "content/day8.md": paper("day8", "Eighth day", date="2024-03-24", extra=votes(500, None)),
            "content/novotes.md": paper("novotes", "No votes", date="2024-03-28"),
            "content/edge30.md": paper("edge30", "Thirtieth day", date="2024-03-02", extra=votes(1, None)),
            "content/day31.md": paper("day31", "Thirty-first day", date="2024-03-01", extra=votes(900, None)),
        }
    )
    out = built(site)
    page = soup(out / "trending/index.html")
    week, month = page.select("section.trending")
    titles = [[a.get_text() for a in section.select(".card-title a")] for section in (week, month)]
    # Equal votes and stars: the newer first.
    assert titles[0] == ["Starred", "Seventh day", "Newest", "No votes"]
    assert titles[1] == ["Eighth day", "Starred", "Seventh day", "Newest", "Thirtieth day", "No votes"]


def test_trending_counts_back_from_the_newest_listing_day_not_the_clock(make_site: SiteFactory) -> None:
    import datetime as dt

    site = make_site(
        {
            "content/a.md": paper("a", "Listed last", date="2024-03-01", extra="upvotes: 3\n"),
            "content/b.md": paper("b", "A week before", date="2024-02-23", extra="upvotes: 9\n"),
        }
    )
    out = site.parent / "out"
    # Two years after the newest paper, a "last 7 days" counted from the clock would be empty.
    build(site, BuildOptions(output=out, today=dt.date(2026, 1, 1)))
    week, month = soup(out / "trending/index.html").select("section.trending")
    assert [a.get_text() for a in week.select(".card-title a")] == ["Listed last"]
    assert [a.get_text() for a in month.select(".card-title a")] == ["A week before", "Listed last"]


# --- data export -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "_site"
    build(REPO, BuildOptions(output=out, base_url="https://example.org/sub/"))
    return out / "data"


def validator(data: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads((data / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_every_data_file_is_valid_against_the_schema(example_data: Path) -> None:
    check = validator(example_data)
    files = sorted(example_data.glob("*.json"))
    assert [f.name for f in files] == [
        "2024-01.json",
        "2024-02.json",
        "2024-03.json",
        "2024-04.json",
        "index.json",
        "schema.json",
    ]
    for file in files:
        if file.name != "schema.json":
            errors = [error.message for error in check.iter_errors(json.loads(file.read_text()))]
            assert errors == [], file.name


def test_the_schema_rejects_what_it_should(example_data: Path) -> None:
    check = validator(example_data)
    month = json.loads((example_data / "2024-03.json").read_text())
    month["papers"][0]["date"] = "14 March 2024"
    assert not check.is_valid(month)
    month = json.loads((example_data / "2024-03.json").read_text())
    del month["papers"][0]["authors"]
    assert not check.is_valid(month)
    index = json.loads((example_data / "index.json").read_text())
    index["kind"] = "month"
    assert not check.is_valid(index)


def test_the_months_hold_every_paper_once_with_every_field(example_data: Path) -> None:
    index = json.loads((example_data / "index.json").read_text())
    loaded = load_papers(find_abstract_files(REPO / "content"))
    published = {p.id: p for p in loaded.papers if not p.draft}
    records = {}
    for month in index["months"]:
        assert month["url"] == f"https://example.org/sub/data/{month['month']}.json"
        document = json.loads((example_data / f"{month['month']}.json").read_text())
        assert document["count"] == month["count"] == len(document["papers"])
        for record in document["papers"]:
            assert record["id"] not in records
            assert record["date"].startswith(month["month"])
            records[record["id"]] = record
    assert set(records) == set(published) == {entry["id"] for entry in index["papers"]}
    assert index["count"] == len(published)
    for paper_id, source in published.items():
        record = records[paper_id]
        assert [author["name"] for author in record["authors"]] == [a.name for a in source.authors]
        assert record["title"] == source.title
        assert record["abstract"] == source.abstract
        assert record["links"] == dict(source.links)
        assert record["upvotes"] == source.upvotes
        assert record["url"] == f"https://example.org/sub/papers/{paper_id}/"


def test_the_documented_schema_is_the_shipped_one(example_data: Path) -> None:
    text = (REPO / "docs/data.md").read_text()
    block = re.search(r"```json\n(.*?)\n```", text, re.DOTALL)
    assert block is not None
    assert json.loads(block.group(1)) == json.loads((example_data / "schema.json").read_text())


def test_a_theme_made_before_these_pages_still_builds_with_the_defaults(make_site: SiteFactory) -> None:
    import shutil

    site = make_site(
        {"content/a.md": paper("a", "A")},
        config="title: T\nbase_url: https://example.org/\ntheme: old\n",
    )
    old = site / "themes/old"
    shutil.copytree(REPO / "themes/default", old)
    for name in ("authors.html", "author.html", "trending.html"):
        (old / "templates" / name).unlink()
    (old / "templates/paper.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Old theme: {{ paper.title }}</h1>{% endblock %}'
    )
    out = built(site)
    assert soup(out / "papers/a/index.html").h1.get_text() == "Old theme: A"
    assert soup(out / "authors/ada-lovelace/index.html").h1.get_text() == "Ada Lovelace"
    assert soup(out / "trending/index.html").h1.get_text() == "Trending"


def test_trending_cards_are_headed_below_their_period(make_site: SiteFactory) -> None:
    out = built(make_site({"content/a.md": paper("a", "A", extra="upvotes: 1\n")}))
    headings = [h.name for h in soup(out / "trending/index.html").select("main h1, main h2, main h3")]
    assert headings == ["h1", "h2", "h3", "h2", "h3"]


def test_a_sites_own_card_macro_is_used_on_every_list(make_site: SiteFactory) -> None:
    # Cards are rendered once per paper and reused on every list (render.CardRenderer): the
    # site's own _macros.html must still be the one used, on every kind of list.
    macros = (REPO / "themes/default/templates/_macros.html").read_text()
    custom = macros.replace('<article class="card">', '<article class="card custom-card">')
    site = make_site(
        {
            "content/a.md": paper("a", "A", extra="upvotes: 1\ntopics: [vision]\n"),
            "templates/_macros.html": custom,
        }
    )
    out = built(site)
    for page in ("index.html", "2024/03/index.html", "2024/03/01/index.html", "topics/vision/index.html",
                 "authors/ada-lovelace/index.html", "trending/index.html"):  # fmt: skip
        cards = soup(out / page).select("article.card")
        assert cards and all("custom-card" in card["class"] for card in cards), page


def test_cards_are_kept_while_pages_render_and_let_go_after(make_site: SiteFactory) -> None:
    site = make_site({"content/a.md": paper("a", "A"), "content/b.md": paper("b", "B")})
    plan = plan_site(site, BuildOptions())
    env = make_environment(plan.config, plan.template_dirs)
    cards = env.globals["card"]
    assert isinstance(cards, CardRenderer)
    kept = []
    for _ in render_pages(plan.pages, env):
        kept.append(len(cards))
    assert max(kept) >= 2  # both papers' cards, reused across the lists
    assert len(cards) == 0


def plainly_related(texts: list[tuple[str, str]]) -> list[list[int]]:
    """Related papers by their definition, one paper and one term at a time (as sitegen first
    made them): tf-idf weights over the words both counted; a paper's signature is its
    ``SIGNATURE_TERMS`` strongest, ties in the order its terms first occur, divided by the norm
    (``math.hypot``) of all its weights; a term keeps the ``POSTINGS_LIMIT`` strongest signature
    entries, ties to the earlier paper; a paper's score against another is the sum, in its
    signature's order, of weight times weight; best first, ties to the earlier paper."""
    import heapq
    import math
    from collections import Counter

    from sitegen import related

    counts = []
    for title, words in texts:
        plainly = related._words(words) + related._words(title) * related.TITLE_WEIGHT
        counts.append(Counter(term for term in map(related._fold, plainly) if term))
    frequency = Counter(term for count in counts for term in count)
    idf = {term: math.log(len(texts) / df) for term, df in frequency.items() if 1 < df < len(texts)}
    signatures = []
    for count in counts:
        terms = [term for term in count if term in idf]
        weights = [(1.0 + math.log(count[term])) * idf[term] for term in terms]
        norm = math.hypot(*weights) or 1.0
        strongest = sorted(range(len(terms)), key=weights.__getitem__, reverse=True)
        signatures.append([(weights[i] / norm, terms[i]) for i in strongest[: related.SIGNATURE_TERMS]])
    postings: dict[str, list[tuple[float, int]]] = {}
    for number, signature in enumerate(signatures):
        for weight, term in signature:
            postings.setdefault(term, []).append((weight, -number))
    postings = {term: heapq.nlargest(related.POSTINGS_LIMIT, posted) for term, posted in postings.items()}
    expected = []
    for number, signature in enumerate(signatures):
        scores: dict[int, float] = {}
        for weight, term in signature:
            for other_weight, other in postings[term]:
                scores[other] = scores.get(other, 0.0) + weight * other_weight
        scores.pop(-number, None)
        best = sorted(((score, other) for other, score in scores.items()), reverse=True)[:RELATED_LIMIT]
        expected.append([-other for score, other in best if score >= related.MIN_SCORE])
    return expected


def test_related_papers_are_exactly_those_of_a_plain_loop(tmp_path: Path) -> None:
    """``related_numbers`` (numpy: rows of terms, a bound that skips weak terms before sorting,
    pairs scored some papers at a time) against its definition, on texts made for equal weights
    and scores: few words, few counts; papers of fewer, exactly and just more terms than a
    signature holds; common terms with more postings than are kept; groups of papers related
    only to each other."""
    import random

    from sitegen import related

    rng = random.Random(7)
    words = [f"w{chr(97 + n // 26)}{chr(97 + n % 26)}" for n in range(70)]
    texts = []
    for number in range(400):
        size = rng.choice([0, 3, 9, 10, 11, 12, 25, 60])
        abstract = [rng.choice(words[: 10 + number % 60]) for _ in range(size)]
        if number % 20 < 3:  # groups of three papers with words of their own: two related each
            abstract = [f"own{number // 20}x{k}" for k in range(12)] + abstract[:2]
        title = rng.sample(words, rng.randint(0, 4))
        texts.append((" ".join(title), " ".join([*abstract, "the", "42", "paper"])))
    expected = plainly_related(texts)
    old_batch = related._PAPERS_AT_ONCE
    try:
        related._PAPERS_AT_ONCE = 64  # several batches
        assert related.related_numbers(texts) == expected
        assert related.related_numbers(texts, cache_dir=tmp_path) == expected
        assert related.related_numbers(texts, cache_dir=tmp_path) == expected  # terms from the cache
    finally:
        related._PAPERS_AT_ONCE = old_batch
    assert sum(len(found) == RELATED_LIMIT for found in expected) > 100
    assert any(0 < len(found) < RELATED_LIMIT for found in expected)
    assert related.related_numbers([]) == []
    assert related.related_numbers([("", "")]) == [[]]


def test_the_generated_corpus_has_the_related_papers_of_a_plain_loop(tmp_path: Path) -> None:
    """The same on the benchmark's generated corpus (Zipf-distributed words, as on an archive)."""
    from sitegen import related

    from .test_valid_output import load_corpus_generator

    load_corpus_generator()(tmp_path / "corpus", 1500)
    texts = related.related_texts(plan_site(tmp_path / "corpus", BuildOptions(cache=False)).site.papers)
    expected = plainly_related(texts)
    assert related.related_numbers(texts) == expected
    assert sum(map(len, expected)) > 10


def test_related_papers_are_found_among_many_papers() -> None:
    """Papers numbered past 46,340, where a pair's number no longer fits 32 bits."""
    import numpy as np

    from sitegen import related

    papers = np.array([0, 1, 46_341, 49_999], dtype=np.int32)
    entries = related._Signatures(papers, np.zeros(4, np.int32), np.array([0.9, 0.3, 0.8, 0.7]))
    found = related._best_matches(entries, entries, 50_000, RELATED_LIMIT)
    assert found[0] == [46_341, 49_999, 1]
    assert found[49_999] == [0, 46_341, 1]
    assert sum(map(len, found)) == 12
