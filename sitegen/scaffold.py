"""``sitegen init`` and ``sitegen new``: starter files written from plain data, never from templates
of user text, so every value is YAML-quoted correctly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from .config import CONFIG_FILE, TOPIC_SLUG
from .content import is_valid_id
from .errors import UsageError


def front_matter(fields: dict[str, Any], body: str) -> str:
    header = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)
    return f"---\n{header}---\n{body.strip()}\n"


def abstract_path(site_dir: Path, paper_id: str, date: dt.date) -> Path:
    return site_dir / "content" / "papers" / f"{date.year:04d}" / f"{paper_id}.md"


def new_paper(
    site_dir: Path,
    paper_id: str,
    title: str,
    date: dt.date,
    authors: list[str],
    topics: list[str],
    abstract: str = "",
) -> Path:
    """Write a new abstract file; refuses ids that are not slug-safe and existing files."""
    if not is_valid_id(paper_id):
        raise UsageError(f"--id {paper_id!r} is not slug-safe; use letters, digits, '.', '-' and '_'")
    for topic in topics:
        if not TOPIC_SLUG.match(topic):
            raise UsageError(f"--topic {topic!r} must be lowercase letters, digits and single hyphens")
    if not (site_dir / CONFIG_FILE).is_file():
        raise UsageError(f"{site_dir} has no {CONFIG_FILE}; run 'sitegen init {site_dir}' first")
    path = abstract_path(site_dir, paper_id, date)
    if path.exists():
        raise UsageError(f"{path} already exists; edit it instead")
    fields: dict[str, Any] = {"id": paper_id, "title": title, "authors": authors, "date": date.isoformat()}
    fields["topics"] = topics
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        front_matter(fields, abstract or "Write the abstract here, in Markdown."), encoding="utf-8"
    )
    return path


STARTER_CONFIG = """\
# sitegen site configuration; every option is described in docs/configuration.md.
title: {title}
description: New papers, every day.
base_url: https://example.org/
language: en
timezone: UTC
per_page: 50
topics:
  language-models:
    name: Language models
    description: Pretraining, fine-tuning and evaluating language models.
  vision: Computer vision
"""


def init_site(site_dir: Path, today: dt.date) -> list[Path]:
    """Create a working starter site; refuses a folder that already has a ``sitegen.yaml``."""
    config = site_dir / CONFIG_FILE
    if site_dir.exists() and not site_dir.is_dir():
        raise UsageError(f"{site_dir} is a file; 'sitegen init' needs a new or existing folder")
    if config.exists():
        raise UsageError(f"{config} already exists; 'sitegen init' only creates new sites")
    site_dir.mkdir(parents=True, exist_ok=True)
    title = yaml.safe_dump(site_dir.resolve().name.replace("-", " ").title() or "Papers").splitlines()[0]
    config.write_text(STARTER_CONFIG.format(title=title), encoding="utf-8")
    created = [config]
    created.append(
        new_paper(
            site_dir,
            "1706.03762",
            "Attention Is All You Need",
            today,
            [
                "Ashish Vaswani",
                "Noam Shazeer",
                "Niki Parmar",
                "Jakob Uszkoreit",
                "Llion Jones",
                "Aidan N. Gomez",
                "Łukasz Kaiser",
                "Illia Polosukhin",
            ],
            ["language-models"],
            "Replaces recurrence with attention alone. Scaled dot-product attention divides by "
            "$\\sqrt{d_k}$ to keep the softmax in a useful range.",
        )
    )
    for folder in ("templates", "static"):
        (site_dir / folder).mkdir(exist_ok=True)
    (site_dir / ".gitignore").write_text("/_site/\n/.sitegen-cache/\n", encoding="utf-8")
    created.append(site_dir / ".gitignore")
    return created
