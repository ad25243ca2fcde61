"""The build cache of parsed papers and rendered pages: a cached build parses only the files that
changed and renders only the pages whose inputs changed, and whatever happens to the cache or the
output (damaged, edited by hand, copied elsewhere) costs time, never a wrong byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from markupsafe import Markup

from sitegen import export, feeds
from sitegen.build import DEFAULT_CACHE, BuildOptions, BuildReport, build, plan_site
from sitegen.content import Author, Paper
from sitegen.errors import InputError, OutputError, Problem, Severity
from sitegen.pagecache import CACHE_FILE as PAGES_FILE
from sitegen.pagecache import PageCache, PageKeys, pickled, site_fingerprint
from sitegen.papercache import CACHE_FILE as PAPERS_FILE
from sitegen.papercache import PaperCache, decode, encode
from sitegen.render import (
    CardRenderer,
    make_environment,
    render_pages_elsewhere,
    site_values,
    template_sources,
)
from sitegen.writer import Output, file_identity

from .conftest import BASIC_CONFIG, SiteFactory, paper_text
from .helpers import snapshot

REPO = Path(__file__).resolve().parent.parent


def test_a_paper_keeps_every_field_through_the_cache() -> None:
    paper = Paper(
        id="2401.00001",
        title="A “title” with <markup> & math $x$",
        authors=(Author("Ada Lovelace", "Analytical Engines Ltd"), Author("Alan Turing")),
        date=dt.date(2024, 1, 15),
        topics=("vision", "nlp"),
        abstract="An abstract with $x^2$ and a \udcff lone surrogate.",
        abstract_html="<p>An abstract with <math><msup><mi>x</mi><mn>2</mn></msup></math></p>",
        abstract_text="An abstract with x^2",
        abstract_words="An abstract with x2",
        links=(("code", "https://github.com/a/b"), ("slides", "https://example.org/s")),
        source=Path("content/a b/ü.md"),
        body_line=9,
        published=dt.date(2023, 12, 30),
        updated=dt.date(2024, 1, 2),
        version=3,
        categories=("cs.CV", "cs.LG"),
        primary_category="cs.CV",
        comment="12 pages",
        journal_ref="J. Tests 1 (2024)",
        doi="10.1000/xyz",
        license="CC-BY-4.0",
        upvotes=0,
        stars=12,
        tldr="Short.",
        draft=True,
        field_lines={"id": 2, "title": 3},
    )
    warnings = (Problem(Path("content/a b/ü.md"), None, "unknown field 'colour'", Severity.WARNING),)
    again, problems = decode(json.loads(encode(paper, warnings)))
    assert again == paper and again.field_lines == paper.field_lines
    assert problems == warnings


def build_in(site: Path, out: Path, **options: object) -> BuildReport:
    return build(site, BuildOptions(output=out, **options))  # type: ignore[arg-type]


@pytest.fixture
def three_papers(make_site: SiteFactory) -> Path:
    return make_site(
        {
            f"content/{number}.md": paper_text(
                f"2401.0000{number}", f"Paper {number}", date=f"2024-01-1{number}", body=f"Abstract {number}."
            )
            for number in (1, 2, 3)
        }
    )


def test_only_the_abstract_files_that_changed_are_parsed(three_papers: Path, tmp_path: Path) -> None:
    out = tmp_path / "_site"
    assert build_in(three_papers, out).plan.papers_parsed == 3
    assert build_in(three_papers, out).plan.papers_parsed == 0
    edited = three_papers / "content/2.md"
    edited.write_text(edited.read_text().replace("Abstract 2.", "Abstract two."))
    (three_papers / "content/4.md").write_text(paper_text("2401.00004", "Paper 4", date="2024-01-14"))
    assert build_in(three_papers, out).plan.papers_parsed == 2
    (three_papers / "content/1.md").rename(three_papers / "content/one.md")  # messages name the file
    assert build_in(three_papers, out).plan.papers_parsed == 1
    assert snapshot(out) == snapshot(build_in(three_papers, tmp_path / "clean", cache=False).output)


def test_a_build_that_fails_on_a_broken_file_keeps_the_other_papers_parsed(
    three_papers: Path, tmp_path: Path
) -> None:
    (three_papers / "content/4.md").write_text("---\ntitle: [unclosed\n---\n")
    with pytest.raises(InputError, match=r"4\.md"):
        build_in(three_papers, tmp_path / "_site")
    (three_papers / "content/4.md").unlink()
    assert build_in(three_papers, tmp_path / "_site").plan.papers_parsed == 0
    (three_papers / "content/4.md").write_text(paper_text("2401.00004", "Paper 4", date="2024-01-14"))
    assert plan_site(three_papers, BuildOptions()).papers_parsed == 1  # checked, and kept too
    assert build_in(three_papers, tmp_path / "_site").plan.papers_parsed == 0


def test_new_papers_are_added_to_the_end_of_the_paper_cache(three_papers: Path, tmp_path: Path) -> None:
    out = tmp_path / "_site"
    build_in(three_papers, out)
    cache_file = three_papers / DEFAULT_CACHE / PAPERS_FILE
    before, inode = cache_file.read_bytes(), os.stat(cache_file).st_ino
    (three_papers / "content/4.md").write_text(paper_text("2401.00004", "Paper 4", date="2024-01-14"))
    build_in(three_papers, out)
    grown = cache_file.read_bytes()
    assert grown.startswith(before) and grown.count(b"\n") == before.count(b"\n") + 1
    assert os.stat(cache_file).st_ino == inode  # added to, not written anew
    # An edit leaves a stale line: past an eighth of the papers, the file is written anew.
    edited = three_papers / "content/1.md"
    edited.write_text(edited.read_text().replace("Abstract 1.", "Abstract one."))
    assert build_in(three_papers, out).plan.papers_parsed == 1
    assert cache_file.read_bytes().count(b"\n") == 1 + 4 and b"Abstract one." in cache_file.read_bytes()
    # A save cut short mid-line is not added to: the file is written anew.
    cache_file.write_bytes(cache_file.read_bytes()[:-10])
    (three_papers / "content/5.md").write_text(paper_text("2401.00005", "Paper 5", date="2024-01-15"))
    assert build_in(three_papers, out).plan.papers_parsed == 2
    assert cache_file.read_bytes().count(b"\n") == 1 + 5 and cache_file.read_bytes().endswith(b"\n")
    assert build_in(three_papers, out).plan.papers_parsed == 0
    assert snapshot(out) == snapshot(build_in(three_papers, tmp_path / "clean", cache=False).output)


def _plain_paper(paper_id: str, abstract: str = "A") -> Paper:
    html = Markup(f"<p>{abstract}</p>")
    return Paper(
        paper_id, "T", (), dt.date(2024, 1, 1), (), abstract, html, abstract, abstract, (), Path("a.md"), 4
    )


def _cache_lines(cache: PaperCache, papers: list[Paper]) -> tuple[list[str], list[str]]:
    """Each paper's key (as if from its own file) and its line in ``papers.jsonl``."""
    keys = [cache.key(Path(f"{number}.md"), b"") for number in range(len(papers))]
    lines = [f"{key} {encode(paper, ())}\n" for key, paper in zip(keys, papers, strict=True)]
    return keys, lines


