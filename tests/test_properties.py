"""Property-based tests (hypothesis) for the pieces every path and page depends on."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegen import urls
from sitegen.config import TOPIC_SLUG, parse_base_url
from sitegen.content import FileProblems, _date, _topics, is_valid_id, split_front_matter
from sitegen.errors import OutputError
from sitegen.importers.listing import slug
from sitegen.serve import UnsafePath, resolve_request_path
from sitegen.writer import safe_relative_path

PATH = Path("x.md")
lines = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"), max_size=40)


@given(
    st.lists(lines.filter(lambda line: line.rstrip() not in ("---", "...")), max_size=8),
    st.text(max_size=200),
)
def test_front_matter_splits_exactly(front_lines: list[str], body: str) -> None:
    body = body.replace("\r", "")
    front = "".join(f"{line}\n" for line in front_lines)
    split = split_front_matter(f"---\n{front}---\n{body}", PATH)
    assert split.text == (front or "\n")
    assert split.body == body
    assert split.body_line == len(front_lines) + 3


@given(st.text(max_size=60))
def test_text_without_an_opening_line_is_refused(text: str) -> None:
    if text.split("\n", maxsplit=1)[0].rstrip() == "---":
        return
    with pytest.raises(FileProblems):
        split_front_matter(text, PATH)


@given(st.text(max_size=80))
def test_a_valid_id_always_stays_inside_the_output_folder(paper_id: str) -> None:
    if not is_valid_id(paper_id):
        return
    assert "/" not in paper_id and "\\" not in paper_id and ".." not in paper_id
    relative = safe_relative_path(urls.output_path(urls.paper(paper_id)))
    root = Path("/out")
    assert os.path.normpath(root / relative).startswith("/out/papers/")


@given(st.text(max_size=80))
def test_unsafe_output_paths_are_refused_or_stay_inside(path: str) -> None:
    try:
        relative = safe_relative_path(path)
    except OutputError:
        return
    assert not os.path.normpath(Path("/out") / relative).startswith("/out/..")
    assert os.path.normpath(Path("/out") / relative).startswith("/out/")


@given(st.text(max_size=40))
def test_a_suggested_topic_slug_is_a_slug(topic: str) -> None:
    try:
        _topics([topic])
    except ValueError as exc:
        suggestion = str(exc).split("write '", 1)[1].split("'", 1)[0] if "write '" in str(exc) else None
        if suggestion is not None:
            assert TOPIC_SLUG.match(suggestion)


@given(st.text(max_size=120))
def test_listing_slugs_are_valid_ids_or_empty(title: str) -> None:
    made = slug(title)
    assert made == "" or is_valid_id(made)


@given(st.dates())
def test_dates_round_trip(date: dt.date) -> None:
    assert _date(date.isoformat()) == date
    assert _date(date) == date


@given(st.text(max_size=20))
def test_dates_are_iso_or_refused(text: str) -> None:
    try:
        parsed = _date(text)
    except ValueError:
        return
    assert parsed.isoformat() == text.strip()


segments = st.text(
    st.characters(whitelist_categories=["Ll", "Lu", "Nd"], whitelist_characters="-_."),
    min_size=1,
    max_size=10,
)


@given(
    st.lists(segments, max_size=3),
    st.sampled_from(["", "papers/x/", "topics/a/page/2/", "2024/03/", "feed.xml"]),
)
def test_links_stay_under_the_base_path(parts: list[str], page: str) -> None:
    try:
        base_url = parse_base_url("https://example.org/" + "/".join(parts))
    except ValueError:
        return
    base_path = base_url[len("https://example.org") :]
    assert base_path.startswith("/") and base_path.endswith("/")
    assert (base_path + page).startswith(base_path)
    assert (base_url + page).startswith("https://example.org/")
    assert "//" not in (base_path + page)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(st.text(max_size=60))
def test_the_preview_server_never_resolves_outside_its_root(tmp_path: Path, request_path: str) -> None:
    root = tmp_path / "site"
    (root / "papers").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("home")
    try:
        found = resolve_request_path(root, "/", "/" + request_path)
    except (UnsafePath, UnicodeDecodeError):
        return
    if found is not None:
        assert os.path.realpath(found).startswith(os.path.realpath(root) + os.sep)
