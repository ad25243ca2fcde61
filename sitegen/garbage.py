"""How often Python's cycle collector runs while a build runs.

A build makes millions of container objects that live until it ends (papers, views, planned pages,
postings) and few reference cycles (about 13 objects a page, Jinja's). With Python's default
thresholds the collector ran 1,200 times in a 10,000-paper build and walked every young object
twice before it reached the oldest generation: 0.75 to 0.83 s of the parent's CPU. With these, 5
times, 0.18 to 0.25 s. Cycles are still collected, 100,000 new objects at a time, so memory does not
grow with the garbage a long build makes.

Once the pages are planned, what is alive (papers, views, planned pages) lives until the build
ends, and ``settled`` takes it out of the collector's sight: at 100,000 papers the one middle
collection of the render stage walked all of it, 1.5 to 1.6 s.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

BUILD_THRESHOLDS = (100_000, 50, 10)
"""``gc.set_threshold``: a young collection after 100,000 new objects (Python's default is 700),
a middle one after 50 of those; the oldest generation is left to Python's own rule (a full
collection only once a quarter more objects have reached it)."""


@contextmanager
def fewer_collections() -> Iterator[None]:
    """``BUILD_THRESHOLDS`` inside the block, the previous thresholds after it (the preview server
    builds again and again in one process)."""
    previous = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    _set(BUILD_THRESHOLDS)
    try:
        yield
    finally:
        if not frozen_before:  # else the calling program froze objects of its own, which stay so
            gc.unfreeze()
        gc.set_threshold(*previous)


def settled() -> None:
    """Inside ``fewer_collections``: every object alive now stays alive until the block ends, so
    no collection walks it again (and a forked child's collections do not copy its memory); the
    block's end gives it back to the collector. Nothing is frozen when a program calling the
    build has frozen objects itself: unfreezing ours would unfreeze its own."""
    if not gc.get_freeze_count():
        gc.freeze()


def collect_less() -> None:
    """``BUILD_THRESHOLDS`` for the rest of a child process that does a build's work."""
    _set(BUILD_THRESHOLDS)


def _set(thresholds: tuple[int, int, int]) -> None:
    # Python 3.14's first releases collect incrementally, and read the second number as how fast
    # to scan the old objects: only the first means the same there.
    gc.set_threshold(*(thresholds if sys.version_info < (3, 14) else thresholds[:1]))
