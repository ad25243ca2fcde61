"""BibTeX for every paper, made at build time: shown on its page (with a copy button) and written
beside it as ``cite.bib``. Authors stay in the paper's order; every LaTeX special is escaped."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Protocol

from . import urls
from .site import Site
from .writer import Output

_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
}  # fmt: skip
_SPECIAL = re.compile("|".join(re.escape(char) for char in _SPECIALS))
CITE_FILE = "cite.bib"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class Citable(Protocol):
    """What a citation is made from: a ``content.Paper``, or the ``views.PaperView`` of one (a
    paper's page cites from its view, which its cache key hashes already)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def authors(self) -> Sequence[_Named]: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def published(self) -> dt.date | None: ...
    @property
    def primary_category(self) -> str: ...
    @property
    def journal_ref(self) -> str: ...
    @property
    def doi(self) -> str: ...
    @property
    def is_arxiv(self) -> bool: ...
    def link(self, kind: str) -> str | None: ...


def latex_escape(text: str) -> str:
    return _SPECIAL.sub(lambda match: _SPECIALS[match.group()], text)


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def citation_key(paper: Citable) -> str:
    """``hu2021lora``: first author's last name, year, first long word of the title."""
    last_name = _ascii_word(paper.authors[0].name.split()[-1]) if paper.authors else ""
    year = (paper.published or paper.date).year
    words = [_ascii_word(word) for word in paper.title.split()]
    first_word = next((word for word in words if len(word) > 3), words[0] if words else "")
    return f"{last_name or 'anon'}{year}{first_word}"


def bibtex(paper: Citable, base_url: str) -> str:
    fields: list[tuple[str, str]] = [
        ("title", "{" + latex_escape(paper.title) + "}"),
        ("author", " and ".join(latex_escape(author.name) for author in paper.authors)),
        ("year", str((paper.published or paper.date).year)),
    ]
    if paper.is_arxiv:
        fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
        if paper.primary_category:
            fields.append(("primaryClass", latex_escape(paper.primary_category)))
    if paper.journal_ref:
        fields.append(("journal", latex_escape(paper.journal_ref)))
    if paper.doi:
        fields.append(("doi", latex_escape(paper.doi)))
    fields.append(("url", paper.link("abs") or base_url + urls.paper(paper.id)))
    kind = "article" if paper.journal_ref else "misc"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{kind}{{{citation_key(paper)},\n{body}\n}}\n"


def render_citations(site: Site) -> Iterator[Output]:
    for paper in site.papers:
        text = bibtex(paper, site.config.base_url)
        yield Output(
            urls.paper(paper.id) + CITE_FILE, text.encode("utf-8"), f"the citation of {paper.source}"
        )
