"""``sitegen fetch arxiv``: page through the arXiv API politely and hand the entries to the importer.

At most 100 results a call, ``delay`` seconds between calls (arXiv asks for 3), retries with
exponential backoff on 5xx answers and timeouts, newest submissions first, stopping at the first
paper submitted before ``since``.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from . import __version__
from .errors import SitegenError
from .importers.arxiv import ATOM, parse_feed, read_entry, total_results
from .importing import ImportProblem, Record, SourceError

ARXIV_API = "https://export.arxiv.org/api/query"
PAGE_SIZE = 100


class FetchError(SitegenError):
    """The API could not be reached, or refused the query."""


class RetryableError(Exception):
    pass


def http_get(url: str, timeout: float) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": f"sitegen/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise RetryableError(f"HTTP {exc.code}") from None
        raise FetchError(f"the arXiv API refused the request: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableError(str(getattr(exc, "reason", exc))) from None


@dataclass
class ArxivClient:
    api_url: str = ARXIV_API
    delay: float = 3.0
    retries: int = 4
    timeout: float = 30.0
    get: Callable[[str, float], str] = http_get
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = print
    calls: int = field(default=0, init=False)

    def query(self, url: str) -> str:
        """One API call: the pause arXiv asks for before it, then retries with backoff."""
        for attempt in range(self.retries + 1):
            if self.calls or attempt:
                self.sleep(self.delay * (2**attempt))
            self.calls += 1
            try:
                return self.get(url, self.timeout)
            except RetryableError as exc:
                if attempt == self.retries:
                    attempts = f"{attempt + 1} attempt{'s' if attempt else ''}"
                    raise FetchError(
                        f"the arXiv API failed after {attempts} ({exc}); try again later"
                    ) from None
                self.log(f"arXiv API: {exc}; retrying")
        raise AssertionError("unreachable")


def fetch_arxiv(
    query: str, client: ArxivClient, *, since: dt.date | None = None, limit: int = 1000
) -> Iterator[Record | ImportProblem]:
    """Newest first; stops at ``limit`` papers or at the first submitted before ``since``."""
    start = 0
    seen = 0
    while seen < limit:
        size = min(PAGE_SIZE, limit - seen)
        parameters = {
            "search_query": query,
            "start": start,
            "max_results": size,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
        }
        try:
            root = parse_feed(client.query(f"{client.api_url}?{urlencode(parameters)}"))
        except SourceError as exc:
            raise FetchError(f"the arXiv API sent something that is not a feed: {exc}") from None
        entries: list[ET.Element] = root.findall(f"{ATOM}entry")
        for offset, entry in enumerate(entries):
            record = read_entry(entry, f"result {start + offset + 1}")
            if isinstance(record, ImportProblem) and "reported an error" in record.message:
                raise FetchError(record.message)
            if isinstance(record, Record) and since and record.published and record.published < since:
                return
            yield record
            seen += 1
            if seen >= limit:
                return
        start += len(entries)
        total = total_results(root)
        if not entries or (total is not None and start >= total):
            return
