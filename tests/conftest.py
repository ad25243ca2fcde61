"""A tiny site factory: each test writes exactly the files it needs into ``tmp_path``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

BASIC_CONFIG = """\
title: Test Digest
description: Papers for testing.
base_url: https://example.org/
topics:
  vision: Computer vision
"""


def paper_text(
    paper_id: str = "2401.00001",
    title: str = "A Paper",
    date: str = "2024-01-15",
    topics: str | None = "[vision]",
    body: str = "An abstract with $x^2$.",
    extra: str = "",
    authors: str = "[Ada Lovelace, Alan Turing]",
) -> str:
    """An abstract file; ``topics=None`` leaves the ``topics`` line out."""
    topics_line = f"topics: {topics}\n" if topics is not None else ""
    return (
        f"---\nid: {paper_id}\ntitle: {title}\nauthors: {authors}\ndate: {date}\n"
        f"{topics_line}{extra}---\n{body}\n"
    )


SiteFactory = Callable[..., Path]


@pytest.fixture
def make_site(tmp_path: Path) -> SiteFactory:
    """``make_site({"content/papers/a.md": "...", ...}, config=...)`` → the site folder."""

    def make(files: dict[str, str] | None = None, config: str = BASIC_CONFIG, name: str = "site") -> Path:
        site = tmp_path / name
        site.mkdir()
        (site / "sitegen.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
        for relative, text in (files or {}).items():
            path = site / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return site

    return make
