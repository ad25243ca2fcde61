"""The cycle collector's thresholds during a build, and after it."""

from __future__ import annotations

import gc

import pytest

from sitegen import build as build_module
from sitegen.build import build
from sitegen.garbage import BUILD_THRESHOLDS, fewer_collections, settled
from sitegen.pages import plan_pages
from sitegen.render import render_pages

from .conftest import SiteFactory, paper_text


def test_thresholds_are_the_builds_inside_and_restored_after_even_on_error() -> None:
    before = gc.get_threshold()
    assert before[0] != BUILD_THRESHOLDS[0]
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold()[0] == BUILD_THRESHOLDS[0]
        raise RuntimeError
    assert gc.get_threshold() == before


def test_a_build_runs_with_the_builds_thresholds_and_restores_them(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site({"content/papers/2024/2401.00001.md": paper_text("2401.00001", "First", "2024-01-01")})
    seen = []

    def planning(*args: object) -> object:
        seen.append(gc.get_threshold()[0])
        return plan_pages(*args)

    monkeypatch.setattr(build_module, "plan_pages", planning)
    before = gc.get_threshold()
    build(site)
    assert seen == [BUILD_THRESHOLDS[0]]
    assert gc.get_threshold() == before


def test_what_is_settled_is_out_of_the_collectors_sight_until_the_block_ends() -> None:
    with fewer_collections():
        settled()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_build_settles_its_plan_and_gives_it_back(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan is settled before pages render; the build's end unfreezes, as the preview server
    builds again and again in one process."""
    site = make_site({"content/papers/2024/2401.00001.md": paper_text("2401.00001", "First", "2024-01-01")})
    frozen = []

    def rendering(*args: object) -> object:
        frozen.append(gc.get_freeze_count())
        return render_pages(*args)

    monkeypatch.setattr(build_module, "render_pages", rendering)
    build(site)
    assert frozen and frozen[0] > 0
    assert gc.get_freeze_count() == 0


def test_a_callers_frozen_objects_stay_frozen() -> None:
    """A program that froze its own objects (a server before it forks, say) keeps them frozen."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            settled()
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
