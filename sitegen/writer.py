"""The one place that writes the built site: into a temporary folder, then swapped in whole.

A failed build leaves the previous output's files as they were (names and bytes; a link count
may change); two items claiming one path, or a path that would land outside the output folder,
stop the build naming their sources.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pickle
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import OutputError
from .garbage import collect_less
from .interpreter import die_with, python_command

if sys.platform == "linux":
    import fcntl


@dataclass(frozen=True, slots=True)
class Output:
    """One file of the built site."""

    path: str
    """Path inside the output folder, ``/``-separated."""
    data: bytes
    source: str
    """What produced it (a page's source or a static file's path), for collision messages."""
    unchanged: str | None = None
    """When set, ``data`` is left empty: the previous output's file at ``path`` holds these very
    bytes (``pagecache`` found it is the file the last build left), and is linked as it is,
    neither read nor sent between processes, if it still has this ``file_identity``."""

    @property
    def size(self) -> int:
        return len(self.data) if self.unchanged is None else int(self.unchanged.split(":")[2])


def file_identity(path: str | Path) -> str:
    """Which file this is and its state, as the system reports it (device, inode, size,
    modification and status-change times, link count); empty for anything but a regular file.
    Any write, ``touch``, ``chmod`` or link changes the status-change time, which no program can
    set back."""
    try:
        return _identity(os.lstat(path))
    except OSError:
        return ""


def _identity(status: os.stat_result) -> str:
    if not stat.S_ISREG(status.st_mode):
        return ""
    return (
        f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}:{status.st_ctime_ns}:"
        f"{status.st_nlink}"
    )


@dataclass(frozen=True, slots=True)
class WriteReport:
    files: int
    """Files in the new output."""
    bytes: int
    written: int = 0
    """Files whose bytes are new; the others are the previous output's files, linked, not rewritten."""


def safe_relative_path(path: str) -> PurePosixPath:
    """Refuse any output path that is absolute, climbs with ``..``, or smuggles separators."""
    return PurePosixPath(checked_path(path))


def checked_path(path: str) -> str:
    """``path`` itself, once ``safe_relative_path`` would take it (a string: 38,000 of them are
    checked in a build, and making each a ``PurePosixPath`` was most of the time)."""
    parts = path.split("/")
    if (
        not path
        or "\\" in path
        or "\0" in path
        or any(part in ("", ".", "..") for part in parts)  # an absolute path starts with ""
        or ":" in parts[0]
    ):
        raise OutputError(f"refusing to write {path!r}: it would land outside the output folder")
    return path


