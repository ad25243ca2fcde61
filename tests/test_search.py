"""Search: the pinned lunr.js, Python terms identical to lunr.js's, and an index lunr.js queries."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from lunr.builder import Builder

from sitegen.build import BuildOptions, build, plan_site
from sitegen.content import find_abstract_files, load_papers
from sitegen.search import (
    FIELDS,
    Layout,
    SearchDocument,
    build_index,
    chunked_index,
    document_postings,
    search_documents,
    stem,
    terms,
)
from sitegen.views import script_safe_json
from sitegen.writer import Output

from .test_valid_output import load_corpus_generator

REPO = Path(__file__).resolve().parent.parent
LUNR_JS = REPO / "themes/default/static/assets/vendor/lunr/lunr.min.js"
WORD_LIST = Path("/usr/share/dict/american-english")
NODE = shutil.which("node")


def vendor_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("vendor_lunr", REPO / "scripts" / "vendor_lunr.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_lunr_js_is_the_pinned_release_with_its_licence() -> None:
    vendor = vendor_script()
    assert hashlib.sha256(LUNR_JS.read_bytes()).hexdigest() == vendor.SHA256
    assert LUNR_JS.read_bytes().startswith(b"/**\n * lunr - http://lunrjs.com")
    assert b"2.3.9" in LUNR_JS.read_bytes()[:200]
    licence = (LUNR_JS.parent / "LICENSE").read_text()
    assert "Oliver Nightingale" in licence and "Permission is hereby granted" in licence


def lunr_js_terms(texts: list[str]) -> list[list[str]]:
    assert NODE, "Node.js runs lunr.js for the parity tests"
    result = subprocess.run(
        [NODE, str(REPO / "tests/js/pipeline.js"), str(LUNR_JS)],
        input=json.dumps(texts), capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    parsed: list[list[str]] = json.loads(result.stdout)
    return parsed


EDGE_CASES = [
    "key", "survey", "display", "array", "deploy", "pathway", "day", "play", "by", "cry", "say", "yes",
    "yeti", "café", "naïve", "Über", "co-operate", "$O(n^2)$", "$\\alpha$-divergence", "question?",
    "don't", "😀ab", "emoji😀", "ﬁne", "İstanbul", "ΑΣ", "hello\u2003world", "a\u00a0b", "x\u2028y", "   ",
    "---", "_under_", "1.5", "gpt-3.5", "GaLore: Memory-Efficient", "(parenthesised)", "«quoted»",
]  # fmt: skip


def test_python_terms_are_lunr_js_terms() -> None:
    """The index is made in Python and queried by lunr.js: any difference is a word that never matches."""
    assert WORD_LIST.is_file(), "the word list comes from Debian's wamerican package (.ci/run installs it)"
    words = WORD_LIST.read_text(encoding="utf-8").split()
    assert len(words) > 50_000
    loaded = load_papers(find_abstract_files(REPO / "content"))
    corpus = [f"{p.title} {' '.join(a.name for a in p.authors)} {p.abstract_text}" for p in loaded.papers]
    texts = words + corpus + EDGE_CASES
    differences = [
        (text, ours, theirs) for text, theirs in zip(texts, lunr_js_terms(texts), strict=True)
        if (ours := terms(text)) != theirs
    ]  # fmt: skip
    assert differences == []


def test_the_stemmer_follows_lunr_js_not_lunr_py() -> None:
    from lunr.stemmer import porter_stemmer

    assert stem("key") == "key" and porter_stemmer.stem("key") == "kei"
    assert stem("survey") == "survey" and stem("cry") == "cri" and stem("by") == "by"
    assert terms("The surveys, on keys!") == ["survey", "key"]


@pytest.fixture(scope="module")
def example_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("search") / "_site"
    build(REPO, BuildOptions(output=out))
    return out


PARITY_QUERIES = [
    # single terms, common and rare, and words the two stemmers once disagreed on
    "model", "language", "lora", "attention", "key", "survey", "question", "nonexistentword",
    # several terms
    "language model", "antibody design", "transformer attention", "multilingual speech translation",
    "low-rank adaptation", "diffusion model image",
    # fields
    "title:retrieval", "authors:author", "topics:vision", "abstract:lora", "title:model title:language",
    # required and excluded
    "+lora -vision", "+model +language", "+language -model", "+design antibody", "-vision", "-model",
    "+nonexistentword model",
    # wildcards
    "transform*", "train*", "diffus*", "tr*", "*former", "lo*ra",
    # fuzzy
    "retreival~1", "difusion~1", "antibody~1", "zenka~1",
    # boosts
    "lora^10 adapter", "model^5 language", "title:kernel^0", "loss^0",
    # found by a randomised comparison: words that are Object.prototype's, ~0 with a wildcard,
    # terms absent from the field asked for
    "model -constructor", "constructor", "data -model*~0", "learn*~0", "authors:design", "+authors:design",
    "topics:loss", "-title:model",
]  # fmt: skip
PAGE_SIZE = 20
PAGES = 3
SEARCH_ENGINE = REPO / "themes/default/static/assets/search-engine.js"


def write_outputs(outputs: Iterable[Output], folder: Path) -> None:
    for output in outputs:
        path = folder / output.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(output.data)


def engine_search(
    site_out: Path, queries: list[str], whole_index: Path | None = None
) -> list[dict[str, Any]]:
    """Each query through the chunked engine (page by page, as the search page asks) and through
    lunr.js over the whole single index, when one is given; see tests/js/parity.js."""
    assert NODE
    if whole_index is None:
        whole_index = site_out / "empty-index.json"
        whole_index.write_text(json.dumps(build_index([])))
    result = subprocess.run(
        [NODE, str(REPO / "tests/js/parity.js"), str(LUNR_JS), str(SEARCH_ENGINE), str(whole_index),
         str(site_out / "search"), json.dumps(queries), str(PAGE_SIZE), str(PAGES)],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


def store(site_out: Path) -> list[list[Any]]:
    meta = json.loads((site_out / "search/meta.json").read_text())
    chunks = -(-meta["papers"] // meta["store"])
    oldest_first = [
        doc for k in range(chunks) for doc in json.loads((site_out / f"search/d/{k}.json").read_text())
    ]
    return oldest_first[::-1]  # by paper number


def test_lunr_js_finds_what_the_index_holds(example_index: Path) -> None:
    docs = store(example_index)
    queries = [
        "lora",
        "+lora -vision",
        "authors:vaswani",
        "topics:vision",
        "train*",
        "difusion~1",
        "key",
        "model",
    ]
    answers = {answer["query"]: answer for answer in engine_search(example_index, queries)}
    found = {query: answer["chunked"][-1] for query, answer in answers.items()}
    url = lambda results: [docs[int(ref)][0] for ref, _ in results]  # noqa: E731
    assert url(found["lora"])[0] == "papers/2106.09685/"
    assert url(found["+lora -vision"]) == ["papers/2106.09685/", "papers/2305.14314/"]
    assert url(found["authors:vaswani"]) == ["papers/1706.03762/"]
    assert len(found["topics:vision"]) == 9 and answers["topics:vision"]["total"] == 9
    assert len(found["train*"]) > len(found["lora"])
    assert "papers/2006.11239/" in url(found["difusion~1"])
    assert found["key"], "'key' is found: the stemmer matches lunr.js"
    assert len(found["model"]) > 20
    scores = [score for _, score in found["model"]]
    assert scores == sorted(scores, reverse=True)
    assert all(answer["exact"] for answer in answers.values()), "a small site's counts are exact"


def test_the_store_describes_every_indexed_paper(example_index: Path) -> None:
    docs = store(example_index)
    assert len(docs) == 44
    url, title, _authors, date, topics, _text = docs[0]
    assert (example_index / url / "index.html").is_file()
    assert isinstance(title, str) and isinstance(topics, list) and date.startswith("2024-")
    vocabulary = json.loads((example_index / "search/terms.json").read_text())
    assert vocabulary == sorted(vocabulary) and "attent" in vocabulary
    assert not [term for term in vocabulary if "$" in term], "math is indexed as text, not LaTeX"


def assert_same_results(answers: list[dict[str, Any]]) -> None:
    """Every page the engine gave has lunr.js's documents, order and scores over the whole index."""
    differences = []
    for answer in answers:
        expected = answer["expected"]
        for page, results in enumerate(answer["chunked"], start=1):
            if results != expected[: page * PAGE_SIZE]:
                differences.append((answer["query"], page, results[:3], expected[:3]))
        if answer["exact"] and answer["total"] != answer["expectedTotal"]:
            differences.append((answer["query"], "count", answer["total"], answer["expectedTotal"]))
    assert differences == []