def test_a_paper_cache_cut_short_mid_line_is_written_anew_not_added_to(tmp_path: Path) -> None:
    papers = [_plain_paper(f"2401.0000{n}") for n in range(10)]
    cache = PaperCache(tmp_path)
    keys, lines = _cache_lines(cache, papers)
    (tmp_path / PAPERS_FILE).write_text(cache._header + "".join(lines[:9])[:-5])  # the ninth line cut
    assert len(cache.find(set(keys))) == 8
    for key, paper in zip(keys[8:], papers[8:], strict=True):
        cache.add(key, (paper, ()))
    cache.keep(keys)
    cache.save()  # one stale line in ten papers: few enough to add to the end, were it not cut
    assert (tmp_path / PAPERS_FILE).read_text() == cache._header + "".join(lines)


def test_a_paper_cache_unreadable_part_way_is_written_anew_once(tmp_path: Path) -> None:
    """A bad byte far into the file: the lines read before it are not kept beside the papers
    parsed again."""
    papers = [_plain_paper(f"2401.{n:05}", "A long abstract. " * 100) for n in range(30)]
    cache = PaperCache(tmp_path)
    keys, lines = _cache_lines(cache, papers)
    data = (cache._header + "".join(lines)).encode()
    (tmp_path / PAPERS_FILE).write_bytes(data[: len(data) - 100] + b"\xff" + data[len(data) - 99 :])
    assert cache.find(set(keys)) == {}
    for key, paper in zip(keys, papers, strict=True):
        cache.add(key, (paper, ()))
    cache.keep(keys)
    cache.save()
    assert (tmp_path / PAPERS_FILE).read_text() == cache._header + "".join(lines)


