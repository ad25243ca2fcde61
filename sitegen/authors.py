"""Papers → the author index: who wrote what, one page each, with URLs that stay put.

Two spellings are one author when they are equal after Unicode NFC and whitespace folding, and
only then: "Ada Lovelace" and "ada lovelace" may be two people, and guessing otherwise would merge
people who share a name more often than it would help. Names are made into ASCII slugs (accents
dropped); when two names make one slug, the name with the oldest paper keeps it and the others get
``-2``, ``-3``… in the order they first appeared, so the daily papers never move an existing
author's page (adding an *older* paper under another spelling of a shared slug can).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .content import Paper


_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
     "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "\u0131": "i"}
)  # fmt: skip
"""Latin letters that Unicode does not decompose into a base letter and an accent."""


def author_key(name: str) -> str:
    """The form two names are compared in: NFC, runs of whitespace as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def name_slug(name: str) -> str:
    """``Łukasz Kaiser`` → ``lukasz-kaiser``; a name with no Latin letters or digits gets a slug from
    its hash, so that every name has a stable, file-system-safe URL."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LETTERS))
    ascii_name = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    slug = _NOT_SLUG.sub("-", ascii_name).strip("-")[:80].strip("-")
    return slug or "author-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]


def sort_key(name: str) -> tuple[str, str]:
    """Alphabetical by the name as written, ignoring case and accents."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold(), name


@dataclass(frozen=True, slots=True)
class AuthorEntry:
    """One author and their papers."""

    name: str
    """The name as first written on the site (NFC, whitespace folded)."""
    slug: str
    papers: tuple[Paper, ...]
    """Newest first, in the site's order."""
    affiliations: tuple[str, ...]
    """Distinct affiliations given with this name, most recent first."""


def index_authors(papers: Iterable[Paper]) -> tuple[tuple[AuthorEntry, ...], Mapping[str, str]]:
    """``papers`` newest first → authors sorted by name, and author key → slug."""
    by_key: dict[str, list[Paper]] = {}
    affiliations: dict[str, list[str]] = {}
    for paper in papers:
        for author in paper.authors:
            key = author_key(author.name)
            listed = by_key.setdefault(key, [])
            if not listed or listed[-1] is not paper:  # a name repeated within one paper counts once
                listed.append(paper)
            if author.affiliation and author.affiliation not in affiliations.setdefault(key, []):
                affiliations[key].append(author.affiliation)

    slugs = assign_slugs(by_key)
    entries = [
        AuthorEntry(key, slugs[key], tuple(listed), tuple(affiliations.get(key, ())))
        for key, listed in by_key.items()
    ]
    entries.sort(key=lambda entry: sort_key(entry.name))
    return tuple(entries), MappingProxyType(slugs)


def assign_slugs(by_key: Mapping[str, list[Paper]]) -> dict[str, str]:
    """Names sharing a slug are told apart by when they first appeared: the name of the oldest
    paper keeps it, so new papers never take an existing author's URL."""
    groups: dict[str, list[str]] = {}
    for key in by_key:
        groups.setdefault(name_slug(key), []).append(key)
    taken = set(groups)
    slugs: dict[str, str] = {}
    for slug, keys in groups.items():
        keys.sort(key=lambda key: (min((paper.date, paper.id) for paper in by_key[key]), key))
        slugs[keys[0]] = slug
        number = 2
        for key in keys[1:]:
            while f"{slug}-{number}" in taken:
                number += 1
            slugs[key] = f"{slug}-{number}"
            taken.add(slugs[key])
    return slugs
