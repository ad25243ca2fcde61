"""``build()``: every stage of a build, in order. Read this function to know what a build does."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from . import urls
from .citations import CITE_FILE, render_citations
from .classify import classify, topic_rules
from .config import SiteConfig, load_config
from .content import find_abstract_files, load_papers
from .errors import InputError, OutputError, Problem
from .export import data_paths, render_data
from .feeds import Feed, feed_paths, plan_feeds, render_feeds
from .garbage import fewer_collections, settled
from .pagecache import PageCache, site_fingerprint
from .pages import Page, PaperContext, plan_pages, plan_robots, plan_sitemaps, with_related_papers
from .papercache import PaperCache
from .parallel import Background, in_background
from .related import RememberedRelated, by_id, related_numbers_once, related_texts
from .render import (
    copy_static,
    make_environment,
    received,
    render_pages,
    render_pages_elsewhere,
    site_values,
    static_files,
    template_sources,
)
from .search import SEARCH_PATHS, Layout, chunked_index, search_documents
from .site import Selection, Site, index_site, select_papers
from .stopwatch import Stopwatch
from .themes import find_theme, template_dirs
from .writer import Output, PathClaims, WriteReport, write_site

CONTENT_DIR = "content"
DEFAULT_OUTPUT = "_site"
DEFAULT_CACHE = ".sitegen-cache"
SPARE_OUTPUT = "spare-output"
"""The output before the last, kept in the cache folder and brought up to date by the next build
as its staging folder (``writer.write_site``)."""


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What the command line can change about a build."""

    output: Path | None = None
    """Output folder; ``SITE/_site`` when None."""
    base_url: str | None = None
    """Overrides ``base_url`` from ``sitegen.yaml``."""
    drafts: bool = False
    future: bool = True
    strict: bool = False
    """Warnings fail the build."""
    today: dt.date | None = None
    """What "today" is for future-dated papers; the site's time zone's date when None."""
    jobs: int = 0
    """1: one process. Otherwise the search index is built on a second core, where there is one."""
    cache_dir: Path | None = None
    """What one build keeps to make the next faster; ``SITE/.sitegen-cache`` when None. Safe to
    delete, and to copy between machines: entries are found by the hash of what made them."""
    cache: bool = True
    """False: neither read nor write the cache."""


@dataclass(frozen=True, slots=True)
class IndexedSite:
    """A validated site, before its pages are planned."""

    config: SiteConfig
    site: Site
    selection: Selection
    warnings: tuple[Problem, ...]
    template_dirs: tuple[Path, ...]
    static: dict[str, Path]
    """Output path → file, the site's own static files replacing the theme's."""
    papers_parsed: int
    """Abstract files parsed; the other papers came from the cache."""


@dataclass(frozen=True, slots=True)
class Plan(IndexedSite):
    """A validated site and the pages it will have; what ``sitegen check`` stops at."""

    pages: list[Page]
    feeds: list[Feed]


@dataclass(frozen=True, slots=True)
class BuildReport:
    plan: Plan
    written: WriteReport
    output: Path
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds per stage (``--profile``)."""
    pages_reused: int = 0
    """Pages not rendered: the cache had their inputs' hash, and the last output their bytes."""


def plan_site(site_dir: Path, options: BuildOptions, stopwatch: Stopwatch | None = None) -> Plan:
    """Load, validate, select, index and plan; raises ``InputError`` listing every problem."""
    watch = stopwatch or Stopwatch()
    cache_dir = cache_folder(site_dir, options)
    parsed = PaperCache(cache_dir) if cache_dir is not None else None
    try:
        indexed = index_content(site_dir, options, watch, parsed)
    finally:
        if parsed is not None:
            parsed.save()
    return plan_output(relate(indexed, cache_dir, options.jobs != 1, watch), watch)


