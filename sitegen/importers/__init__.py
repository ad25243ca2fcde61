"""Readers that turn what people already have into ``Record`` values, one module per format.

Each reader takes the source text and a reference date (for dates without a year) and yields
records and problems in source order; a source it cannot read at all raises ``SourceError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from ..importing import ImportProblem, Record
from .arxiv import read as read_arxiv
from .bibtex import read as read_bibtex
from .hf import read as read_hf
from .listing import read as read_listing

Reader = Callable[[str, dt.date], Iterator[Record | ImportProblem]]

READERS: dict[str, Reader] = {
    "arxiv": read_arxiv,
    "hf": read_hf,
    "bibtex": read_bibtex,
    "listing": read_listing,
}
