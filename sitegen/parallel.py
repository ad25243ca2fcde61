"""Work a build can do on the second core: a function of the planned site, run in a forked child
while the parent renders pages, its outputs handed back through a pipe.

The search index needs nothing the page renderer makes, and takes about as long, so running the
two side by side shortens a cold build by the shorter of them. The child computes exactly what
the parent would have (the same function of the same data), so the site is byte-identical to a
one-process build; where forking is unavailable or unsafe, the work is simply done in-process.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .writer import Output

Work = Callable[..., list[Output]]


def can_fork() -> bool:
    """Forking a process that runs other threads (the preview server's) can copy a held lock into
    the child; one core gains nothing."""
    return hasattr(os, "fork") and (os.cpu_count() or 1) > 1 and threading.active_count() == 1


class Background:
    """``function(*args)`` started in a child process when ``fork`` allows and it is safe;
    ``result()`` waits for its outputs (or computes them here, when there is no child)."""

    def __init__(self, function: Work, *args: Any, fork: bool = True) -> None:
        self._function = function
        self._args = args
        self._pid = 0
        self._reader = -1
        if not (fork and can_fork()):
            return
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, and leave without running the parent's cleanup
            os.close(reader)
            status = 1
            try:
                outputs = function(*args)
                with os.fdopen(writer, "wb") as pipe:
                    pickle.dump([(o.path, o.data, o.source) for o in outputs], pipe, pickle.HIGHEST_PROTOCOL)
                status = 0
            finally:
                os._exit(status)
        os.close(writer)
        self._pid, self._reader = pid, reader

    @property
    def forked(self) -> bool:
        return self._pid != 0

    def result(self) -> list[Output]:
        if not self._pid:
            return self._function(*self._args)
        with os.fdopen(self._reader, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if status != 0 or not data:
            # The child failed (killed, out of memory, an error): do the work here, where an
            # error is reported like any other.
            return self._function(*self._args)
        items = pickle.loads(data)  # our own child's bytes, through our own pipe: trusted
        return [Output(path, content, source) for path, content, source in items]

    def cancel(self) -> None:
        """Stop the child when the build ends without its outputs (an error elsewhere)."""
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGTERM)
                os.waitpid(self._pid, 0)
            except OSError:
                pass
            os.close(self._reader)
            self._pid = 0


@contextmanager
def in_background(function: Work, *args: Any, fork: bool = True) -> Iterator[Background]:
    """``function(*args)`` on the other core while the ``with`` block runs."""
    work = Background(function, *args, fork=fork)
    try:
        yield work
    finally:
        work.cancel()
