"""The daily e-mail digest: one day's papers → a ``Digest`` (subject, plain text, HTML) → an e-mail.

Both parts come from the theme's ``email/digest.txt`` and ``email/digest.html``, which a site's own
``templates/email/`` replaces like any other template. Every link is absolute, since a message
has no address to resolve relative links against, and the HTML part styles each element inline:
many mail clients drop ``<style>`` elements and never load stylesheets or run scripts. A long day
is capped at ``DIGEST_LIMIT`` papers, which keeps the message under the size Gmail clips at.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import jinja2

from . import urls
from .build import Plan
from .content import Paper
from .pages import long_date
from .render import make_environment, template_problem
from .views import PaperView, TopicLink, paper_view, topic_links

TEXT_TEMPLATE = "email/digest.txt"
HTML_TEMPLATE = "email/digest.html"
OTHER_GROUP = "Other"
"""The group of papers that have no topic."""
UNDISCLOSED_RECIPIENTS = "undisclosed-recipients:;"
"""The ``To:`` of a message sent to Bcc recipients only: an empty group, so no address is shown."""
DIGEST_LIMIT = 50
"""Papers in one digest at most, the first in the day's listing order; the rest are a link away.
Gmail clips an HTML part over about 102 KB, which is about 95 papers."""


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """One topic's papers in a digest. A paper is in one group only, its first topic's, so that a
    reader never gets it twice."""

    name: str
    """The topic's display name, or ``Other``."""
    url: str
    """The topic page's site-relative URL; empty for ``Other``."""
    papers: tuple[PaperView, ...]
    """In the day's listing order."""


@dataclass(frozen=True, slots=True)
class Digest:
    """One day's digest, rendered and ready to go into a message."""

    day: dt.date
    subject: str
    text: str
    """The plain-text part."""
    html: str
    """The HTML part: a whole document, inline styles only."""
    papers: tuple[Paper, ...]
    """The papers in the digest: the day's first ``DIGEST_LIMIT``, in listing order."""
    total: int
    """The day's papers, all of them: more than ``len(papers)`` when the digest is capped."""


def digest_subject(site_title: str, day: dt.date, count: int) -> str:
    """``Reading Group Digest — 11 March 2024: 7 papers``, on one line whatever the title holds."""
    papers = "paper" if count == 1 else "papers"
    return " ".join(f"{site_title} — {long_date(day)}: {count} {papers}".split())


def group_by_topic(papers: Sequence[Paper], refs: dict[str, TopicLink]) -> tuple[DigestGroup, ...]:
    """Topic groups in the site's topic order (by display name), then ``Other``."""
    by_topic: dict[str, list[PaperView]] = {}
    others: list[PaperView] = []
    for paper in papers:
        view = paper_view(paper, refs)
        if view.topics:
            by_topic.setdefault(view.topics[0].slug, []).append(view)
        else:
            others.append(view)
    topics = sorted((refs[slug] for slug in by_topic), key=lambda ref: (ref.name.casefold(), ref.slug))
    groups = [DigestGroup(ref.name, ref.url, tuple(by_topic[ref.slug])) for ref in topics]
    if others:
        groups.append(DigestGroup(OTHER_GROUP, "", tuple(others)))
    return tuple(groups)


def make_digest(plan: Plan, day: dt.date, unsubscribe: str = "", limit: int = DIGEST_LIMIT) -> Digest:
    """Render the digest of ``day``: its first ``limit`` papers, grouped by topic, and a link to the
    day's page for all of them when there are more. ``unsubscribe`` is a link shown at the end."""
    everything = plan.site.days.get(day, ())
    papers = everything[:limit]
    subject = digest_subject(plan.config.title, day, len(everything))
    context: dict[str, Any] = {
        "subject": subject,
        "day": day,
        "day_url": urls.day(day),
        "count": len(everything),
        "shown": len(papers),
        "groups": group_by_topic(papers, topic_links(plan.site)),
        "unsubscribe": unsubscribe,
    }
    # plan.template_dirs end with the default theme's, so a theme without email/ templates works.
    html_env = make_environment(plan.config, plan.template_dirs)
    # Plain text must reach the reader as written: "R&D" escaped to "R&amp;D" would be a bug there.
    text_env = html_env.overlay(autoescape=False)
    return Digest(
        day=day,
        subject=subject,
        text=_render(text_env, TEXT_TEMPLATE, context),
        html=_render(html_env, HTML_TEMPLATE, context),
        papers=tuple(papers),
        total=len(everything),
    )


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except Exception as exc:  # noqa: BLE001 - any error in a (user's) template is reported, with its line
        raise template_problem(exc, name, env) from None


def digest_message(
    digest: Digest,
    *,
    sender: str | None,
    base_url: str,
    now: dt.datetime,
    unsubscribe: str = "",
) -> EmailMessage:
    """A multipart/alternative message, plain text first (the part to fall back to), then HTML.

    Recipients never appear in a header: they go in the SMTP envelope only. ``sender`` may be
    None for a preview, which then has no ``From:``.
    """
    message = EmailMessage(policy=email.policy.default)
    if sender:
        message["From"] = sender
    message["To"] = UNDISCLOSED_RECIPIENTS
    message["Subject"] = digest.subject
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid("digest", domain=urlsplit(base_url).hostname)
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
    # Quoted-printable keeps the message 7-bit, so it passes servers without 8BITMIME unchanged.
    message.set_content(digest.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(digest.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
