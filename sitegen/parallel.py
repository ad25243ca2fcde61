"""Work a build can do on the second core: a function of the papers or the planned site, run in a
child process while the parent goes on, its outputs handed back through a temporary file.

Half the abstract files are parsed beside the other half; the search index and related papers
need nothing of each other, so they are made side by side; the papers' own pages need none of
the cards the list pages share, so they are made beside the list pages. The child computes exactly
what the parent would have (the same function of the same data), so the site is byte-identical to
a one-process build; where forking is unavailable, refused or unsafe, the work is done in-process.

A forked child shares the parent's memory but counts all of it in its own: at 100,000 papers it
starts at about 1.2 GB. Work that needs little of what the parent holds (the search index needs
only the search documents) is instead ``spawn``-ed: a new interpreter is given just the function
and its arguments, pickled.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

from .garbage import collect_less
from .interpreter import die_with, python_command
from .writer import Output

Work = Callable[..., Iterable[Any]]
"""A function whose results are picklable items: ``Output``s, and whatever else its caller reads."""
_STOPPING_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Forking a process that runs other threads (the preview server's) can copy a held lock into
    the child; one usable core gains nothing and costs a second copy of the site in memory."""
    return hasattr(os, "fork") and usable_cpus() > 1 and threading.active_count() == 1


class Background:
    """``function(*args)`` started in a child process when ``fork`` allows and it is safe (a
    fork of this one, or with ``spawn`` a new interpreter given the pickled function and
    arguments); ``result()`` waits for its outputs, or computes them here when there is no child."""

    def __init__(self, function: Work, *args: Any, fork: bool = True, spawn: bool = False) -> None:
        self._function = function
        self._args = args
        self._pid = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._file: Any = None
        self._work_file: Any = None
        if fork and can_fork():
            if spawn and sys.executable:
                self._spawn()
            else:
                self._start()

    def _start(self) -> None:
        # The child writes to a file, not a pipe, so it can finish and free its memory without
        # waiting for the parent to read.
        result_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by result() or cancel()
        parent = os.getpid()
        # No Ctrl-C between fork() and the child's try: it would run the parent's code there.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING_SIGNALS)
        try:
            pid = os.fork()
        except OSError:  # too many processes, no memory: do the work in-process
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            result_file.close()
            return
        if pid == 0:
            self._run_child(result_file, parent, blocked)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._pid, self._file = pid, result_file

    def _spawn(self) -> None:
        result_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by result() or cancel()
        work_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _work() or cancel()
        try:
            pickle.dump((self._function, self._args), work_file, pickle.HIGHEST_PROTOCOL)
            work_file.seek(0)
            code = f"import sitegen.parallel as p; p.spawned({os.getpid()}, {result_file.fileno()})"
            # The items go to a descriptor of their own: whatever the interpreter or an import
            # prints to standard output cannot reach them.
            self._process = subprocess.Popen(
                python_command(code),
                stdin=work_file,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(result_file.fileno(),),
            )
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            # Too many processes, no memory or disk, work that cannot be pickled: do it here.
            result_file.close()
            work_file.close()
            return
        # The arguments are let go here (the search documents are 100 MB at 100,000 papers), and
        # read back from their file only if the child fails.
        self._args = ()
        self._file, self._work_file = result_file, work_file

    def _work(self) -> tuple[Work, tuple[Any, ...]]:
        """The function and its arguments, to run here."""
        work_file, self._work_file = self._work_file, None
        if work_file is None:
            return self._function, self._args
        with work_file:
            work_file.seek(0)
            work: tuple[Work, tuple[Any, ...]] = pickle.load(work_file)  # our own file: trusted
            return work

    def _forget_work(self) -> None:
        """The spawned work's file, no longer needed once the child is done or stopped."""
        if self._work_file is not None:
            self._work_file.close()
            self._work_file = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    def _run_child(self, result_file: Any, parent: int, blocked: Any) -> None:
        status = 1
        try:
            for number in _STOPPING_SIGNALS:
                signal.signal(number, signal.SIG_DFL)
            die_with(parent)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            # Nothing of the child's may reach the terminal or a log the parent's reader waits on.
            null = os.open(os.devnull, os.O_RDWR)
            for descriptor in (0, 1, 2):
                os.dup2(null, descriptor)
            _write_items(self._function(*self._args), result_file)
            status = 0
        finally:
            os._exit(status)  # never the parent's cleanup, atexit handlers or buffered output

    def done(self) -> bool:
        """Whether ``result()`` can be had without waiting for a child: there is none, or it
        has written all its items."""
        return self._file is None or _finished(self._file)

    @property
    def forked(self) -> bool:
        """Whether the work runs in a child process (forked or spawned)."""
        return self._pid != 0 or self._process is not None

    def result(self) -> Iterator[Any]:
        """The items, once the child is done: read from its file one at a time as they are
        taken, so that the parent never holds them all (the search index is 500 MB at 100,000
        papers)."""
        if self._process is not None:
            status = self._process.wait()
            self._process = None
        elif self._pid:
            try:
                _, status = os.waitpid(self._pid, 0)
            except ChildProcessError:  # SIGCHLD ignored by whoever started us: no status to read
                status = 1
        else:
            return iter(self._function(*self._args))
        # Reaped: from here on there is no child for cancel() to stop.
        self._pid = 0
        result_file, self._file = self._file, None
        if status == 0 and _finished(result_file):
            self._forget_work()
            result_file.seek(0)
            return _read_outputs(result_file)
        # The child failed (killed, out of memory, an error): do the work here, where an error is
        # reported like any other.
        result_file.close()
        function, args = self._work()
        return iter(function(*args))

    def cancel(self) -> None:
        """Stop the child when the build ends without its outputs (an error, Ctrl-C)."""
        pid, process, result_file = self._pid, self._process, self._file
        self._pid, self._process, self._file = 0, None, None
        self._forget_work()
        if process is not None:
            process.kill()
            process.wait()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        if result_file is not None:
            result_file.close()


