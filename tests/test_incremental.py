"""Rebuilding a built site: unchanged files are left alone, changed ones are replaced."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from sitegen import stopwatch
from sitegen.build import BuildOptions, build

from .helpers import snapshot

REPO = Path(__file__).resolve().parent.parent


def inodes(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_ino for path in folder.rglob("*") if path.is_file()}


def test_a_rebuild_with_no_change_writes_no_file(tmp_path: Path) -> None:
    out = tmp_path / "_site"
    first = build(REPO, BuildOptions(output=out))
    before = inodes(out)
    second = build(REPO, BuildOptions(output=out))
    assert second.written.files == first.written.files == len(before)
    assert second.written.written == 0
    assert inodes(out) == before


def test_editing_one_abstract_rewrites_only_what_shows_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(
        REPO, site, ignore=shutil.ignore_patterns(".git", "_site", "node_modules", ".venv", "tests")
    )
    out = tmp_path / "_site"
    build(site, BuildOptions(output=out))
    before = inodes(out)
    paper = site / "content/papers/2024/1312.6114.md"
    paper.write_text(paper.read_text().replace("reparameterisation trick", "reparameterization trick"))
    report = build(site, BuildOptions(output=out))
    after = inodes(out)
    changed = {path for path in after if after[path] != before.get(path)}
    assert "papers/1312.6114/index.html" in changed
    assert "search/meta.json" not in changed and any(path.startswith("search/s/") for path in changed)
    assert "papers/1406.2661/index.html" not in changed
    assert "papers/1312.6114/cite.bib" not in changed  # the citation has no abstract
    assert report.written.written == len(changed)
    assert len(changed) < len(after) / 10


def test_a_stage_entered_while_an_item_is_made_is_not_counted_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Related papers are waited for (a stage) while the list pages render (timed items)."""
    now = [0.0]
    monkeypatch.setattr(stopwatch, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    watch = stopwatch.Stopwatch()

    def items() -> Iterator[str]:
        now[0] += 1  # the item's own second
        with watch.stage("inner"):
            now[0] += 2
        yield "item"

    with watch.stage("outer"):
        now[0] += 4
        assert list(watch.timed("item", items)) == ["item"]
    assert watch.seconds == {"inner": 2, "item": 1, "outer": 4}


def test_the_report_times_every_stage(tmp_path: Path) -> None:
    report = build(REPO, BuildOptions(output=tmp_path / "_site"))
    assert list(report.seconds) == [
        "load", "index", "plan", "render pages", "related", "feeds", "citations", "data export", "static files",
        "search index", "paper pages", "write",
    ]  # fmt: skip
    assert all(seconds >= 0 for seconds in report.seconds.values())


def test_time_spent_producing_items_is_charged_to_the_producer_not_the_consumer() -> None:
    import time

    from sitegen.stopwatch import Stopwatch

    def slow_items() -> list[int]:
        time.sleep(0.2)
        return [1, 2]

    watch = Stopwatch()
    with watch.stage("write"):
        assert list(watch.timed("render", slow_items)) == [1, 2]
        time.sleep(0.05)
    assert watch.seconds["render"] >= 0.2
    assert 0.05 <= watch.seconds["write"] < 0.15
    assert list(watch.seconds) == ["render", "write"]


NEW_PAPER = """---
id: 2501.00001
title: Caching tokens for faster rebuilds of a retrieval index
authors: [Ada Example, Grace Sample]
date: 2024-12-31
topics: [efficient-training]
---
We rebuild a search index after one new paper and reuse what earlier builds tokenised.
"""


def test_a_cached_build_after_each_change_is_byte_identical_to_a_clean_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(
        REPO,
        site,
        ignore=shutil.ignore_patterns(".git", "_site", "node_modules", ".venv", "tests", ".sitegen-cache"),
    )
    papers = site / "content/papers/2024"
    out = tmp_path / "_site"

    def edit(path: Path, old: str, new: str) -> None:
        text = path.read_text(encoding="utf-8")
        assert old in text, (path, old)
        path.write_text(text.replace(old, new), encoding="utf-8")

    # Each change, and the abstract files parsed and pages rendered in the build after it: "some"
    # is more than none and fewer than all.
    changes: list[tuple[str, Callable[[], object], BuildOptions, int, str]] = [
        ("add a paper", lambda: (papers / "2501.00001.md").write_text(NEW_PAPER, encoding="utf-8"), BuildOptions(), 1, "some"),
        ("edit an abstract", lambda: edit(papers / "1312.6114.md", "reparameterisation", "reparametrisation"), BuildOptions(), 1, "some"),
        ("delete a paper", (papers / "1706.03762.md").unlink, BuildOptions(), 0, "some"),
        ("rename a topic", lambda: edit(site / "sitegen.yaml", "name: Computer vision", "name: Vision"), BuildOptions(), 0, "some"),
        ("edit a template", lambda: edit_theme_template(site), BuildOptions(), 0, "all"),
        ("change sitegen.yaml", lambda: edit(site / "sitegen.yaml", "title: Reading Group Digest", "title: Our Digest"), BuildOptions(), 0, "all"),
        ("change base_url", lambda: None, BuildOptions(base_url="https://example.org/digest/"), 0, "all"),
        ("no change", lambda: None, BuildOptions(base_url="https://example.org/digest/"), 0, "none"),
    ]  # fmt: skip
    build(site, BuildOptions(output=out))
    for number, (change, make_change, options, parsed, rendered) in enumerate(changes):
        make_change()
        report = build(site, replace(options, output=out))
        clean = tmp_path / f"clean-{number}"
        build(site, replace(options, output=clean, cache=False))
        assert snapshot(out) == snapshot(clean), change
        pages = len(report.plan.pages)
        assert report.plan.papers_parsed == parsed, change
        assert rendered == {0: "all", pages: "none"}.get(report.pages_reused, "some"), change


def edit_theme_template(site: Path) -> None:
    """The site's own copy of the paper template, with one word changed: it replaces the theme's."""
    theme_paper = REPO / "themes/default/templates/paper.html"
    (site / "templates").mkdir(exist_ok=True)
    text = theme_paper.read_text(encoding="utf-8")
    (site / "templates/paper.html").write_text(text.replace("</article>", "<!-- edited --></article>", 1))