def index_content(
    site_dir: Path, options: BuildOptions, watch: Stopwatch, parsed: PaperCache | None = None
) -> IndexedSite:
    """Load, validate, select and index, all but related papers (``relate``); raises
    ``InputError`` listing every problem. Papers are taken from ``parsed`` when it has them, and
    it is told which papers the site has, for the caller to ``save``."""
    overrides: Mapping[str, Any] = {"base_url": options.base_url} if options.base_url else {}
    config = load_config(site_dir, overrides)
    theme_dir = find_theme(site_dir, config.theme)

    with watch.stage("load"):
        loaded = load_papers(
            find_abstract_files(site_dir / CONTENT_DIR),
            shown_root=_shown_root(site_dir),
            parsed=parsed,
            fork=options.jobs != 1,
        )
    errors = [problem for problem in loaded.problems if problem.is_error]
    warnings = tuple(problem for problem in loaded.problems if not problem.is_error)
    if errors or (options.strict and warnings):
        raise InputError(loaded.problems)

    today = options.today or dt.datetime.now(config.zone).date()
    papers = classify(loaded.papers, topic_rules(config.topics))
    selection = select_papers(
        papers, include_drafts=options.drafts, include_future=options.future, today=today
    )
    with watch.stage("index"):
        site = index_site(config, selection.papers, find_related=None)
    return IndexedSite(
        config=config,
        site=site,
        selection=selection,
        warnings=warnings,
        template_dirs=template_dirs(site_dir, theme_dir),
        static=static_files([theme_dir / "static", site_dir / "static"]),
        papers_parsed=loaded.parsed,
    )


RELATED_ELSEWHERE_FROM = 2000
"""Papers from which related papers are computed in a process of their own: below, the 0.2 to
0.3 s a new interpreter takes to start is more than the work (about 0.2 ms a paper)."""


class RelatedPapers:
    """Each paper's related papers, taken from the cache or computed; with ``fork``, in a new
    process given only each paper's title and words, while this one goes on (``ready`` says when
    they are known): the work's memory (about 700 MB at 100,000 papers) then neither adds to the
    papers' nor fragments this process's heap."""

    def __init__(self, site: Site, cache_dir: Path | None, fork: bool) -> None:
        self._papers = site.papers
        self._remembered = RememberedRelated(cache_dir) if cache_dir is not None else None
        self._numbers = self._remembered.lookup(self._papers) if self._remembered is not None else None
        self._work: Background | None = None
        if self._numbers is None:
            texts = related_texts(self._papers)
            elsewhere = fork and len(texts) >= RELATED_ELSEWHERE_FROM
            self._work = in_background(related_numbers_once, texts, cache_dir, fork=elsewhere, spawn=True)

    def ready(self) -> bool:
        """Whether ``site`` can answer without waiting (or computes them here, with no child)."""
        return self._work is None or self._work.done()

    def site(self, site: Site) -> Site:
        """``site`` with its related papers, once they are known."""
        if self._numbers is None:
            assert self._work is not None
            with self._work:
                self._numbers = next(iter(self._work.result()))
            self._work = None
            if self._remembered is not None:
                self._remembered.remember(self._papers, self._numbers)
        return dataclasses.replace(site, related=by_id(self._papers, self._numbers))

    def __enter__(self) -> RelatedPapers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._work is not None:
            self._work.cancel()


def relate(indexed: IndexedSite, cache_dir: Path | None, fork: bool, watch: Stopwatch) -> IndexedSite:
    """The site with its related papers."""
    with RelatedPapers(indexed.site, cache_dir, fork) as related, watch.stage("related"):
        return dataclasses.replace(indexed, site=related.site(indexed.site))


