"""Rebuilding a built site: unchanged files are left alone, changed ones are replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

from sitegen.build import BuildOptions, build

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


def test_the_report_times_every_stage(tmp_path: Path) -> None:
    report = build(REPO, BuildOptions(output=tmp_path / "_site"))
    assert list(report.seconds) == [
        "load", "index", "plan", "render pages", "feeds", "search index", "citations", "data export",
        "static files", "write",
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
