"""``build()``: every stage of a build, in order. Read this function to know what a build does."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import urls
from .config import SiteConfig, load_config
from .content import find_abstract_files, load_papers
from .errors import InputError, Problem
from .feeds import Feed, feed_paths, plan_feeds, render_feeds
from .pages import Page, plan_pages, plan_robots, plan_sitemaps
from .render import copy_static, make_environment, render_pages, static_files
from .site import Selection, Site, index_site, select_papers
from .themes import find_theme
from .writer import Output, PathClaims, WriteReport, write_site

CONTENT_DIR = "content"
DEFAULT_OUTPUT = "_site"


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


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated site and the pages it will have; what ``sitegen check`` stops at."""

    config: SiteConfig
    site: Site
    selection: Selection
    pages: list[Page]
    feeds: list[Feed]
    warnings: tuple[Problem, ...]
    template_dirs: tuple[Path, ...]
    static_dirs: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class BuildReport:
    plan: Plan
    written: WriteReport
    output: Path
    seconds: dict[str, float] = field(default_factory=dict)


def plan_site(site_dir: Path, options: BuildOptions) -> Plan:
    """Load, validate, select, index and plan; raises ``InputError`` listing every problem."""
    overrides: Mapping[str, Any] = {"base_url": options.base_url} if options.base_url else {}
    config = load_config(site_dir, overrides)
    theme_dir = find_theme(site_dir, config.theme)

    loaded = load_papers(find_abstract_files(site_dir / CONTENT_DIR), shown_root=_shown_root(site_dir))
    errors = [problem for problem in loaded.problems if problem.is_error]
    warnings = tuple(problem for problem in loaded.problems if not problem.is_error)
    if errors or (options.strict and warnings):
        raise InputError(loaded.problems)

    today = options.today or dt.datetime.now(config.zone).date()
    selection = select_papers(
        loaded.papers, include_drafts=options.drafts, include_future=options.future, today=today
    )
    site = index_site(config, selection.papers)
    pages = plan_pages(site)
    pages += plan_sitemaps(pages)
    pages.append(plan_robots())
    return Plan(
        config=config,
        site=site,
        selection=selection,
        pages=pages,
        feeds=plan_feeds(site, config.feed_size),
        warnings=warnings,
        template_dirs=(site_dir / "templates", theme_dir / "templates"),
        static_dirs=(theme_dir / "static", site_dir / "static"),
    )


def build(site_dir: Path, options: BuildOptions = BuildOptions()) -> BuildReport:
    """Build the site in ``site_dir``: plan every page, render it, write the lot atomically."""
    plan = plan_site(site_dir, options)
    env = make_environment(plan.config, plan.template_dirs)
    outputs = itertools.chain(
        render_pages(plan.pages, env),
        render_feeds(plan.feeds, plan.config.title),
        copy_static(static_files(plan.static_dirs)),
        [Output(".nojekyll", b"", "GitHub Pages marker")],
    )
    output_dir = options.output or site_dir / DEFAULT_OUTPUT
    written = write_site(outputs, output_dir)
    return BuildReport(plan, written, output_dir)


def check_site(site_dir: Path, options: BuildOptions = BuildOptions()) -> Plan:
    """Everything a build does short of rendering and writing, including output-path clashes."""
    plan = plan_site(site_dir, options)
    claims = PathClaims()
    for page in plan.pages:
        claims.claim(urls.output_path(page.url), page.source)
    for path in feed_paths(plan.feeds):
        claims.claim(path, "a feed")
    for path, file in static_files(plan.static_dirs).items():
        claims.claim(path, str(file))
    return plan


def _shown_root(site_dir: Path) -> Path | None:
    """Show content paths relative to the working folder when the site is inside it."""
    cwd = Path.cwd().resolve()
    resolved = site_dir.resolve()
    return cwd if resolved == cwd or cwd in resolved.parents else None