class PaperPages:
    """The papers' own pages, rendered beside the list pages: in a process forked as soon as
    the papers' related papers are known (``beside``), or here with ``-j 1``. They show no
    cards, so the cards rendered for the lists are not needed there. ``plan`` is the whole plan,
    related papers included, once they are known."""

    def __init__(
        self,
        plan: Plan,
        related: RelatedPapers,
        env: jinja2.Environment,
        page_cache: PageCache | None,
        fork: bool,
        watch: Stopwatch,
    ) -> None:
        self.plan = plan
        self._related = related
        self._env = env
        self._page_cache = page_cache
        self._fork = fork
        self._watch = watch
        self._work: Background | None = None

    def beside(self, outputs: Iterable[Output]) -> Iterator[Output]:
        """``outputs``, the papers' pages started (forked) after the first of them made once
        related papers are known."""
        for output in outputs:
            yield output
            if self._work is None and self._related.ready():
                self._start()
        if self._work is None:  # started now, waiting for related papers, not after the search index
            self._start()

    def outputs(self) -> Iterator[Output]:
        if self._work is None:
            self._start()
        assert self._work is not None
        return received(self._work.result(), self._page_cache)

    def _start(self) -> None:
        with self._watch.stage("related"):  # the wait for them, when they are still being found
            site = self._related.site(self.plan.site)
        pages = with_related_papers(self.plan.pages, site.related)
        self.plan = dataclasses.replace(self.plan, site=site, pages=pages)
        paper_pages = [page for page in pages if isinstance(page.context, PaperContext)]
        if self._page_cache is not None and self._fork:
            # Hashed here, where the list pages need them too, and not again in the fork.
            views = [page.context.paper for page in pages if isinstance(page.context, PaperContext)]
            self._page_cache.keys.share(views)
        self._work = in_background(
            render_pages_elsewhere, paper_pages, self._env, self._page_cache, fork=self._fork
        )

    def __enter__(self) -> PaperPages:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._work is not None:
            self._work.cancel()


def plan_output(indexed: IndexedSite, watch: Stopwatch) -> Plan:
    """Every page and feed of an indexed site."""
    with watch.stage("plan"):
        pages = plan_pages(indexed.site)
        pages += plan_sitemaps(pages)
        pages.append(plan_robots())
        feeds = plan_feeds(indexed.site, indexed.config.feed_size)
    indexed_fields = {item.name: getattr(indexed, item.name) for item in dataclasses.fields(IndexedSite)}
    return Plan(**indexed_fields, pages=pages, feeds=feeds)


GITHUB_PAGES_MARKER = Output(".nojekyll", b"", "the GitHub Pages marker")
"""Tells GitHub Pages to serve the files as they are, without running Jekyll over them."""


@fewer_collections()
def build(
    site_dir: Path, options: BuildOptions = BuildOptions(), progress: Callable[[int], None] | None = None
) -> BuildReport:
    """Build the site in ``site_dir``: plan every page, render it, write the lot atomically.
    ``progress`` is told how many files are done, as each one is."""
    watch = Stopwatch()
    output_dir = options.output or site_dir / DEFAULT_OUTPUT
    check_output_folder(site_dir, output_dir)
    cache_dir = cache_folder(site_dir, options)
    if cache_dir is not None:
        check_cache_folder(cache_dir, output_dir)  # before loading, which writes to the cache
    parsed = PaperCache(cache_dir) if cache_dir is not None else None
    try:
        indexed = index_content(site_dir, options, watch, parsed)
    except BaseException:
        if parsed is not None:
            parsed.save()  # the papers that did parse are kept for the next try
        raise
    fork = options.jobs != 1
    # Started first, as it takes longest, in a new process given only what it needs: a fork would
    # hold (and count in its memory) every paper, 1.2 GB at 100,000 papers.
    search_work = (search_documents(indexed.site), Layout(), cache_dir, fork)
    with (
        in_background(chunked_index, *search_work, fork=fork, spawn=True) as search,
        RelatedPapers(indexed.site, cache_dir, fork) as related,
    ):
        del search_work
        if parsed is not None:
            parsed.save()  # here rather than before: beside the two processes just started
        # Only the papers' own pages show related papers: the rest are planned and rendered
        # while those are found.
        plan = plan_output(indexed, watch)
        settled()
        env = make_environment(plan.config, plan.template_dirs)
        page_cache = (
            PageCache(cache_dir, output_dir, site_fingerprint(template_sources(env), site_values(env)))
            if cache_dir is not None
            else None
        )
        other_pages = [page for page in plan.pages if not isinstance(page.context, PaperContext)]
        with PaperPages(plan, related, env, page_cache, fork, watch) as papers:
            made_here = itertools.chain(
                watch.timed("render pages", render_pages, other_pages, env, page_cache),
                watch.timed("feeds", render_feeds, plan.feeds, plan.config.title, page_cache),
                watch.timed("citations", render_citations, plan.site),
                watch.timed("data export", render_data, plan.site, page_cache),
                watch.timed("static files", copy_static, plan.static),
            )
            outputs: Iterator[Output] = itertools.chain(
                papers.beside(made_here),
                # Made by other processes when forked, and taken last: these stages are then only
                # the wait for them.
                watch.timed("search index", search.result),
                watch.timed("paper pages", papers.outputs),
                [GITHUB_PAGES_MARKER],
            )
            if progress is not None:
                outputs = _counted(outputs, progress)
            with watch.stage("write"):
                spare = cache_dir / SPARE_OUTPUT if cache_dir is not None else None
                written = write_site(outputs, output_dir, separate=fork, spare=spare)
    plan = papers.plan
    if page_cache is None:
        return BuildReport(plan, written, output_dir, watch.seconds)
    page_cache.save()
    return BuildReport(plan, written, output_dir, watch.seconds, page_cache.reused)