def whole_index_file(documents: list[SearchDocument], folder: Path) -> Path:
    path = folder / "whole-index.json"
    path.write_text(script_safe_json(build_index(documents), separators=(",", ":")))
    return path


def both_indexes(site_dir: Path, folder: Path, layout: Layout | None = None) -> Path:
    """The site's chunked index written into ``folder``, beside the whole single index, whose file
    is returned for ``engine_search``."""
    documents = search_documents(plan_site(site_dir, BuildOptions()).site)
    write_outputs(chunked_index(documents, layout or Layout()), folder)
    return whole_index_file(documents, folder)


def test_the_chunked_index_ranks_as_lunr_js_over_the_whole_index(tmp_path: Path) -> None:
    answers = engine_search(tmp_path, PARITY_QUERIES, both_indexes(REPO, tmp_path))
    assert len(answers) >= 30
    assert_same_results(answers)
    assert all(answer["exact"] for answer in answers)


def test_the_chunked_index_ranks_as_lunr_js_at_10000_papers(tmp_path: Path) -> None:
    """Deep lists, threshold reading, paper-ordered blocks and estimated counts all come into play."""
    site_dir = tmp_path / "corpus"
    load_corpus_generator()(site_dir, 10_000)
    answers = engine_search(tmp_path, PARITY_QUERIES, both_indexes(site_dir, tmp_path))
    assert_same_results(answers)
    by_query = {answer["query"]: answer for answer in answers}
    assert len(by_query["language model"]["expected"]) == PAGE_SIZE * PAGES
    assert by_query["lora"]["exact"] and by_query["lora"]["total"] == by_query["lora"]["expectedTotal"]
    assert not by_query["language model"]["exact"], "a count that would need every list is estimated"
    whole = sum(path.stat().st_size for path in (tmp_path / "search").rglob("*.json"))
    for query in ("lora", "model", "language model", "antibody design"):
        assert by_query[query]["bytes"] < whole / 50, f"{query!r} reads a small part of the index"