def test_a_paper_cache_rewrite_keeps_the_good_line_of_a_paper_not_a_damaged_one(tmp_path: Path) -> None:
    paper = _plain_paper("2401.00001")
    cache = PaperCache(tmp_path)
    key = cache.key(Path("a.md"), b"the file")
    line = encode(paper, ())
    damaged = line.replace('"T"', "22", 1)
    header = cache._header
    (tmp_path / PAPERS_FILE).write_text(f"{header}{key} {damaged}\n{key} {line}\n")  # a repair, added
    assert cache.find({key}) == {key: (paper, ())}
    cache.keep([key])
    cache.save()  # one line in two is stale: written anew
    assert (tmp_path / PAPERS_FILE).read_text() == f"{header}{key} {line}\n"


def test_a_rebuild_renders_only_the_pages_whose_inputs_changed(three_papers: Path, tmp_path: Path) -> None:
    out = tmp_path / "_site"
    first = build_in(three_papers, out)
    assert first.pages_reused == 0
    assert build_in(three_papers, out).pages_reused == len(first.plan.pages)
    edited = three_papers / "content/1.md"
    edited.write_text(edited.read_text().replace("title: Paper 1", "title: Paper One"))
    again = build_in(three_papers, out)
    rendered = len(again.plan.pages) - again.pages_reused
    # Its page, its day, month, year and topic, the lists that show it: not the other papers' pages.
    assert 0 < rendered < len(again.plan.pages)
    assert (out / "papers/2401.00002/index.html").read_bytes() == (
        build_in(three_papers, tmp_path / "clean", cache=False).output / "papers/2401.00002/index.html"
    ).read_bytes()
    assert snapshot(out) == snapshot(tmp_path / "clean")


