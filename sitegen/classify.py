"""Topics by keyword rules: ``sitegen.yaml`` may say which words put a paper in a topic.

    topics:
      peft:
        name: Parameter-efficient fine-tuning
        any: [lora, parameter-efficient, adapter]
        none: [vision]

A paper gets ``peft`` when its title or abstract contains any of the ``any`` words or phrases as
whole words (case does not matter) and none of the ``none`` ones. Rules only add topics: the
topics a file names itself always stay. They run at import and at every build.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .config import TopicInfo
from .content import Paper


@dataclass(frozen=True, slots=True)
class TopicRule:
    slug: str
    any: re.Pattern[str]
    none: re.Pattern[str] | None


def _words(phrases: Iterable[str]) -> re.Pattern[str]:
    # \b fails next to a non-word character at a phrase's edge ("c++"), so look for non-word
    # neighbours instead; spaces inside a phrase match any run of whitespace.
    alternatives = "|".join(r"\s+".join(map(re.escape, phrase.split())) for phrase in phrases)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def topic_rules(topics: Mapping[str, TopicInfo]) -> tuple[TopicRule, ...]:
    return tuple(
        TopicRule(slug, _words(info.any), _words(info.none) if info.none else None)
        for slug, info in topics.items()
        if info.any
    )


def matching_topics(title: str, text: str, rules: Iterable[TopicRule]) -> list[str]:
    haystack = f"{title}\n{text}"
    return [
        rule.slug
        for rule in rules
        if rule.any.search(haystack) and not (rule.none and rule.none.search(haystack))
    ]


def with_rule_topics(
    topics: Iterable[str], title: str, text: str, rules: Iterable[TopicRule]
) -> tuple[str, ...]:
    """The file's own topics first, then those the rules add."""
    return tuple(dict.fromkeys([*topics, *matching_topics(title, text, rules)]))


def classify(papers: Iterable[Paper], rules: tuple[TopicRule, ...]) -> list[Paper]:
    if not rules:
        return list(papers)
    classified = []
    for paper in papers:
        topics = with_rule_topics(paper.topics, paper.title, paper.abstract_text, rules)
        classified.append(paper if topics == paper.topics else dataclasses.replace(paper, topics=topics))
    return classified
