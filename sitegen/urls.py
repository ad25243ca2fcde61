"""The site's URL scheme, in one place: every page's address is computed here and nowhere else.

URLs are relative to the site root and end in ``/`` (``papers/2210.07144/``); templates turn them
into links under the base path with ``url()``, and the writer into files with ``output_path``.
"""

from __future__ import annotations

import datetime as dt

HOME = ""
TOPICS = "topics/"
ARCHIVE = "archive/"
SEARCH = "search/"
AUTHORS = "authors/"
TRENDING = "trending/"
DATA = "data/"
NOT_FOUND = "404.html"


def paginated(url: str, page: int) -> str:
    """Page 1 lives at the list's own URL; page n at ``<url>page/<n>/``."""
    return url if page == 1 else f"{url}page/{page}/"


def paper(paper_id: str) -> str:
    return f"papers/{paper_id}/"


def topic(slug: str, page: int = 1) -> str:
    return paginated(f"topics/{slug}/", page)


def author(slug: str, page: int = 1) -> str:
    return paginated(f"authors/{slug}/", page)


def authors_index(page: int = 1) -> str:
    return paginated(AUTHORS, page)


def year(number: int) -> str:
    return f"{number:04d}/"


def month(year_number: int, month_number: int, page: int = 1) -> str:
    return paginated(f"{year_number:04d}/{month_number:02d}/", page)


def day(date: dt.date, page: int = 1) -> str:
    return paginated(f"{date.year:04d}/{date.month:02d}/{date.day:02d}/", page)


def output_path(url: str) -> str:
    """The file a URL is served from: directories get ``index.html``."""
    return f"{url}index.html" if url == "" or url.endswith("/") else url
