"""Seconds per build stage, for ``sitegen build --profile`` and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class Stopwatch:
    """Adds up the time spent in named stages. Rendering is lazy (pages are rendered as the writer
    asks for them), so ``timed`` charges each item of an iterator to its stage as it is produced."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def timed(self, name: str, produce: Callable[..., Iterable[T]], *args: Any) -> Iterator[T]:
        """``produce(*args)``'s items, its time charged to ``name``, the call itself included
        (some producers do their work up front and return a list)."""
        started = time.perf_counter()
        iterator = iter(produce(*args))
        self.add(name, time.perf_counter() - started)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(name, time.perf_counter() - started)
                return
            self.add(name, time.perf_counter() - started)
            yield item
