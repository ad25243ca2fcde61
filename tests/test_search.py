"""Search: the pinned lunr.js, Python terms identical to lunr.js's, and an index lunr.js queries."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lunr.builder import Builder

from sitegen.build import BuildOptions, build, plan_site
from sitegen.content import find_abstract_files, load_papers
from sitegen.search import build_index, search_documents, stem, terms
from sitegen.views import script_safe_json

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


QUERY_SCRIPT = """
const lunr = require(process.argv[1]);
const index = lunr.Index.load(require(process.argv[2]));
const queries = JSON.parse(process.argv[3]);
process.stdout.write(JSON.stringify(queries.map((q) => index.search(q).map((r) => [r.ref, r.score]))));
"""


def lunr_js_search(out: Path, queries: list[str]) -> list[list[tuple[str, float]]]:
    assert NODE
    result = subprocess.run(
        [NODE, "-e", QUERY_SCRIPT, str(LUNR_JS), str(out / "search/index.json"), json.dumps(queries)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    parsed: list[list[tuple[str, float]]] = json.loads(result.stdout)
    return parsed


def test_lunr_js_finds_what_the_index_holds(example_index: Path) -> None:
    docs = json.loads((example_index / "search/docs.json").read_text())
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
    found = dict(zip(queries, lunr_js_search(example_index, queries), strict=True))
    url = lambda results: [docs[int(ref)][0] for ref, _ in results]  # noqa: E731
    assert url(found["lora"])[0] == "papers/2106.09685/"
    assert url(found["+lora -vision"]) == ["papers/2106.09685/", "papers/2305.14314/"]
    assert url(found["authors:vaswani"]) == ["papers/1706.03762/"]
    assert len(found["topics:vision"]) == 9
    assert len(found["train*"]) > len(found["lora"])
    assert "papers/2006.11239/" in url(found["difusion~1"])
    assert found["key"], "'key' is found: the stemmer matches lunr.js"
    assert len(found["model"]) > 20
    scores = [score for _, score in found["model"]]
    assert scores == sorted(scores, reverse=True)


def test_the_store_describes_every_indexed_paper(example_index: Path) -> None:
    docs = json.loads((example_index / "search/docs.json").read_text())
    index = json.loads((example_index / "search/index.json").read_text())
    assert len(docs) == 44
    refs = {
        ref
        for entry in index["invertedIndex"]
        for field in entry[1].values()
        if isinstance(field, dict)
        for ref in field
    }
    assert refs <= {str(n) for n in range(len(docs))}
    url, title, _authors, date, topics, _text = docs[0]
    assert (example_index / url / "index.html").is_file()
    assert isinstance(title, str) and isinstance(topics, list) and date.startswith("2024-")
    assert "$" not in "".join(t for e in index["invertedIndex"] for t in e[0]), (
        "math is indexed as text, not LaTeX"
    )


def test_math_is_indexed_as_the_text_it_shows() -> None:
    from sitegen.markup import AbstractRenderer

    rendered = AbstractRenderer().render("A $O(n^2)$ bound and $\\sqrt{d_k}$ scaling.")
    assert rendered.text == "A $O(n^2)$ bound and $\\sqrt{d_k}$ scaling."
    assert rendered.words == "A O(n2) bound and dk scaling."  # msqrt has no text of its own
    assert terms(rendered.words) == ["o(n2", "bound", "dk", "scale"]


def test_an_index_with_astral_characters_loads_in_lunr_js(make_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from .conftest import paper_text

    site = make_site(
        {"content/a.md": paper_text("a1", body="a\uff41b and a\U0001d465b and emoji\U0001f600 ﬃ")}
    )
    out = tmp_path / "out"
    build(site, BuildOptions(output=out))
    (results,) = lunr_js_search(out, ["emoji*"])
    assert [ref for ref, _ in results] == ["0"]


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
