"""A plain-text digest, as people paste it from a listing page → records.

Blocks are separated by blank lines. A block of two or more lines is a paper: its first line is
the title, an optional ``Authors: …`` line follows, the rest is the abstract. A line such as
``Mar 11``, ``Monday, March 11, 2024`` or ``2024-03-11`` (alone, or first in a block) sets the
listing date of the papers after it. Other one-line blocks of up to ``HEADER_WORDS`` words are
headers and ignored; a longer one is a title without an abstract and is reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from ..content import PAPER_ID, WINDOWS_RESERVED
from ..importing import ImportProblem, Record, normalise_space

HEADER_WORDS = 12
CODE_HOSTS = {"github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "sourceforge.net", "git.sr.ht"}
MONTHS = {
    name: number
    for number, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*,?\s+)?"
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
MONTH_DAY = re.compile(rf"^{_WEEKDAY}({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?$", re.I)
DAY_MONTH = re.compile(rf"^{_WEEKDAY}(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\.?(?:,?\s+(\d{{4}}))?$", re.I)
DATE_INSIDE = re.compile(
    rf"(\d{{4}}-\d{{2}}-\d{{2}}|\b(?:{_MONTH})\.?\s+\d{{1,2}},?\s+\d{{4}}\b|\b\d{{1,2}}\s+(?:{_MONTH})\.?,?\s+\d{{4}}\b)",
    re.I,
)
CLOSING = {")": "(", "]": "[", "}": "{"}
URL = re.compile(r"https?://[^\s<>\"'`]+")
ARXIV_REF = re.compile(r"(?:arxiv\.org/(?:abs|pdf)/|arXiv:\s*)(\d{4}\.\d{4,5})(?:v\d+)?", re.I)
TRAILING = ".,;:!?'\"\u201d\u2019\u00bb"


class NotADate(ValueError):
    """A line that is written like a date but names no real day (``Feb 30``)."""


def _year_for(month: int, day: int, reference: dt.date) -> dt.date | None:
    """``Mar 11`` without a year: the most recent such day on or before ``reference``."""
    for year in range(reference.year, reference.year - 8, -1):  # Feb 29 may be years back
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if candidate <= reference:
            return candidate
    return None


def parse_date_line(line: str, reference: dt.date, *, header: bool = True) -> dt.date | None:
    """The date a line sets, or None; raises ``NotADate`` for a date line naming no real day.

    Only a ``header`` line (a block of its own) may carry its date inside other words
    ("Showing new listings for Monday, 11 March 2024"); a title with a date in it is a title."""
    text = line.strip().rstrip(":.").strip()
    try:
        if match := ISO_DATE.match(text):
            return dt.date(*map(int, match.groups()))
        if (match := MONTH_DAY.match(text)) or (match := DAY_MONTH.match(text)):
            first, second, year = match.groups()
            month, day = (
                (MONTHS[first.lower()], int(second))
                if not first.isdigit()
                else (MONTHS[second.lower()], int(first))
            )
            found = dt.date(int(year), month, day) if year else _year_for(month, day, reference)
            if found is None:
                raise NotADate(text)
            return found
        if header and len(text.split()) <= HEADER_WORDS and (match := DATE_INSIDE.search(text)):
            return parse_date_line(match.group(1).replace(",", ", ").replace(",  ", ", "), reference)
    except NotADate:
        raise
    except ValueError:
        raise NotADate(text) from None
    return None


def clean_url(url: str) -> str:
    """Trailing punctuation is the sentence's, not the URL's; a closing bracket only when unbalanced."""
    while url:
        last = url[-1]
        unbalanced = last in CLOSING and url.count(last) > url.count(CLOSING[last])
        if last not in TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def links_in(text: str) -> list[tuple[str, str]]:
    links: dict[str, str] = {}
    for match in URL.finditer(text):
        url = clean_url(match.group())
        try:
            host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        except ValueError:  # "https://[oops": not a URL after all
            continue
        if not host or host.endswith("arxiv.org"):
            continue
        kind = "code" if host in CODE_HOSTS else "project"
        links.setdefault(kind, url)
    return sorted(links.items())


def slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    text = ""
    for word in words:
        if len(text) + len(word) + 1 > 80:
            break
        text = f"{text}-{word}" if text else word
    if WINDOWS_RESERVED.match(text):
        text += "-paper"  # "CON" cannot be a file name on Windows
    return text


def blocks(text: str) -> Iterator[list[tuple[int, str]]]:
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.strip():
            block.append((number, line.strip()))
        elif block:
            yield block
            block = []
    if block:
        yield block


def read(text: str, reference: dt.date) -> Iterator[Record | ImportProblem]:
    listing_date = reference
    for whole in blocks(text):
        block = whole
        while block:
            try:
                date = parse_date_line(block[0][1], reference, header=len(block) == 1)
            except NotADate as exc:
                yield ImportProblem(
                    f"line {block[0][0]}",
                    f"{exc} is not a real date; the papers after it keep the previous date",
                )
                block = block[1:]
                continue
            if date is None:
                break
            listing_date = date
            block = block[1:]
        if not block:
            continue
        number, first = block[0]
        if len(block) == 1:
            if len(first.split()) > HEADER_WORDS:
                yield ImportProblem(f"line {number}", "a title line without an abstract paragraph; skipped")
            continue
        rest = [line for _, line in block[1:]]
        authors: tuple[tuple[str, str], ...] = ()
        if re.match(r"^authors?\s*:", rest[0], re.I):
            names = re.split(r",\s*|\s+and\s+", rest[0].split(":", 1)[1])
            authors = tuple((normalise_space(name), "") for name in names if name.strip())
            rest = rest[1:]
        abstract = normalise_space(" ".join(rest))
        if not abstract:
            yield ImportProblem(f"line {number}", f"{first!r} has no abstract after its authors; skipped")
            continue
        reference_id = ARXIV_REF.search(" ".join(line for _, line in block))
        paper_id = reference_id.group(1) if reference_id else slug(first)
        if not PAPER_ID.match(paper_id):
            yield ImportProblem(f"line {number}", f"cannot make an id from the title {first!r}; skipped")
            continue
        yield Record(
            id=paper_id,
            title=normalise_space(first),
            abstract=abstract,
            position=f"line {number}",
            authors=authors,
            date=listing_date,
            links=tuple(links_in(abstract)),
        )
