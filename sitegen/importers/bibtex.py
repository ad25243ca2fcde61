"""BibTeX (``@article``, ``@inproceedings``, ``@misc`` with ``eprint``) → records, with
``bibtexparser``; LaTeX accents become Unicode, math stays LaTeX."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator

import bibtexparser
from bibtexparser import middlewares

from ..content import ARXIV_ID
from ..importing import ImportProblem, Record, normalise_paragraphs, normalise_space
from .arxiv import arxiv_id_to_slug

TYPES = {"article", "inproceedings", "misc", "preprint", "unpublished", "techreport", "incollection"}


def _plain(value: str) -> str:
    """Drop the braces BibTeX uses to protect capitals, outside math."""
    parts = re.split(r"(\$[^$]*\$)", value)
    return normalise_space(
        "".join(part if part.startswith("$") else part.replace("{", "").replace("}", "") for part in parts)
    )


def _name(parts: middlewares.NameParts) -> str:
    return _plain(" ".join([*parts.first, *parts.von, *parts.last, *parts.jr]))


def read(text: str, reference: dt.date) -> Iterator[Record | ImportProblem]:
    # bibtexparser logs each failed block itself; we report them with their position instead.
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(  # type: ignore[attr-defined]
        text,
        append_middleware=[
            middlewares.LatexDecodingMiddleware(),
            middlewares.SeparateCoAuthors(),
            middlewares.SplitNameParts(),
        ],
    )
    blocks = sorted(
        [
            *((entry.start_line, entry) for entry in library.entries),
            *((b.start_line, b) for b in library.failed_blocks),
        ],
        key=lambda pair: pair[0] or 0,
    )
    for start, block in blocks:
        position = f"line {(start or 0) + 1}"
        if isinstance(block, bibtexparser.model.Entry):
            yield read_entry(block, position)
        else:
            error = getattr(block, "error", None)
            reason = getattr(error, "abort_reason", None) or str(error or "") or "cannot be parsed"
            yield ImportProblem(position, f"malformed entry skipped: {normalise_space(reason)}")


def read_entry(entry: bibtexparser.model.Entry, position: str) -> Record | ImportProblem:
    fields = {key.lower(): value for key, value in ((f.key, f.value) for f in entry.fields)}
    if entry.entry_type.lower() not in TYPES:
        return ImportProblem(position, f"@{entry.entry_type} {{{entry.key}}} is not a paper type; skipped")
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip():
        return ImportProblem(position, f"{entry.key}: has no title; skipped")
    eprint = str(fields.get("eprint", "")).strip()
    is_arxiv = str(fields.get("archiveprefix", "")).lower() == "arxiv" or ARXIV_ID.match(eprint)
    paper_id = arxiv_id_to_slug(re.sub(r"v\d+$", "", eprint)) if eprint and is_arxiv else entry.key
    authors = fields.get("author", [])
    names = tuple((_name(parts), "") for parts in authors) if isinstance(authors, list) else ()
    venue = fields.get("journal") or fields.get("booktitle") or ""
    doi = str(fields.get("doi", "")).strip()
    url = str(fields.get("url", "")).strip()
    links = [("abs", url)] if url.startswith("https://") and not is_arxiv else []
    return Record(
        id=paper_id,
        title=_plain(title),
        abstract=normalise_paragraphs(_plain_keep_paragraphs(str(fields.get("abstract", "")))),
        position=position,
        authors=names,
        categories=(str(fields["primaryclass"]).strip(),) if fields.get("primaryclass") else (),
        primary_category=str(fields.get("primaryclass", "")).strip(),
        journal_ref=_plain(f"{venue} ({fields['year']})" if venue and fields.get("year") else venue),
        doi=doi,
        links=tuple(links),
    )


def _plain_keep_paragraphs(value: str) -> str:
    return "\n\n".join(_plain(paragraph) for paragraph in re.split(r"\n\s*\n", value))
