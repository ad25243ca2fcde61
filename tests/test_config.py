"""sitegen.yaml: a declared schema, every problem at once, unknown keys with a suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitegen.config import load_config
from sitegen.errors import InputError


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sitegen.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, text: str, **overrides: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_config(write_config(tmp_path, text), overrides or None)
    return [str(problem.line) + ": " + problem.message for problem in caught.value.problems]


def test_defaults_and_sub_path(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "base_url: https://user.github.io/repo\n"))
    assert config.base_url == "https://user.github.io/repo/"
    assert config.base_path == "/repo/"
    assert (config.title, config.language, config.per_page, config.timezone) == ("Papers", "en", 50, "UTC")


def test_every_error_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    text = "title: T\nbase_url: example.org\nper_page: 0\ntimezone: Mars/Olympus\ntitel: x\n"
    assert problems(tmp_path, text) == [
        "5: unknown option 'titel' (did you mean 'title'?)",
        "2: 'base_url' must be an absolute http(s) URL such as https://user.github.io/repo/, "
        "got 'example.org'",
        "3: 'per_page' must be a whole number from 1 to 10000, got 0",
        "4: 'timezone' must be an IANA time zone such as 'UTC' or 'Europe/Berlin', got 'Mars/Olympus'",
    ]


def test_base_url_is_required(tmp_path: Path) -> None:
    assert problems(tmp_path, "title: T\n") == ["1: 'base_url' is required; add a 'base_url:' line"]


def test_command_line_base_url_wins(tmp_path: Path) -> None:
    site = write_config(tmp_path, "base_url: https://example.org/\n")
    assert load_config(site, {"base_url": "https://user.github.io/repo/"}).base_path == "/repo/"


def test_topics_accept_names_and_mappings(tmp_path: Path) -> None:
    text = (
        "base_url: https://e.org/\ntopics:\n"
        "  vision: Computer vision\n  nlp: {name: NLP, description: Text.}\n"
    )
    config = load_config(write_config(tmp_path, text))
    assert config.topics["vision"].name == "Computer vision"
    assert config.topics["nlp"].description == "Text."


def test_bad_topic_slug_points_at_its_line(tmp_path: Path) -> None:
    text = "base_url: https://e.org/\ntopics:\n  vision: Computer vision\n  Bad Slug: x\n"
    (message,) = problems(tmp_path, text)
    assert message.startswith("4: 'topics' topic slug 'Bad Slug' must be lowercase")


def test_invalid_yaml(tmp_path: Path) -> None:
    (message,) = problems(tmp_path, "base_url: https://e.org/\ntitle: [oops\n")
    assert "invalid YAML" in message


def test_missing_config_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    assert "no sitegen.yaml here; create one or run 'sitegen init" in str(caught.value)


def test_every_bad_topic_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = "base_url: https://e.org/\ntopics:\n  a:\n    name: [x]\n  B: x\n  c: {nmae: C}\n"
    assert problems(tmp_path, text) == [
        "3: 'topics' topic 'a': name or description must be a non-empty string, got ['x']",
        "5: 'topics' topic slug 'B' must be lowercase letters, digits and single hyphens",
        "6: 'topics' topic 'c' has an unknown key 'nmae' (did you mean 'name'?)",
    ]


def test_base_url_must_not_contain_spaces(tmp_path: Path) -> None:
    (message,) = problems(tmp_path, 'base_url: "https://example.org/a b/"\n')
    assert "must not contain spaces" in message


def test_a_byte_order_mark_does_not_hide_the_first_key(tmp_path: Path) -> None:
    (tmp_path / "sitegen.yaml").write_bytes("\ufefftitel: x\nbase_url: https://e.org/\n".encode())
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    assert [problem.line for problem in caught.value.problems] == [1]