def random_queries(vocabulary: list[str], count: int, seed: int) -> list[str]:
    """Queries of 1-4 clauses: common and rare words, +/-, fields, wildcards, fuzzy terms, boosts."""
    rng = random.Random(seed)
    common, rare = vocabulary[:80], vocabulary[80:]

    def clause() -> str:
        word = (
            re.sub("[^a-z0-9]", "", rng.choice(common) if rng.random() < 0.6 else rng.choice(rare)) or "model"
        )
        form = rng.random()
        if form < 0.1 and len(word) > 3:
            word = word[: rng.randint(4, len(word))] + "*"
        elif form < 0.15:
            word += rng.choice(["~1", "~0"])
        elif form < 0.17 and len(word) > 3:
            word = "*" + word[-4:]
        presence = rng.choices(["", "+", "-"], [0.65, 0.2, 0.15])[0]
        field = rng.choice(["title:", "authors:", "topics:", "abstract:"]) if rng.random() < 0.3 else ""
        boost = f"^{rng.choice([0, 1, 2, 5, 10])}" if rng.random() < 0.1 else ""
        return presence + field + word + boost

    return [" ".join(clause() for _ in range(rng.randint(1, 4))) for _ in range(count)]


def test_random_queries_rank_as_lunr_js_with_a_tiny_layout(tmp_path: Path) -> None:
    """Tiny chunks, blocks and shards make every path of the engine run on a small corpus: deep
    lists, many block look-ups, many shards for a wildcard."""
    site_dir = tmp_path / "corpus"
    load_corpus_generator()(site_dir, 1_500)
    whole_index = both_indexes(site_dir, tmp_path, Layout(inline=2, chunk=8, block=8, store=3, shard=400))
    meta = json.loads((tmp_path / "search/meta.json").read_text())
    rows = [
        row
        for k in range(len(meta["shards"]))
        for row in json.loads((tmp_path / f"search/s/{k}.json").read_text())
    ]
    vocabulary = [term for term, *_ in sorted(rows, key=lambda row: -row[2])]
    queries = random_queries(vocabulary, 150, seed=1)
    answers = engine_search(tmp_path, queries, whole_index)
    assert_same_results(answers)
    assert sum(1 for answer in answers if answer["expected"]) > 100, "most random queries find papers"


