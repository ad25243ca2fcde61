"""The site configuration, ``sitegen.yaml``: a declared schema, validated all at once.

Every option is declared once in ``OPTIONS`` with its default and documentation; unknown keys
are errors with a "did you mean". ``docs/configuration.md`` documents the same list, and a test
keeps the two in step.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .errors import InputError, Problem, error, shown_path
from .yamltext import (
    load_yaml,
    nested_key_line,
    repeated_keys,
    top_level_key_lines,
    yaml_error_line,
    yaml_error_text,
)

CONFIG_FILE = "sitegen.yaml"

TOPIC_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """How the site presents one topic."""

    name: str
    """Display name, e.g. ``Protein design``."""
    description: str = ""
    """One or two sentences shown on the topic's page."""
    any: tuple[str, ...] = ()
    """Keyword rule: a paper whose title or abstract has any of these words or phrases gets the topic."""
    none: tuple[str, ...] = ()
    """Keyword rule: ... unless it has one of these."""


@dataclass(frozen=True, slots=True)
class SubscribeForm:
    """A sign-up form in every page's footer that posts to a mailing-list provider."""

    action: str
    """The provider's https:// URL the form posts to."""
    email_field: str = "email"
    """The name the provider expects for the e-mail address input (``EMAIL`` for Mailchimp)."""
    label: str = "Get the daily digest by e-mail"
    """The visible label of the e-mail input."""
    button: str = "Subscribe"
    """The text of the submit button."""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Everything ``sitegen.yaml`` can say, validated and with defaults filled in."""

    base_url: str
    """Absolute URL of the site's root, always ending in ``/``; may carry a sub-path."""
    title: str = "Papers"
    """The site's name, shown in every page header."""
    description: str = ""
    """One sentence about the site, for the home page and metadata."""
    language: str = "en"
    """BCP 47 language tag for ``<html lang>``."""
    topics: Mapping[str, TopicInfo] = field(default_factory=lambda: MappingProxyType({}))
    """Known topics: slug → display name and description."""
    per_page: int = 50
    """Papers per page on paginated lists."""
    timezone: str = "UTC"
    """IANA time zone that decides what "today" is (for future-dated papers)."""
    feed_size: int = 50
    """Newest papers in each feed."""
    theme: str = "default"
    """Theme folder name, looked up in the site's ``themes/`` and then among the bundled themes."""
    subscribe: SubscribeForm | None = None
    """The footer's sign-up form; no form when None."""

    @property
    def base_path(self) -> str:
        """The path part of ``base_url``: ``/`` or ``/repo/``."""
        return urlsplit(self.base_url).path

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class NestedValueError(ValueError):
    """A problem with one key inside an option's mapping, so the message can point at its line."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class Option:
    """One declared configuration key."""

    name: str
    parse: Callable[[Any], Any]
    """Turns the YAML value into the typed value, or raises ``ValueError`` with the fix."""
    required: bool = False


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_string(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    return value.strip()


def parse_base_url(value: Any) -> str:
    """Validate an absolute http(s) URL and give it exactly one trailing slash."""
    text = _string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"must be an absolute http(s) URL such as https://user.github.io/repo/, got {text!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"must not have a query or fragment, got {text!r}")
    if re.search(r"[\s\"'<>\\^`{|}]", text):
        raise ValueError(f"must not contain spaces or quotes; percent-encode them, got {text!r}")
    return text.rstrip("/") + "/"


def _language(value: Any) -> str:
    text = _string(value)
    if not re.fullmatch(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*", text):
        raise ValueError(f"must be a language tag such as 'en' or 'pt-BR', got {text!r}")
    return text


def _whole_number(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}, got {value!r}")
        return value

    return parse


def _timezone(value: Any) -> str:
    text = _string(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"must be an IANA time zone such as 'UTC' or 'Europe/Berlin', got {text!r}"
        ) from None
    return text


def _theme(value: Any) -> str:
    text = _string(value)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(f"must be a folder name (letters, digits, '-', '_'), got {text!r}")
    return text


class NestedValueErrors(ValueError):
    """Several keys inside one option are wrong; each is reported on its own line."""

    def __init__(self, errors: list[NestedValueError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _topic(slug: Any, info: Any) -> TopicInfo:
    if not isinstance(slug, str) or not TOPIC_SLUG.match(slug):
        raise ValueError(f"topic slug {slug!r} must be lowercase letters, digits and single hyphens")
    if isinstance(info, str):
        return TopicInfo(name=_string(info))
    if not isinstance(info, dict):
        raise ValueError(f"topic {slug!r} must be a name or {{name, description}}")
    keys = ["name", "description", "any", "none"]
    unknown = sorted(str(key) for key in set(info) - set(keys))
    if unknown:
        raise ValueError(f"topic {slug!r} has an unknown key {unknown[0]!r}{did_you_mean(unknown[0], keys)}")
    try:
        name = _string(info.get("name", slug))
        description = _optional_string(info.get("description"))
    except ValueError as exc:
        raise ValueError(f"topic {slug!r}: name or description {exc}") from None
    return TopicInfo(name, description, _keywords(slug, info, "any"), _keywords(slug, info, "none"))


def _keywords(slug: str, info: dict[str, Any], key: str) -> tuple[str, ...]:
    value = info.get(key)
    if value is None:
        return ()
    words = [value] if isinstance(value, str) else value
    if not isinstance(words, list) or not all(isinstance(w, (str, int)) and str(w).strip() for w in words):
        raise ValueError(f"topic {slug!r}: '{key}' must be a list of words or phrases, got {value!r}")
    return tuple(" ".join(str(word).split()) for word in words)


def _topics(value: Any) -> Mapping[str, TopicInfo]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of topic slug to a name or {name, description}")
    topics: dict[str, TopicInfo] = {}
    errors: list[NestedValueError] = []
    for slug, info in value.items():
        try:
            topics[slug] = _topic(slug, info)
        except ValueError as exc:
            errors.append(NestedValueError(str(slug), str(exc)))
    if errors:
        raise NestedValueErrors(errors)
    return MappingProxyType(topics)


FORM_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.\[\]-]+$")


def _https_url(value: Any) -> str:
    text = _string(value)
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.netloc:
        # Addresses typed into a form must not travel unencrypted.
        raise ValueError(
            f"must be an absolute https:// URL such as https://lists.example.com/subscribe, got {text!r}"
        )
    if re.search(r"[\s\"'<>\\^`{|}]", text):
        raise ValueError(f"must not contain spaces or quotes; percent-encode them, got {text!r}")
    return text


def _form_field_name(value: Any) -> str:
    text = _string(value)
    if not FORM_FIELD_NAME.match(text):
        raise ValueError(
            f"must be a form field name (letters, digits, '_', '-', '.', '[', ']'), got {text!r}"
        )
    return text


SUBSCRIBE_KEYS: Mapping[str, Callable[[Any], str]] = MappingProxyType(
    {"action": _https_url, "email_field": _form_field_name, "label": _string, "button": _string}
)


def _subscribe(value: Any) -> SubscribeForm | None:
    if value is None:
        return None
    example = "{action: https://lists.example.com/subscribe}"
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping such as {example}, got {value!r}")
    errors: list[NestedValueError] = []
    keys = list(SUBSCRIBE_KEYS)
    for key in value:
        if key not in SUBSCRIBE_KEYS:
            errors.append(
                NestedValueError(str(key), f"has an unknown key {key!r}{did_you_mean(str(key), keys)}")
            )
    if "action" not in value:
        errors.append(
            NestedValueError(
                "action", "needs 'action': the https:// URL of your list provider's sign-up form"
            )
        )
    fields: dict[str, str] = {}
    for key, parse in SUBSCRIBE_KEYS.items():
        if key in value:
            try:
                fields[key] = parse(value[key])
            except ValueError as exc:
                errors.append(NestedValueError(key, f"{key!r} {exc}"))
    if errors:
        raise NestedValueErrors(errors)
    return SubscribeForm(**fields)


OPTIONS: tuple[Option, ...] = (
    Option("title", _string),
    Option("description", _optional_string),
    Option("base_url", parse_base_url, required=True),
    Option("language", _language),
    Option("topics", _topics),
    Option("per_page", _whole_number(1, 10_000)),
    Option("timezone", _timezone),
    Option("feed_size", _whole_number(1, 10_000)),
    Option("theme", _theme),
    Option("subscribe", _subscribe),
)


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_config(
    data: Any, path: Path, text: str = "", overrides: Mapping[str, Any] | None = None
) -> SiteConfig:
    """Validate a parsed ``sitegen.yaml``; raises ``InputError`` listing every problem."""
    key_lines = top_level_key_lines(text)
    problems: list[Problem] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([error(path, 1, "must be a mapping of option names to values")])
    data = {**data, **(overrides or {})}
    names = [option.name for option in OPTIONS]
    for key, first, again in repeated_keys(text):
        problems.append(error(path, again, f"{key!r} is given twice (first on line {first}); keep one"))
    for key in data:
        if key not in names:
            problems.append(
                error(
                    path,
                    key_lines.get(str(key)),
                    f"unknown option {key!r}{did_you_mean(str(key), names)}",
                )
            )
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.name not in data:
            if option.required:
                problems.append(error(path, 1, f"{option.name!r} is required; add a '{option.name}:' line"))
            continue
        try:
            values[option.name] = option.parse(data[option.name])
        except ValueError as exc:
            line = None if overrides and option.name in overrides else key_lines.get(option.name)
            for each in exc.errors if isinstance(exc, NestedValueErrors) else [exc]:
                at = line
                if isinstance(each, NestedValueError) and line is not None:
                    at = nested_key_line(text, line, each.key)
                problems.append(error(path, at, f"{option.name!r} {each}"))
    if problems:
        raise InputError(problems)
    return SiteConfig(**values)


def load_config(site_dir: Path, overrides: Mapping[str, Any] | None = None) -> SiteConfig:
    """Read and validate ``SITE/sitegen.yaml``; ``overrides`` (from the command line) win."""
    path = site_dir / CONFIG_FILE
    shown = shown_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(
            [error(shown, None, f"no {CONFIG_FILE} here; create one or run 'sitegen init {site_dir}'")]
        ) from None
    except OSError as exc:
        raise InputError([error(shown, None, f"cannot be read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([error(shown, None, f"is not UTF-8 text ({exc.reason})")]) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise InputError(
            [error(shown, yaml_error_line(exc), f"invalid YAML: {yaml_error_text(exc)}")]
        ) from None
    return parse_config(data, shown, text, overrides)