def read_regular_file(path: str | Path, follow_links: bool = True) -> bytes | None:
    """A regular file's bytes, or None for anything else (missing, a folder, a named pipe or a
    device, which could block a read for ever, unreadable, or a link when ``follow_links`` is off)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    try:
        return read_descriptor(descriptor) if stat.S_ISREG(os.fstat(descriptor).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(descriptor)


def read_descriptor(descriptor: int) -> bytes:
    """Everything left to read from ``descriptor``, with plain system calls: a file object builds
    a buffer for each file, which took twice as long (1.2 s against 0.6 s for 100,000 files)."""
    chunks = []
    while chunk := os.read(descriptor, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


class PathClaims:
    """Which output paths are taken, and by what; a second claim on a path is an error."""

    def __init__(self) -> None:
        self._sources: dict[str, tuple[str, str]] = {}

    def claim(self, path: str, source: str) -> str:
        """``path``, checked (``checked_path``) and claimed for ``source``."""
        relative = checked_path(path)
        key = path.casefold()  # names differing only in case collide on macOS and Windows disks
        earlier = self._sources.get(key)
        if earlier is not None:
            raise OutputError(f"two items claim {path!r}: {earlier[1]} and {source}; rename one of them")
        self._sources[key] = (path, source)
        return relative


def write_site(
    outputs: Iterable[Output], out_dir: Path, separate: bool = False, spare: Path | None = None
) -> WriteReport:
    """Write every output into a staging folder beside ``out_dir`` and swap it in at the end. With
    ``separate``, a process of its own makes the files while this one makes the next outputs.

    With ``spare`` (a folder in the build cache), the previous output is kept there after the
    swap, and the next build brings that folder up to date as its staging folder: only the files
    that differ are replaced and the folders that differ made or removed, where a fresh staging
    folder needs every folder made and every file linked, and the old output removed after the
    swap (at 10,000 papers, 16,000 folders: 2.8 to 3.6 s to make, 2 s to remove, on this
    project's machines). The spare is used only on the output's own disk, and not on disks that
    ignore the case of names; a failed build removes it, as whatever failed might fail again."""
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out_dir)
    previous = out_dir if out_dir.is_dir() else None
    if spare is not None and not _same_device(spare, out_dir.parent):
        spare = None  # moving folders to and from it would copy them
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    if spare is not None and _ignores_case(staging):
        spare = None  # a name changed only in case would find the old name's file in the way
    recycled = previous is not None and spare is not None and _move_folder(spare, staging)
    try:
        report = _write_all(outputs, staging, previous, separate, recycled)
        _swap_in(staging, out_dir, spare)
    except BaseException:
        # A recycled folder goes too: whatever failed in it would fail again in the next build.
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _ignores_case(folder: Path) -> bool:
    """Whether ``folder``'s disk finds names whatever their case (macOS's and Windows's)."""
    other = folder.with_name(folder.name.swapcase())
    return other != folder and other.exists()


def _same_device(folder: Path, other: Path) -> bool:
    """Whether ``folder`` (or the nearest folder holding it that exists) is on ``other``'s disk."""
    for candidate in (folder, *folder.parents):
        try:
            return os.stat(candidate).st_dev == os.stat(other).st_dev
        except OSError:
            continue
    return False


def _move_folder(folder: Path, to: Path) -> bool:
    """Rename the real folder ``folder`` to ``to`` (an empty folder or nothing); False if it is
    not there, or cannot be moved."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return False
        to.parent.mkdir(parents=True, exist_ok=True)
        os.rename(folder, to)
    except OSError:
        return False
    return True


def _remove_leftovers(out_dir: Path) -> None:
    """Staging folders of a build that was killed before it could clean up after itself."""
    for leftover in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in sorted(out_dir.parent.glob(f".{out_dir.name}.old-*")):
        if out_dir.exists():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            os.rename(leftover, out_dir)  # killed between the two renames: the old site comes back


def _write_all(
    outputs: Iterable[Output], staging: Path, previous: Path | None, separate: bool, recycled: bool
) -> WriteReport:
    claims = PathClaims()
    files = size = 0
    maker: _FileMaker | _FileMakerProcess | None = None
    if separate and sys.executable:
        with suppress(OSError):
            maker = _FileMakerProcess(staging, previous, recycled)
    if maker is None:
        maker = _FileMaker(staging, previous, recycled)
    with maker:
        for output in outputs:
            maker.make(claims.claim(output.path, output.source), output.data, output.unchanged)
            files += 1
            size += output.size
        written = maker.finish()
    return WriteReport(files, size, written)


class _FileMaker:
    """Makes each file in the staging folder, or links the previous output's same file. A
    ``recycled`` staging folder holds an older output: a file there is kept only if it is the
    very file (the same inode) this build would link, replaced otherwise, and whatever this build
    does not make is removed by ``finish``.

    ``make`` may be called from several threads at once, each with other paths: a folder is made
    by whichever gets there first, and a recycled folder's file in the way of a folder is removed
    by one of them while the others wait."""

    def __init__(self, staging: Path, previous: Path | None, recycled: bool = False) -> None:
        self._staging = str(staging)
        self._reusable = _Reusable(previous) if previous is not None else None
        self._made_dirs: set[str] = set()
        self._found: dict[str, int] = {}
        """A recycled staging folder's files not yet made again (path → inode)."""
        self._found_dirs: set[str] = set()
        self._recycled = recycled
        self._file_mode = 0o666 & ~_umask()
        if recycled:
            self._found, self._found_dirs = _files_and_folders(self._staging, 0o777 & ~_umask())
        self._lock = threading.Lock()
        self.written = 0

    def make(self, relative: str, data: bytes, unchanged: str | None = None) -> None:
        """Make the file at ``relative``, a path ``checked_path`` took."""
        # Paths are strings here: pathlib's objects took most of a rebuild's time in this process.
        parent = relative.rpartition("/")[0]
        if parent and parent not in self._made_dirs:
            if self._recycled:
                with self._lock:  # a file in the way goes before any thread makes a folder there
                    self._make_folder(parent)
            else:
                self._make_folder(parent)  # two threads making one folder: both find it made
        new = f"{self._staging}/{relative}"
        if self._recycled and relative in self._found_dirs:  # a folder where it needs a file
            shutil.rmtree(new)
            self._found_dirs.discard(relative)
        found = self._found.pop(relative, None) if self._found else None
        old = (
            self._reusable.usable(relative, data if unchanged is None else unchanged, found)
            if self._reusable
            else None
        )
        if old is not None and old.st_ino == found and os.path.samestat(old, os.lstat(new)):
            return  # the recycled folder holds this very file already
        if old is not None:
            if found is not None:
                os.unlink(new)
                found = None
            with suppress(OSError):  # a file system without hard links: written below
                os.link(self._reusable.path(relative), new, follow_symlinks=False)  # type: ignore[union-attr]
                return
        if unchanged is not None:
            # Known unchanged, but not linkable (linked elsewhere since, say): its bytes are copied.
            data = _unchanged_bytes(self._reusable, relative, unchanged)
        with self._lock:
            self.written += 1
        if found is not None:
            if _overwritten(new, found, data, self._file_mode):
                return
            os.unlink(new)
        # O_EXCL: never write through a file (or link) that somehow exists already. No file object:
        # it would ask the system three more things per file (its size, position, and if a terminal).
        descriptor = os.open(new, _NEW_FILE, 0o666)
        try:
            _write_out(descriptor, data)
        finally:
            os.close(descriptor)

    def _make_folder(self, folder: str) -> None:
        folders = _folders_of(folder)
        if self._recycled:
            for each in folders:  # a file where this build needs a folder goes
                if self._found.pop(each, None) is not None:
                    os.unlink(f"{self._staging}/{each}")
        if folder not in self._found_dirs:
            os.makedirs(f"{self._staging}/{folder}", exist_ok=True)
        self._made_dirs.update(folders)  # only once made: another thread then skips them

    def finish(self) -> int:
        """Files written; a recycled staging folder's files and folders this build did not make
        are removed first."""
        for path in self._found:
            with suppress(FileNotFoundError, NotADirectoryError):  # gone with a folder, or under a file now
                os.unlink(f"{self._staging}/{path}")
        for folder in sorted(self._found_dirs - self._made_dirs, key=lambda folder: folder.count("/")):
            # Gone with its parent already, or now:
            shutil.rmtree(f"{self._staging}/{folder}", ignore_errors=True)
        self._found, self._found_dirs = {}, set()
        return self.written

    def __enter__(self) -> _FileMaker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def _umask() -> int:
    """The process's umask: reading it means setting it, so it is set back at once."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _folders_of(folder: str) -> list[str]:
    """``a/b/c``, ``a/b`` and ``a``, for ``a/b/c``."""
    parts = folder.split("/")
    return ["/".join(parts[:end]) for end in range(len(parts), 0, -1)]


def _files_and_folders(root: str, folder_mode: int) -> tuple[dict[str, int], set[str]]:
    """A recycled staging folder's regular files (path → inode) and folders, the folders given
    the mode a new one gets; anything else in it (a link, a pipe) is removed, so that nothing is
    ever written through it."""
    files: dict[str, int] = {}
    folders: set[str] = set()
    pending = [""]
    while pending:
        folder = pending.pop()
        with os.scandir(f"{root}/{folder}" if folder else root) as entries:
            for entry in entries:
                relative = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode) != folder_mode:
                        os.chmod(entry.path, folder_mode)
                    folders.add(relative)
                    pending.append(relative)
                elif entry.is_file(follow_symlinks=False):
                    files[relative] = entry.inode()
                else:
                    os.unlink(entry.path)
    return files, folders


def _overwritten(path: str, inode: int, data: bytes, mode: int) -> bool:
    """Write ``data`` over a recycled staging folder's file in place, when it is the file found
    there (``inode``), a regular file with no other link (no output shares it: the last build's
    changed files, the search index's every time), with a new file's mode and owner, and open
    nowhere else (``_alone``): it was the live output until the last build, and someone may still
    be reading it. On this project's machines that took a quarter of the time of removing it and
    making a new one."""
    # O_NONBLOCK: a named pipe put there meanwhile fails at once rather than blocking.
    flags = (
        os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    )
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return False
    try:
        status = os.fstat(descriptor)
        if (
            not stat.S_ISREG(status.st_mode)
            or status.st_ino != inode
            or status.st_nlink != 1
            or stat.S_IMODE(status.st_mode) != mode
            or (hasattr(os, "geteuid") and status.st_uid != os.geteuid())
            or not _alone(descriptor)
        ):
            return False
        try:
            os.ftruncate(descriptor, 0)
            _write_out(descriptor, data)
        finally:
            fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return True
    finally:
        os.close(descriptor)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _write_out(descriptor: int, data: bytes) -> None:
    """All of ``data``: one write may take only part of it."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _alone(descriptor: int) -> bool:
    """Whether this is the file's only open descriptor (nobody reads or maps it), held so until
    ``F_UNLCK``: Linux's write lease is refused otherwise, and anyone opening the file meanwhile
    waits for its release. Elsewhere, False: the file is replaced, never written over."""
    if sys.platform != "linux":
        return False
    try:
        # Told of an opening by SIGURG, which is ignored, rather than SIGIO, which would kill us.
        fcntl.fcntl(descriptor, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(descriptor, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError:  # open elsewhere, or a file system without leases
        return False
    return True


def _unchanged_bytes(reusable: _Reusable | None, relative: str, identity: str) -> bytes:
    """The bytes of a file known unchanged, if it still is (checked before and after reading)."""
    if reusable is not None and file_identity(reusable.path(relative)) == identity:
        data = read_regular_file(reusable.path(relative), follow_links=False)
        if data is not None and file_identity(reusable.path(relative)) == identity:
            return data
    raise OutputError(f"{relative} changed in the output folder while the build ran; build again")


class _FileMakerProcess:
    """``_FileMaker`` in a new interpreter, fed through a pipe a megabyte at a time: making
    folders and files waits on the disk (0.1 to 0.6 ms a file on this project's machines), and
    this process renders the next pages meanwhile. The files are made by ``MAKING_THREADS``
    threads, each taking the next batch; ``finish`` raises the error of the first batch that
    failed, once every batch before it is made."""

    BATCH_BYTES = 1 << 20

    def __init__(self, staging: Path, previous: Path | None, recycled: bool = False) -> None:
        self._result = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish() or __exit__
        code = (
            f"import sitegen.writer as w; w.make_files({os.getpid()}, {self._result.fileno()}, "
            f"{str(staging)!r}, {str(previous) if previous is not None else None!r}, {recycled!r})"
        )
        try:
            self._process = subprocess.Popen(
                python_command(code),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(self._result.fileno(),),
            )
        except OSError:
            self._result.close()
            raise
        pipe = self._process.stdin
        assert pipe is not None
        self._pipe = pipe
        _OPEN_PIPES.add(pipe.fileno())
        if sys.platform == "linux":
            with suppress(OSError):  # a larger pipe: fewer waits for either side
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, self.BATCH_BYTES)
        self._batch: list[tuple[str, bytes, str | None]] = []
        self._held = 0
        self._stopped = False

    def make(self, relative: str, data: bytes, unchanged: str | None = None) -> None:
        self._batch.append((relative, data, unchanged))
        self._held += len(data) + 64
        if self._held >= self.BATCH_BYTES:
            self._send()

    def _send(self) -> None:
        if not self._stopped:
            try:
                pickle.dump(self._batch, self._pipe, pickle.HIGHEST_PROTOCOL)
            except BrokenPipeError:  # the child stopped: finish() says why
                self._stopped = True
        self._batch, self._held = [], 0

    def finish(self) -> int:
        self._send()
        _OPEN_PIPES.discard(self._pipe.fileno())
        with suppress(BrokenPipeError):
            self._pipe.close()
        status = self._process.wait()
        with self._result:
            self._result.seek(0)
            try:
                outcome = pickle.load(self._result)  # our own child's file: trusted
            except (EOFError, pickle.UnpicklingError):
                raise OutputError(
                    f"the process making the output's files stopped (exit status {status}); "
                    "the previous output is unchanged"
                ) from None
        if isinstance(outcome, BaseException):
            raise outcome
        written: int = outcome
        return written

    def __enter__(self) -> _FileMakerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stopped before the staging folder is removed, when the build ends early."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        with suppress(OSError, ValueError):  # ValueError: closed already
            _OPEN_PIPES.discard(self._pipe.fileno())
        with suppress(OSError):
            self._pipe.close()
        self._result.close()


_OPEN_PIPES: set[int] = set()
"""Descriptors of the pipes feeding file-making processes. A process forked while one is open
(the papers' pages are rendered in one) lets go of its copy at once: the file maker reads until
every copy of the pipe is closed, and must not wait for a fork that does not write to it."""


def _let_go_of_pipes() -> None:
    """In a forked child: each pipe's descriptor now points at the null device, so that nothing
    closing it later (a file object's finaliser) can close another file that took its number."""
    if _OPEN_PIPES:
        with suppress(OSError):  # no descriptor left to open: the pipe stays, as before
            null = os.open(os.devnull, os.O_WRONLY)
            for descriptor in _OPEN_PIPES:
                with suppress(OSError):
                    os.dup2(null, descriptor)
            os.close(null)
        _OPEN_PIPES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_of_pipes)


MAKING_THREADS = 2
"""Threads making files in ``make_files``: making a file or a folder is almost all the system's
work, done without Python's lock, and a disk that takes 0.2 to 0.4 ms a file (this project's
machines) makes files in two threads nearly twice as fast, once the pages are rendered and the
file maker is all that is left running."""


def make_files(
    parent: int, result_descriptor: int, staging: str, previous: str | None, recycled: bool = False
) -> None:
    """``_FileMakerProcess``'s child: batches of ``(path, bytes, unchanged)`` from standard input,
    until it closes, made by ``MAKING_THREADS`` threads; then ``finish``, and the number of files
    written, or the first error, to ``result_descriptor``."""
    die_with(parent)
    collect_less()
    # (batch number, error): a batch is made unless an earlier one failed, so that, as with one
    # thread, every batch before the first failing one is made, and that failure is reported.
    failures: list[tuple[int, Exception]] = []
    try:
        maker = _FileMaker(Path(staging), Path(previous) if previous is not None else None, recycled)
    except OSError as exc:
        failures.append((-1, exc))
    # A few batches waiting at most: the pipe, not this process, holds what is not made yet.
    batches: queue.Queue[tuple[int, list[tuple[str, bytes, str | None]]] | None] = queue.Queue(MAKING_THREADS)

    def make_batches() -> None:
        while (numbered := batches.get()) is not None:
            number, batch = numbered
            if failures and min(failed for failed, _ in failures) < number:
                continue  # taken still, so that reading the pipe never waits on a full queue
            try:
                for relative, data, unchanged in batch:
                    maker.make(relative, data, unchanged)
            except Exception as exc:  # noqa: BLE001 - any other is raised below, once the pipe is read
                failures.append((number, exc))

    # Daemons: should reading the pipe fail, the process still ends, rather than wait for them.
    makers = [threading.Thread(target=make_batches, daemon=True) for _ in range(MAKING_THREADS)]
    for thread in makers:
        thread.start()
    with open(0, "rb", closefd=False) as pipe:
        for number in itertools.count():
            try:
                batch = pickle.load(pipe)  # our own parent's pipe: trusted
            except EOFError:
                break
            if not failures:  # else read to the end, so that the parent never waits on a full pipe
                batches.put((number, batch))
    for _ in makers:
        batches.put(None)
    for thread in makers:
        thread.join()
    if not failures:
        try:
            written = maker.finish()
        except OSError as exc:
            failures.append((-1, exc))
    first = min(failures, key=lambda failure: failure[0])[1] if failures else None
    if first is not None and not isinstance(first, (OSError, OutputError)):
        raise first  # a fault in sitegen: the parent says this process stopped
    with os.fdopen(result_descriptor, "wb") as result:
        pickle.dump(first if first is not None else written, result)


class _Reusable:
    """The previous output's files, hard-linked into the new output when their bytes are the
    same: an unchanged file keeps its inode and modification time, so deploy tools and ``rsync``
    see that nothing changed, and nothing is written. Only a file exactly as a build writes it is
    reused: a regular file inside the old output (no symlink on the way), owned by this user,
    with the mode a new file gets, and with one link, or two when the other is the spare output's
    (``write_site``). Anything else (edited, chmod-ed, linked elsewhere) is written afresh, so a
    full rebuild still repairs the output."""

    def __init__(self, previous: Path) -> None:
        self._previous = str(previous)
        self._mode = 0o666 & ~_umask()
        self._uid = os.geteuid() if hasattr(os, "geteuid") else None
        self._inside: dict[str, bool] = {"": True}

    def path(self, relative: str) -> str:
        return f"{self._previous}/{relative}"

    def usable(self, relative: str, data: bytes | str, spare_inode: int | None) -> os.stat_result | None:
        """The old file's status if it can be linked as the new one: it holds ``data`` (a ``str``
        is the ``file_identity`` of a file known to hold the same bytes, ``Output.unchanged``,
        not read then), and its one other link, if any, is the spare output's file at the same
        path, whose inode is ``spare_inode``."""
        old = self.path(relative)
        try:
            if not self._stays_inside(relative.rpartition("/")[0]):
                return None
            status = os.lstat(old)
            if (
                not stat.S_ISREG(status.st_mode)
                or not (status.st_nlink == 1 or (status.st_nlink == 2 and status.st_ino == spare_inode))
                or stat.S_IMODE(status.st_mode) != self._mode
                or (self._uid is not None and status.st_uid != self._uid)
                or (isinstance(data, str) and _identity(status) != data)
                or (
                    isinstance(data, bytes)
                    and (status.st_size != len(data) or read_regular_file(old, follow_links=False) != data)
                )
            ):
                return None
        except OSError:  # gone or unreadable: written afresh
            return None
        return status

    def _stays_inside(self, folder: str) -> bool:
        """No folder on the way is a symlink (out of the old output, or within it): each is a
        real folder, and so is its parent, asked once per folder."""
        known = self._inside.get(folder)
        if known is None:
            status = os.lstat(self.path(folder))
            known = (
                self._stays_inside(folder.rpartition("/")[0])
                and stat.S_ISDIR(status.st_mode)
                # A Windows junction reads as a folder to lstat.
                and not getattr(status, "st_file_attributes", 0) & _REPARSE_POINT
            )
            self._inside[folder] = known
        return known


_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)


def _swap_in(staging: Path, out_dir: Path, spare: Path | None = None) -> None:
    """Replace ``out_dir`` by ``staging`` so that, whenever the process dies, ``out_dir`` holds
    either the old site or the new one, whole. The old site is then kept as ``spare``, or removed."""
    os.chmod(staging, 0o755)
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    if _exchange(staging, out_dir):
        _retire(staging, spare)  # now holds the previous site
        return
    # Without an atomic exchange there is a moment with no out_dir; the old site is then in
    # .NAME.old-*, and the next build's _remove_leftovers keeps it until out_dir exists again.
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rmdir(retired)
    os.rename(out_dir, retired)
    os.rename(staging, out_dir)
    _retire(retired, spare)


def _retire(old_site: Path, spare: Path | None) -> None:
    if spare is None or not _move_folder(old_site, spare):
        shutil.rmtree(old_site, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths with Linux's renameat2(RENAME_EXCHANGE); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)
