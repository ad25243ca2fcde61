"""Planned pages → ``Output`` items ``(path, bytes)``: Jinja2 for pages, plain copies for static files.

Renderers never write; they hand their bytes to ``writer.write_site``.
"""

from __future__ import annotations

import errno
import os
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import jinja2
from markupsafe import Markup

from . import urls
from .config import SiteConfig, SubscribeForm
from .errors import InputError, error, shown_path
from .feeds import feed_links
from .pages import Page, long_date
from .views import PaperView, script_safe_json
from .writer import Output, read_regular_file

if TYPE_CHECKING:
    from .pagecache import PageCache, PageRecords


@dataclass(frozen=True, slots=True)
class SiteView:
    """The site-wide values every template sees as ``site``."""

    title: str
    description: str
    language: str
    base_url: str
    base_path: str
    subscribe: SubscribeForm | None
    """The footer's sign-up form, when ``sitegen.yaml`` configures one."""


def json_ld(data: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">``."""
    return Markup(script_safe_json(data, sort_keys=True, separators=(",", ":")))


CARD_MACROS = "_macros.html"


CARDS_IN_MEMORY = 64 << 20
"""Bytes of cards kept in memory (about 40,000 cards); the rest go to a temporary file."""


class _CardOnDisk(NamedTuple):
    offset: int
    split: int
    """Where the abstract goes."""
    length: int


class CardRenderer:
    """``card(paper, show_date, heading)`` for templates: the ``paper_card`` macro of
    ``_macros.html``, rendered once per paper and variant however many lists show it. A paper
    appears on its day, month, topics and every author's page; rendering its card each time was
    most of the render stage. What is kept until ``forget`` is the card around the abstract, as
    UTF-8: the abstract's HTML is the paper's own string, put back in at each use. Whole cards
    took about 1.5 GB at 100,000 papers; the card around the abstract, 330 MB, so past
    ``in_memory`` bytes they are kept in a temporary file instead (read back from the system's
    file cache, outside this process's memory)."""

    def __init__(self, env: jinja2.Environment, in_memory: int | None = None) -> None:
        self._env = env
        self._cards: dict[tuple[str, bool, str], tuple[bytes, bytes] | Markup | _CardOnDisk] = {}
        self._budget = CARDS_IN_MEMORY if in_memory is None else in_memory
        self._in_memory = self._budget
        self._disk: Any = None

    def __call__(self, paper: Any, show_date: bool = False, heading: str = "h2") -> Markup:
        key = (paper.id, bool(show_date), heading)
        kept = self._cards.get(key)
        if kept is None:
            kept = self._cards[key] = self._keep(self._render(paper, bool(show_date), heading))
        if isinstance(kept, Markup):
            return kept
        if isinstance(kept, _CardOnDisk):
            data = os.pread(self._disk.fileno(), kept.length, kept.offset)
            before, after = data[: kept.split], data[kept.split :]
        else:
            before, after = kept
        return Markup("".join((before.decode(), paper.abstract_html, after.decode())))

    def _keep(self, card: tuple[bytes, bytes] | Markup) -> tuple[bytes, bytes] | Markup | _CardOnDisk:
        if isinstance(card, Markup):
            return card
        if self._in_memory > 0:
            self._in_memory -= len(card[0]) + len(card[1])
            return card
        if self._disk is None:
            self._disk = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed by forget()
        offset = self._disk.tell()
        data = card[0] + card[1]
        if self._disk.write(data) != len(data):
            raise OSError(errno.ENOSPC, "the temporary folder is full")
        return _CardOnDisk(offset, len(card[0]), len(data))

    def _render(self, paper: Any, show_date: bool, heading: str) -> tuple[bytes, bytes] | Markup:
        macros: Any = self._env.get_template(CARD_MACROS).module
        html = macros.paper_card(paper, show_date, heading)
        if not isinstance(paper, PaperView) or not paper.abstract_html:
            return Markup(html)
        # Cut at the abstract wherever it is: before + abstract + after is the card again, whichever
        # occurrence it is. A theme that filters the abstract (no occurrence) keeps whole cards.
        before, abstract, after = str.partition(html, paper.abstract_html)
        if not abstract:
            return Markup(html)
        return before.encode(), after.encode()

    def __len__(self) -> int:
        """How many cards are kept."""
        return len(self._cards)

    def forget(self) -> None:
        self._cards.clear()
        self._in_memory = self._budget
        if self._disk is not None:
            self._disk.close()
            self._disk = None


class TemplateFiles(jinja2.BaseLoader):
    """Every file of the template folders, read once when the build starts; a name in an earlier
    folder (the site's) hides the same name in a later one (the theme's). Pages render from these
    bytes, the ones their cache keys hash: a template saved while a build runs takes effect in the
    next build, whole, never half-way through this one. Symlinked folders are followed (each real
    folder once), as Jinja's own loader follows them when it opens a file."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.searchpath = [str(folder) for folder in folders]
        self.files: dict[str, tuple[bytes, str]] = {}
        """Template name → its bytes and the file they were read from."""
        for folder in folders:
            for name, data, path in _files_under(folder):
                self.files.setdefault(name, (data, path))

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        found = self.files.get("/".join(jinja2.loaders.split_template_path(template)))
        if found is None:
            raise jinja2.TemplateNotFound(template)
        data, path = found
        return data.decode("utf-8"), path, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.files)


def _files_under(folder: Path) -> Iterator[tuple[str, bytes, str]]:
    seen: set[str] = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            data = read_regular_file(path)
            if data is not None:  # not a dangling link (an editor's lock file), a pipe, unreadable
                yield Path(path).relative_to(folder).as_posix(), data, path


def make_environment(config: SiteConfig, template_dirs: Sequence[Path]) -> jinja2.Environment:
    """Templates from the site's own folder win over the theme's, file by file."""
    env = jinja2.Environment(
        loader=TemplateFiles(template_dirs),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    base_path = config.base_path

    def url(path: str) -> str:
        return base_path + path

    def absolute_url(path: str) -> str:
        return config.base_url + path

    env.globals.update(
        site=SiteView(
            config.title,
            config.description,
            config.language,
            config.base_url,
            base_path,
            config.subscribe,
        ),
        url=url,
        absolute_url=absolute_url,
        json_ld=json_ld,
        card=CardRenderer(env),
        site_feeds=feed_links(config.title, urls.HOME, base_path),
    )
    env.filters["long_date"] = long_date
    env.filters["slash_date"] = lambda date: date.strftime("%Y/%m/%d")
    return env


def template_sources(env: jinja2.Environment) -> dict[str, bytes]:
    """Every template ``env`` renders from, by name."""
    loader = env.loader
    return (
        {name: data for name, (data, _) in loader.files.items()} if isinstance(loader, TemplateFiles) else {}
    )


def site_values(env: jinja2.Environment) -> tuple[Any, ...]:
    """The site-wide data ``make_environment`` gives every template (its functions are code)."""
    return (env.globals["site"], env.globals["site_feeds"])


def render_pages(
    pages: Iterable[Page], env: jinja2.Environment, cache: PageCache | None = None
) -> Iterator[Output]:
    """Each page through its template, unless ``cache`` has its bytes from the last build; the
    cards rendered for them are let go at the end, before the stages after this one need their
    memory."""
    templates: dict[str, jinja2.Template] = {}
    try:
        for page in pages:
            path = urls.output_path(page.url)
            key = cache.keys(page) if cache is not None else None
            if cache is not None and key is not None:
                kept = cache.previous_output(path, key, page.source)
                if kept is not None:
                    yield kept
                    continue
            try:
                template = templates.get(page.template) or templates.setdefault(
                    page.template, env.get_template(page.template)
                )
                data = template.render(page.context, page=page).encode("utf-8")
            except Exception as exc:  # noqa: BLE001 - any error in a (user's) template is reported, with its line
                raise template_problem(exc, page.template, env) from None
            if cache is not None:
                cache.rendered(path, key, data)
            yield Output(path, data, page.source)
    finally:
        card = env.globals.get("card")
        if isinstance(card, CardRenderer):
            card.forget()


def render_pages_elsewhere(
    pages: Iterable[Page], env: jinja2.Environment, cache: PageCache | None = None
) -> Iterator[Output | PageRecords]:
    """``render_pages`` for a second process: its outputs, then what its copy of the cache learnt,
    for ``received`` to give the parent's. A fork's copy of the parent's cards is let go first:
    their temporary file is the parent's too, and adding to it from both would mix them."""
    card = env.globals.get("card")
    if isinstance(card, CardRenderer):
        card.forget()
    yield from render_pages(pages, env, cache)
    if cache is not None:
        yield cache.learnt()


def received(items: Iterable[Output | PageRecords], cache: PageCache | None) -> Iterator[Output]:
    for item in items:
        if isinstance(item, Output):
            yield item
        elif cache is not None:
            cache.take(item)


def template_problem(exc: Exception, name: str, env: jinja2.Environment) -> InputError:
    """``templates/paper.html:4: template error: 'nope' is undefined``, from whichever template
    (the page's own, a base it extends, a file it includes) the error happened in."""
    if isinstance(exc, jinja2.TemplateNotFound):
        searched = ", ".join(getattr(env.loader, "searchpath", []))
        return InputError(
            [
                error(
                    Path(exc.name or name),
                    None,
                    f"template not found (looked in {searched}); needed for {name}",
                )
            ]
        )
    filename: str | None = getattr(exc, "filename", None)
    line: int | None = getattr(exc, "lineno", None)
    if not isinstance(exc, jinja2.TemplateSyntaxError):
        # Jinja2 rewrites tracebacks so that template frames carry the template's file and line.
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith((".html", ".xml", ".txt")) and Path(frame.filename).is_file():
                filename, line = frame.filename, frame.lineno
                break
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return InputError([error(shown_path(Path(filename or name)), line, f"template error: {message}")])


def static_files(static_dirs: Sequence[Path]) -> dict[str, Path]:
    """Output path → file, from theme to site so a site's file replaces the theme's of that name."""
    files: dict[str, Path] = {}
    for folder in static_dirs:
        if not folder.is_dir():
            continue
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(root, name)
                files[path.relative_to(folder).as_posix()] = path
    return files


def copy_static(files: dict[str, Path]) -> Iterator[Output]:
    for path, file in sorted(files.items()):
        yield Output(path, file.read_bytes(), str(file))