def test_an_index_with_astral_characters_loads_in_lunr_js(make_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from .conftest import paper_text

    site = make_site(
        {"content/a.md": paper_text("a1", body="a\uff41b and a\U0001d465b and emoji\U0001f600 ﬃ")}
    )
    out = tmp_path / "out"
    build(site, BuildOptions(output=out))
    (answer,) = engine_search(out, ["emoji*"])
    assert [ref for ref, _ in answer["chunked"][-1]] == ["0"]


def lunr_pys_own_add(builder: Builder, ref: str, fields: dict[str, list[str]]) -> None:
    builder.add({"ref": ref, **fields})


@pytest.mark.parametrize("corpus", ["example", "generated"])
def test_the_fast_builder_makes_lunr_pys_index_byte_for_byte(corpus: str, tmp_path: Path) -> None:
    if corpus == "example":
        site_dir = REPO
    else:
        site_dir = tmp_path / "corpus"
        load_corpus_generator()(site_dir, 300)
    plan = plan_site(site_dir, BuildOptions())
    documents = search_documents(plan.site)
    fast = script_safe_json(build_index(documents), separators=(",", ":"))
    reference = script_safe_json(build_index(documents, lunr_pys_own_add), separators=(",", ":"))
    assert fast == reference


def test_the_chunked_index_has_lunr_pys_weights(tmp_path: Path) -> None:
    """Every (term, field, paper) weight of the chunked index is the one lunr.py's own builder
    gives, and no posting is missing or extra."""
    site_dir = tmp_path / "corpus"
    load_corpus_generator()(site_dir, 300)
    documents = search_documents(plan_site(site_dir, BuildOptions()).site)
    reference = build_index(documents, lunr_pys_own_add)
    found = document_postings(documents)
    assert found.vocabulary == [term for term, _ in reference["invertedIndex"]]  # type: ignore[attr-defined]
    fields = [name for name, _ in FIELDS]
    starts = found.starts.tolist()
    ours = {
        (number, fields[position], str(paper)): weights[position] - 1
        for number in range(len(found.vocabulary))
        for paper, weights in zip(
            found.papers[starts[number] : starts[number + 1]].tolist(),
            found.weights[starts[number] : starts[number + 1]].tolist(),
            strict=True,
        )
        for position in range(4)
        if weights[position]
    }
    theirs = {
        (elements[i], field_ref.split("/")[0], field_ref.split("/")[1]): round(elements[i + 1] * 1000)
        for field_ref, elements in reference["fieldVectors"]  # type: ignore[attr-defined]
        for i in range(0, len(elements), 2)
    }
    assert len(ours) > 10_000
    assert ours == theirs


def test_a_site_without_papers_searches_to_nothing(make_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    build(make_site({}), BuildOptions(output=out))
    answers = engine_search(out, ["lora", "transform*", "retreival~1", "-vision"])
    assert [(answer["chunked"][-1], answer["total"]) for answer in answers] == [([], 0)] * 4