def cache_folder(site_dir: Path, options: BuildOptions) -> Path | None:
    return (options.cache_dir or site_dir / DEFAULT_CACHE) if options.cache else None


def _counted(outputs: Iterable[Output], progress: Callable[[int], None]) -> Iterator[Output]:
    for done, output in enumerate(outputs, start=1):
        progress(done)
        yield output


def check_site(site_dir: Path, options: BuildOptions = BuildOptions()) -> Plan:
    """Everything a build does short of rendering and writing: the same outputs are claimed, so
    clashes and unsafe paths are found without writing anything."""
    plan = plan_site(site_dir, dataclasses.replace(options, cache=False))  # checking writes nothing
    claims = PathClaims()
    for page in plan.pages:
        claims.claim(urls.output_path(page.url), page.source)
    for path in feed_paths(plan.feeds):
        claims.claim(path, "a feed")
    for path in SEARCH_PATHS:
        claims.claim(path, "the search index")
    for paper in plan.site.papers:
        claims.claim(urls.paper(paper.id) + CITE_FILE, f"the citation of {paper.source}")
    for path in data_paths(plan.site):
        claims.claim(path, "the data export")
    for path, file in plan.static.items():
        claims.claim(path, str(file))
    claims.claim(GITHUB_PAGES_MARKER.path, GITHUB_PAGES_MARKER.source)
    return plan


def check_output_folder(site_dir: Path, output: Path) -> None:
    """The output folder is replaced whole on every build, so it must be one sitegen made (or a
    new or empty one), and never the site itself or a folder holding it."""
    site = site_dir.resolve()
    out = output.resolve()
    if out == site or out in site.parents:
        raise OutputError(f"output folder {output} would replace the site folder {site_dir}; choose another")
    if out.exists() and not out.is_dir():
        raise OutputError(f"output folder {output} is a file; choose another path")
    if out.is_dir() and any(out.iterdir()) and not (out / GITHUB_PAGES_MARKER.path).exists():
        raise OutputError(
            f"output folder {output} is not empty and was not made by sitegen (it has no "
            f"{GITHUB_PAGES_MARKER.path}); every build replaces it whole, so choose a new or empty folder"
        )


def check_cache_folder(cache_dir: Path, output: Path) -> None:
    """The output folder is replaced whole and the cache keeps the one it replaces: neither may
    hold the other."""
    cache, out = cache_dir.resolve(), output.resolve()
    if cache == out or out in cache.parents or cache in out.parents:
        raise OutputError(
            f"cache folder {cache_dir} and output folder {output} are one inside the other; "
            "every build replaces the output whole, so keep them apart"
        )


def _shown_root(site_dir: Path) -> Path | None:
    """Show content paths relative to the working folder when the site is inside it."""
    cwd = Path.cwd().resolve()
    resolved = site_dir.resolve()
    return cwd if resolved == cwd or cwd in resolved.parents else None
