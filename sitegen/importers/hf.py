"""Hugging Face daily-papers JSON → records.

An item looks like ``{"paper": {"id", "title", "summary", "authors": [{"name"}], "publishedAt",
"upvotes", "githubRepo", "projectPage", "ai_summary", "githubStars"}, "publishedAt", "title", ...}``.
Beware the two dates: the item's ``publishedAt`` is the day it was listed, the paper's is the
arXiv date.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from ..importing import ImportProblem, Record, SourceError, normalise_paragraphs, normalise_space
from .arxiv import arxiv_id_to_slug


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(dt.UTC).date() if moment.tzinfo else moment.date()


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _url(value: Any) -> str:
    return (
        value.strip() if isinstance(value, str) and value.strip().startswith(("https://", "http://")) else ""
    )


def read_item(item: Any, position: str) -> Record | ImportProblem:
    if not isinstance(item, dict):
        return ImportProblem(position, f"is not an object but {type(item).__name__}; skipped")
    nested = item.get("paper")
    paper: dict[str, Any] = nested if isinstance(nested, dict) else {}

    def pick(key: str) -> Any:
        value = paper.get(key)
        return value if value not in (None, "", []) else item.get(key)

    paper_id = pick("id")
    title = pick("title")
    if not isinstance(paper_id, str) or not paper_id.strip():
        return ImportProblem(position, "has no paper.id; skipped")
    if not isinstance(title, str) or not title.strip():
        return ImportProblem(position, f"{paper_id}: has no title; skipped")
    listed = _date(item.get("publishedAt"))
    if item.get("publishedAt") is not None and listed is None:
        return ImportProblem(
            position, f"{paper_id}: publishedAt {item.get('publishedAt')!r} is not a date; skipped"
        )
    authors = pick("authors")
    authors = authors if isinstance(authors, list) else []
    names = tuple(
        (normalise_space(a["name"]), "")
        for a in authors
        if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip()
    )
    summary = pick("summary")
    ai_summary = paper.get("ai_summary") or item.get("ai_summary")
    links = [("code", _url(pick("githubRepo"))), ("project", _url(pick("projectPage")))]
    return Record(
        id=arxiv_id_to_slug(paper_id.strip()),
        title=normalise_space(title),
        abstract=normalise_paragraphs(summary) if isinstance(summary, str) else "",
        position=position,
        authors=names,
        date=listed,
        published=_date(paper.get("publishedAt")),
        links=tuple((kind, url) for kind, url in links if url),
        upvotes=_count(pick("upvotes")),
        stars=_count(pick("githubStars")),
        tldr=normalise_space(ai_summary) if isinstance(ai_summary, str) else "",
    )


def read(text: str, reference: dt.date) -> Iterator[Record | ImportProblem]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise SourceError("line 1: JSON nested too deeply to be daily-paper items") from None
    if isinstance(items, dict):
        items = items.get("papers", items.get("items"))
    if not isinstance(items, list):
        raise SourceError("expected a JSON list of daily-paper items")
    for number, item in enumerate(items, start=1):
        yield read_item(item, f"item {number}")
