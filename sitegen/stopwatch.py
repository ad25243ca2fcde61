"""Seconds per build stage, for ``sitegen build --profile`` and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class Stopwatch:
    """Adds up the time spent in named stages. Rendering is lazy (pages are rendered as the writer
    asks for them), so ``timed`` charges each item of an iterator to its own stage as it is
    produced, and takes that time off the stage that asked for the item (the writer's); a stage
    entered while an item is produced is likewise taken off that item's."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._taken: list[float] = []
        """Per running stage, innermost last: seconds its ``timed`` items took."""

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self._taken.append(0.0)
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            self.add(name, seconds - self._taken.pop())
            if self._taken:  # a stage within another's item: not that stage's time too
                self._taken[-1] += seconds

    def timed(self, name: str, produce: Callable[..., Iterable[T]], *args: Any) -> Iterator[T]:
        """``produce(*args)``'s items, its time charged to ``name``, the call itself included
        (some producers do their work up front and return a list)."""
        iterator = self._charged(name, lambda: iter(produce(*args)))
        while True:
            try:
                item = self._charged(name, lambda: next(iterator))
            except StopIteration:
                return
            yield item

    def _charged(self, name: str, step: Callable[[], T]) -> T:
        started = time.perf_counter()
        self._taken.append(0.0)
        try:
            return step()
        finally:
            seconds = time.perf_counter() - started
            self.add(name, seconds - self._taken.pop())
            if self._taken:
                self._taken[-1] += seconds