def _write_items(items: Iterable[Any], result_file: Any) -> None:
    # One record per item, so that the parent can take them one at a time.
    for item in items:
        # An output as its four fields (quicker than a dataclass), anything else alone.
        record = (item.path, item.data, item.source, item.unchanged) if type(item) is Output else (item,)
        pickle.dump(record, result_file, pickle.HIGHEST_PROTOCOL)
    result_file.write(_END)
    result_file.flush()


_END = pickle.dumps((), pickle.HIGHEST_PROTOCOL)
"""The last record of a child that finished: without it, the child was stopped part-way (an exit
status alone can lie: with SIGCHLD ignored, every child's status reads as 0)."""


def _finished(result_file: Any) -> bool:
    size = os.fstat(result_file.fileno()).st_size
    return size >= len(_END) and os.pread(result_file.fileno(), len(_END), size - len(_END)) == _END


def spawned(parent: int, result_descriptor: int) -> NoReturn:
    """A spawned child's main: the work comes pickled on standard input, its items go to
    ``result_descriptor``."""
    die_with(parent)
    collect_less()
    with open(0, "rb", closefd=False) as work_file:
        function, args = pickle.load(work_file)  # written by our own parent: trusted
    with os.fdopen(result_descriptor, "wb") as result_file:
        _write_items(function(*args), result_file)
    # As a forked child ends: the parent waits for this process to end, not for it to free
    # the finished work's objects one by one.
    os._exit(0)


def _read_outputs(result_file: Any) -> Iterator[Any]:
    """The child's items, record by record; the file is closed when they are all taken (or the
    reader stops)."""
    try:
        while True:
            try:
                # Our own child's bytes, in our own file: trusted.
                record = pickle.load(result_file)
            except EOFError:
                return
            if not record:  # _END
                return
            yield Output(*record) if len(record) == 4 else record[0]
    finally:
        result_file.close()


def in_background(function: Work, *args: Any, fork: bool = True, spawn: bool = False) -> Background:
    """``function(*args)`` on the other core while the ``with`` block runs: the child is stopped
    when the block ends. (A generator-based context manager would keep ``args`` alive for the
    whole block, and with them the 100 MB of search documents a spawned child was given.)"""
    return Background(function, *args, fork=fork, spawn=spawn)