def test_a_rebuild_encodes_only_the_data_files_whose_documents_changed(
    three_papers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (three_papers / "content/4.md").write_text(paper_text("2402.00004", "Paper 4", date="2024-02-14"))
    out = tmp_path / "_site"
    build_in(three_papers, out)
    february = out / "data/2024-02.json"
    inode = february.stat().st_ino
    encoded: list[object] = []
    real = export._json_bytes

    def counted(document: dict[str, object]) -> bytes:
        encoded.append(document.get("month", document["kind"]))
        return real(document)

    monkeypatch.setattr(export, "_json_bytes", counted)
    build_in(three_papers, out)
    assert encoded == []  # nothing changed: every data file is the last build's
    edited = three_papers / "content/1.md"
    edited.write_text(edited.read_text().replace("Abstract 1.", "Abstract one."))
    build_in(three_papers, out)
    assert encoded == ["2024-01"]  # the index lists titles and dates only: it is the same too
    assert february.stat().st_ino == inode  # linked from the last output, not written
    assert b"Abstract one." in (out / "data/2024-01.json").read_bytes()
    assert snapshot(out) == snapshot(build_in(three_papers, tmp_path / "clean", cache=False).output)


def test_a_rebuild_writes_out_only_the_feeds_whose_papers_changed(
    make_site: SiteFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = BASIC_CONFIG + "  nlp: Language\n"
    site = make_site(
        {
            "content/1.md": paper_text("2401.00001", "Seeing", topics="[vision]", body="Pixels."),
            "content/2.md": paper_text("2401.00002", "Reading", topics="[nlp]", body="Words."),
        },
        config=config,
    )
    out = tmp_path / "_site"
    build_in(site, out)
    vision_feed = out / "topics/vision/feed.xml"
    inode = vision_feed.stat().st_ino
    serialised: list[str] = []
    for kind, serialise in feeds.SERIALISERS.items():

        def counted(
            feed: feeds.Feed, kind: str = kind, serialise: Callable[[feeds.Feed], bytes] = serialise
        ) -> bytes:
            serialised.append(f"{feed.folder}{kind}")
            return serialise(feed)

        monkeypatch.setitem(feeds.SERIALISERS, kind, counted)
    build_in(site, out)
    assert serialised == []  # nothing changed: every feed is the last build's
    edited = site / "content/2.md"
    edited.write_text(edited.read_text().replace("Words.", "Sentences."))
    build_in(site, out)
    kinds = list(feeds.SERIALISERS)
    assert sorted(serialised) == sorted(f"{folder}{kind}" for folder in ("", "topics/nlp/") for kind in kinds)
    assert vision_feed.stat().st_ino == inode  # linked from the last output, not written
    assert b"Sentences." in (out / "topics/nlp/feed.xml").read_bytes()
    assert snapshot(out) == snapshot(build_in(site, tmp_path / "clean", cache=False).output)


def test_keys_depend_on_values_not_on_which_objects_hold_them(three_papers: Path, tmp_path: Path) -> None:
    first = plan_site(three_papers, BuildOptions(cache=False))
    build_in(three_papers, tmp_path / "_site")  # fills the cache: the next plan's papers are decoded
    second = plan_site(three_papers, BuildOptions())
    assert second.papers_parsed == 0
    keys = [PageKeys(b"site"), PageKeys(b"site")]
    assert [keys[0](page) for page in first.pages] == [keys[1](page) for page in second.pages]
    assert None not in [keys[0](page) for page in first.pages]
    assert len({keys[0](page) for page in first.pages}) == len(first.pages)
    assert PageKeys(b"other site")(first.pages[0]) != keys[0](first.pages[0])


def test_equal_values_pickle_alike_however_their_objects_are_shared() -> None:
    text = "".join(["a", "title"])
    copy = "".join(["a", "title"])
    assert text is not copy
    assert pickled((text, text)) == pickled((text, copy))


def test_an_output_file_edited_by_hand_is_rendered_again(three_papers: Path, tmp_path: Path) -> None:
    out = tmp_path / "_site"
    first = build_in(three_papers, out)
    page = out / "papers/2401.00001/index.html"
    good = page.read_bytes()
    page.write_bytes(good.replace(b"Paper 1", b"Paper X"))  # same size, other bytes
    again = build_in(three_papers, out)
    assert again.pages_reused == len(first.plan.pages) - 1
    assert page.read_bytes() == good


def test_a_page_file_the_last_build_left_untouched_is_linked_without_being_read(
    three_papers: Path, tmp_path: Path
) -> None:
    out = tmp_path / "_site"
    build_in(three_papers, out)
    plan = plan_site(three_papers, BuildOptions(output=out))
    env = make_environment(plan.config, plan.template_dirs)
    fingerprint = site_fingerprint(template_sources(env), site_values(env))
    page = next(page for page in plan.pages if page.url == "papers/2401.00001/")
    path = "papers/2401.00001/index.html"
    file = out / path

    def kept() -> Output | None:
        cache = PageCache(three_papers / DEFAULT_CACHE, out, fingerprint)
        key = cache.keys(page)
        assert key is not None
        return cache.previous_output(path, key, "a page")

    untouched = kept()
    assert untouched == Output(path, b"", "a page", unchanged=file_identity(file))
    # Touched, its status-change time differs: the file is read, and used since its bytes are right.
    os.utime(file)
    assert kept() == Output(path, file.read_bytes(), "a page")
    # Written with other bytes of the same size: read, found wrong, and the page rendered again.
    file.write_bytes(file.read_bytes().replace(b"Paper 1", b"Paper X"))
    assert kept() is None
    # The next build writes the page again, and records the new file.
    build_in(three_papers, out)
    assert kept() == Output(path, b"", "a page", unchanged=file_identity(file))
    assert snapshot(out) == snapshot(build_in(three_papers, tmp_path / "clean", cache=False).output)


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("papers: cut short", lambda data: data[: len(data) // 2]),
        ("papers: a field of the wrong type", lambda data: data.replace(b'"Paper 2"', b"22", 1)),
        ("papers: a line of junk", lambda data: data + b"\x00\xff not json\n"),
        ("papers: another header", lambda data: b'{"format":"other"}\n' + data.split(b"\n", 1)[1]),
        ("pages: cut short", lambda data: data[: len(data) // 2]),
        ("pages: wrong types", lambda data: b'{"format":"sitegen-pages-2","output":1,"pages":[1]}'),
        ("pages: empty", lambda data: b""),
    ],
)
def test_a_damaged_cache_file_is_only_slower(name: str, damage, three_papers: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "_site"
    build_in(three_papers, out)
    cache_file = three_papers / DEFAULT_CACHE / (PAPERS_FILE if name.startswith("papers") else PAGES_FILE)
    cache_file.write_bytes(damage(cache_file.read_bytes()))
    shutil.rmtree(out)  # so that nothing can be taken from the last output either
    build_in(three_papers, out)
    assert snapshot(out) == snapshot(build_in(three_papers, tmp_path / "clean", cache=False).output)
    again = build_in(three_papers, out)  # and the cache was repaired
    assert again.plan.papers_parsed == 0 and again.pages_reused == len(again.plan.pages)
    if name.startswith("papers"):  # a header and one line a paper, none twice
        assert (three_papers / DEFAULT_CACHE / PAPERS_FILE).read_bytes().count(b"\n") == 1 + 3


def test_pages_come_from_an_output_folder_beside_the_last_one(three_papers: Path, tmp_path: Path) -> None:
    """``sitegen serve`` builds each generation into a new folder beside the last."""
    first = build_in(three_papers, tmp_path / "generations/1")
    second = build_in(three_papers, tmp_path / "generations/2")
    assert second.pages_reused == len(first.plan.pages)
    assert snapshot(tmp_path / "generations/1") == snapshot(tmp_path / "generations/2")
    elsewhere = build_in(three_papers, tmp_path / "elsewhere/_site")
    assert elsewhere.pages_reused == 0  # the cache reads no folder but the output's neighbours


def test_a_cache_copied_with_its_output_is_used(three_papers: Path, tmp_path: Path) -> None:
    """As in CI, where both are restored into a fresh checkout: new inodes, same bytes."""
    out = three_papers / "_site"
    first = build_in(three_papers, out)
    copy = tmp_path / "copy"
    shutil.copytree(three_papers, copy)
    shutil.rmtree(three_papers)
    shutil.move(copy, three_papers)
    again = build_in(three_papers, out)
    assert again.plan.papers_parsed == 0 and again.pages_reused == len(first.plan.pages)


def test_related_papers_are_remembered_until_any_paper_text_changes(tmp_path: Path) -> None:
    from sitegen import related

    papers = list(plan_site(REPO, BuildOptions(cache=False)).site.papers)
    computed: list[int] = []
    real = related.related_papers

    def counted(texts):  # type: ignore[no-untyped-def]
        computed.append(len(texts))
        return related.related_numbers(texts)

    remembered = related.RememberedRelated(tmp_path, counted)
    assert dict(remembered(papers)) == dict(real(papers))
    assert dict(remembered(papers)) == dict(real(papers)) and len(computed) == 1
    changed = [*papers[:-1], replace(papers[-1], abstract_words=papers[-1].abstract_words + " attention")]
    assert dict(remembered(changed)) == dict(real(changed)) and len(computed) == 2
    (tmp_path / related.RELATED_FILE).write_text(
        '{"format":"sitegen-related-1","key":"x","related":[[99999]]}'
    )
    assert dict(remembered(changed)) == dict(real(changed)) and len(computed) == 3
    key = json.loads((tmp_path / related.RELATED_FILE).read_text())["key"]
    damaged = {"format": "sitegen-related-1", "key": key, "related": [[len(papers)]] * len(papers)}
    (tmp_path / related.RELATED_FILE).write_text(json.dumps(damaged))  # a paper number out of range
    assert dict(remembered(changed)) == dict(real(changed)) and len(computed) == 4


def test_related_papers_from_cached_terms_are_those_counted_afresh(tmp_path: Path) -> None:
    from sitegen import related

    texts = related.related_texts(plan_site(REPO, BuildOptions(cache=False)).site.papers)
    afresh = related.related_numbers(texts)
    assert any(afresh) and related.related_numbers(texts, cache_dir=tmp_path) == afresh
    stored = tmp_path / related.RELATED_TERMS_FILE
    assert stored.is_file()
    stored.touch()
    written = stored.stat().st_mtime_ns
    assert related.related_numbers(texts, cache_dir=tmp_path) == afresh
    assert stored.stat().st_mtime_ns == written  # every paper's terms were there: not written again
    changed = [(title, words + " attention diffusion") for title, words in texts[:3]] + texts[3:-1]
    assert related.related_numbers(changed, cache_dir=tmp_path) == related.related_numbers(changed)


def test_a_papers_related_terms_are_its_words_counted(tmp_path: Path) -> None:
    """The terms ``related`` reads from a term record, against the words counted plainly: the
    abstract's terms first, then the title's, a title word counting ``TITLE_WEIGHT`` times."""
    from collections import Counter

    from sitegen import related
    from sitegen.postings import TermCache

    texts = related.related_texts(plan_site(REPO, BuildOptions(cache=False)).site.papers)
    texts.append(("Models of models: the plural Models", "A model, models and 42 MODELS of the"))
    texts.insert(1, ("", "the of and 42"))  # a paper with no terms, between two with some
    cache = TermCache(None, related._words, related._fold, related.related_terms())
    records = [cache.record((related._counted_text(title, words),))[1] for title, words in texts]
    terms = related._PaperTerms.of(records)  # all the records laid end to end, as a build reads them
    assert terms.papers == len(texts)
    rows = list(zip(terms.paper.tolist(), terms.term.tolist(), terms.count.tolist(), strict=True))
    assert [paper for paper, _, _ in rows] == sorted(paper for paper, _, _ in rows)
    for number, (title, words) in enumerate(texts):
        plainly = related._words(words) + related._words(title) * related.TITLE_WEIGHT
        expected = Counter(term for term in map(related._fold, plainly) if term)
        counted = {cache.vocabulary[term]: count for paper, term, count in rows if paper == number}
        assert list(counted.items()) == list(expected.items())
    assert not any(paper == 1 for paper, _, _ in rows)
    assert counted == {"model": 3 + 2 * 3, "plural": 2}


RELATED_LISTS_OF_THE_EXAMPLE_SITE = "a9c29968a906579c913379a28f04a6e3a4ca7ee14b2b3e0d19d2331ba9248679"
"""The SHA-256 of the example site's related papers (``related_numbers``, as JSON), as sitegen found
them before it kept each paper's terms: the lists must not change with how terms are counted."""


def test_the_example_sites_related_papers_are_those_it_always_had(tmp_path: Path) -> None:
    from sitegen import related

    texts = related.related_texts(plan_site(REPO, BuildOptions(cache=False)).site.papers)
    for cache_dir in (None, tmp_path, tmp_path):  # no cache, then the terms made, then found
        lists = related.related_numbers(texts, cache_dir=cache_dir)
        digest = hashlib.sha256(json.dumps(lists).encode()).hexdigest()
        assert digest == RELATED_LISTS_OF_THE_EXAMPLE_SITE, "related papers changed: if on purpose, update"


def test_a_theme_that_filters_the_abstract_keeps_whole_cards(three_papers: Path, tmp_path: Path) -> None:
    """A card is kept without the abstract only where it shows the abstract as it is; this one
    shows it filtered, so its cards are kept whole, and its pages are those of a clean build."""
    macros = (REPO / "themes/default/templates/_macros.html").read_text(encoding="utf-8")
    teaser = '<p class="teaser" title="{{ paper.abstract_html|striptags }}">{{ paper.abstract_html|striptags|upper }}</p>'
    assert "{{ paper.abstract_html }}" in macros
    (three_papers / "templates").mkdir()
    (three_papers / "templates/_macros.html").write_text(
        macros.replace("{{ paper.abstract_html }}", teaser, 1)
    )
    out = build_in(three_papers, tmp_path / "_site").output
    day = (out / "2024/01/11/index.html").read_text(encoding="utf-8")
    assert '<p class="teaser" title="Abstract 1.">ABSTRACT 1.</p>' in day
    assert snapshot(out) == snapshot(build_in(three_papers, tmp_path / "clean", cache=False).output)


def test_a_card_showing_its_abstract_twice_is_put_back_whole(three_papers: Path) -> None:
    """A card is kept cut at one showing of its abstract; both halves and the abstract between
    them are the card, whichever showing the cut is at."""
    macros = (REPO / "themes/default/templates/_macros.html").read_text(encoding="utf-8")
    (three_papers / "templates").mkdir()
    (three_papers / "templates/_macros.html").write_text(
        macros.replace(
            "{{ paper.abstract_html }}", "{{ paper.abstract_html }}<hr>{{ paper.abstract_html }}", 1
        )
    )
    plan = plan_site(three_papers, BuildOptions(cache=False))
    env = make_environment(plan.config, plan.template_dirs)
    cards = CardRenderer(env)
    day = next(page for page in plan.pages if page.template == "day.html")
    for paper in day.context["papers"]:
        whole = env.get_template("_macros.html").module.paper_card(paper, True, "h2")
        assert str(whole).count(str(paper.abstract_html)) == 2
        assert cards(paper, True) == whole == cards(paper, True)  # rendered, then put back together
        assert isinstance(cards._cards[(paper.id, True, "h2")], tuple)  # kept without the abstract


def test_cards_kept_in_a_file_past_the_memory_limit_give_the_same_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sitegen import render

    in_memory = snapshot(build_in(REPO, tmp_path / "memory", cache=False, jobs=1).output)
    monkeypatch.setattr(render, "CARDS_IN_MEMORY", 3000)  # a card or two, then the file
    kept: list[str] = []
    keep = render.CardRenderer._keep

    def counted(self, card):  # type: ignore[no-untyped-def]
        kept.append(type(result := keep(self, card)).__name__)
        return result

    monkeypatch.setattr(render.CardRenderer, "_keep", counted)
    assert snapshot(build_in(REPO, tmp_path / "file", cache=False, jobs=1).output) == in_memory
    assert 0 < kept.count("tuple") < 5 and kept.count("_CardOnDisk") > 50


def test_templates_are_read_once_through_linked_folders_and_past_dangling_links(
    three_papers: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note.html").write_text("<p>first note</p>")
    templates = three_papers / "templates"
    templates.mkdir()
    (templates / "parts").symlink_to(shared, target_is_directory=True)
    (templates / "loop").symlink_to(templates, target_is_directory=True)  # a link back up the tree
    (templates / ".#paper.html").symlink_to("user@host.1234")  # an editor's lock file: dangling
    base = (REPO / "themes/default/templates/404.html").read_text(encoding="utf-8")
    (templates / "404.html").write_text(
        base.replace("{% block main %}", '{% block main %}{% include "parts/note.html" %}', 1)
    )
    out = tmp_path / "_site"
    build_in(three_papers, out)
    assert "<p>first note</p>" in (out / "404.html").read_text()
    (shared / "note.html").write_text("<p>second note</p>")
    again = build_in(three_papers, out)
    assert "<p>second note</p>" in (out / "404.html").read_text()
    assert again.pages_reused == 0  # a template changed: every page is rendered


def test_a_forked_renderer_lets_go_of_the_cards_it_was_forked_with(three_papers: Path) -> None:
    """Their temporary file is the parent's too: adding cards to it from both would mix them."""
    plan = plan_site(three_papers, BuildOptions(cache=False))
    env = make_environment(plan.config, plan.template_dirs)
    card = env.globals["card"]
    spilling = CardRenderer(env, in_memory=0)
    env.globals["card"] = spilling
    day = next(page for page in plan.pages if page.template == "day.html")
    assert list(render_pages_elsewhere([], env)) == []  # nothing kept, nothing to forget
    spilling(day.context["papers"][0])
    assert len(spilling) == 1 and spilling._disk is not None
    assert list(render_pages_elsewhere([], env)) == []
    assert len(spilling) == 0 and spilling._disk is None
    assert isinstance(card, CardRenderer)


def test_a_cache_folder_inside_the_output_is_refused(three_papers: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    with pytest.raises(OutputError, match="one inside the other"):
        build_in(three_papers, out, cache_dir=out / ".cache")
    with pytest.raises(OutputError, match="one inside the other"):
        build_in(three_papers, tmp_path / "cache/_site", cache_dir=tmp_path / "cache")
