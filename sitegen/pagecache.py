"""Rendered pages kept from one build to the next: a page whose inputs hash as they did last time
is not rendered again, its file from the previous output is taken instead.

A page's key hashes everything its bytes can depend on: the page itself (URL, template name,
title, its whole context), the site-wide values templates see, every file in the template
folders, and sitegen's own code (``cachefiles.code_fingerprint``). Nothing is tracked: if any input
differs by a byte, the key differs and the page is rendered. The previous file is used only when
its bytes still hash to what was rendered for that key, so an output edited by hand, or a cache
copied without its output, costs a render and never a wrong page. A file the system reports as
the one the last build left (same device, inode, size, modification and status-change times) is
not even read: the writer links it into the new output as it is. Any write, ``touch``, ``chmod``
or extra link changes its status-change time, which no program can set back.

Feeds and data files are kept the same way (``PageCache.made``), keyed by the one value each is
made from: the planned feed, or the JSON document before encoding.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import io
import json
import operator
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from . import content, feeds, pages, render, views
from .cachefiles import code_fingerprint, write_atomically
from .errors import OutputError
from .writer import Output, checked_path, file_identity, read_regular_file

CACHE_FILE = "pages.json"
FORMAT = "sitegen-pages-2"

_MODULES_WITH_VIEWS: tuple[ModuleType, ...] = (content, feeds, pages, render, views)
"""Where the records in page contexts are defined; they are hashed field by field (faster than
pickle's own way for slotted dataclasses). A record of a type from elsewhere is still hashed,
only more slowly."""
_SHARED = (views.PaperView, content.Paper)
"""Records that many pages show: each is hashed once, and pages' keys hold that hash."""


def site_fingerprint(templates: Mapping[str, bytes], site_values: object) -> bytes:
    """What every page depends on: the code, every template file (by name, as the build renders
    it), and the site-wide values."""
    digest = hashlib.blake2b(code_fingerprint(), digest_size=16)
    for name in sorted(templates):
        data = templates[name]
        digest.update(f"{name}\0{len(data)}\0".encode("utf-8", "surrogateescape") + data)
    digest.update(pickled(site_values))
    return digest.digest()


def pickled(value: object, table: dict[Any, Any] | None = None) -> bytes:
    """``value``'s pickle, the same bytes for equal values: without pickle's memo, a string met
    twice is written twice, whether or not it is one object both times."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True  # no memo; the values hashed here hold no cycles
    if table is not None:
        pickler.dispatch_table = table
    pickler.dump(value)
    return buffer.getvalue()


def _shared(digest: bytes) -> None:
    """Stands, in a page's pickled inputs, for a shared record whose own hash is ``digest``."""


class PageKeys:
    """``keys(page)``: the hash of everything the page's bytes depend on, or None when its
    context holds something that cannot be pickled (it is then always rendered)."""

    def __init__(self, fingerprint: bytes) -> None:
        self._fingerprint = fingerprint
        self._inner = copyreg.dispatch_table.copy()
        for module in _MODULES_WITH_VIEWS:
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and dataclasses.is_dataclass(value)
                    and value.__module__ == module.__name__
                ):
                    self._inner[value] = _by_fields(value)
        self._outer = dict(self._inner)
        for kind in _SHARED:
            self._outer[kind] = self._reduce_shared
        self._shared: dict[int, tuple[object, bytes]] = {}

    def __call__(self, value: object) -> bytes | None:
        """The key of a page, or of any other value a file is made from."""
        try:
            return self._hash(value, self._outer)
        except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
            return None

    def share(self, records: Iterable[object]) -> None:
        """Hash these shared records now (``_SHARED``): a process forked next then has their
        hashes, rather than working each out again."""
        for record in records:
            try:
                self._reduce_shared(record)
            except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
                continue  # its pages' keys are None: always rendered

    def _hash(self, value: object, table: dict[Any, Any]) -> bytes:
        digest = hashlib.sha256(self._fingerprint)  # the fastest here: most CPUs compute it in hardware
        digest.update(pickled(value, table))
        return digest.digest()[:16]

    def _reduce_shared(self, record: object) -> tuple[Callable[[bytes], None], tuple[bytes]]:
        known = self._shared.get(id(record))
        if known is None:
            # The record is kept beside its hash so that its id cannot be reused by another.
            known = self._shared[id(record)] = (record, self._hash(record, self._inner))
        return _shared, (known[1],)


def _by_fields(kind: type) -> Callable[[Any], tuple[type, tuple[Any, ...]]]:
    names = [field.name for field in dataclasses.fields(kind)]
    values = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda record: (kind, (values(record),))
    return lambda record: (kind, values(record))


Record = tuple[str, str, str]
"""The key a page was rendered from, the hash of its bytes, and (once the output is written) its
file's identity (``writer.file_identity``)."""


@dataclass(frozen=True, slots=True)
class PageRecords:
    pages: dict[str, Record]
    """Output path → what its page was rendered from and what its file is."""
    reused: set[str]
    """Which of them came from the last output. (Paths, not a count: a process forked part-way
    through the build hands back what its parent had learnt before the fork too.)"""


class PageCache:
    """What each page's file was rendered from (its key), the hash of its bytes and which file
    holds them (``writer.file_identity``), for the output folder the last build wrote."""

    def __init__(self, folder: Path, output_dir: Path, fingerprint: bytes) -> None:
        self._path = folder / CACHE_FILE
        self._output_dir = output_dir.absolute()
        self.keys = PageKeys(fingerprint)
        self._previous_dir: Path | None = None
        self._previous: dict[str, Record] = {}
        self._current: dict[str, Record] = {}
        self._reused: set[str] = set()
        self._load()

    def previous_output(self, path: str, key: bytes, source: str) -> Output | None:
        """The page's file from the last output, if it was rendered from this same key and still
        holds what was rendered: as an ``unchanged`` output when the file is exactly the one the
        last build left in this output folder, else with its bytes."""
        kept = self._kept(path, key, source)
        if kept is not None:
            self._reused.add(path)
        return kept

    def made(self, path: str, inputs: object, source: str, make: Callable[[], bytes]) -> Output:
        """The file at ``path`` that ``make`` makes from ``inputs`` alone (plain values: a JSON
        document, say), taken from the last output when ``inputs`` hash as they did then; not
        counted among the pages ``reused``."""
        key = self.keys(inputs)
        kept = self._kept(path, key, source) if key is not None else None
        if kept is not None:
            return kept
        data = make()
        self.rendered(path, key, data)
        return Output(path, data, source)

    def _kept(self, path: str, key: bytes, source: str) -> Output | None:
        record = self._previous.get(path)
        if record is None or record[0] != key.hex() or self._previous_dir is None:
            return None
        try:
            file = f"{self._previous_dir}/{checked_path(path)}"
        except OutputError:
            return None
        if self._previous_dir == self._output_dir and record[2] and file_identity(file) == record[2]:
            kept = Output(path, b"", source, unchanged=record[2])
        else:
            data = read_regular_file(file, follow_links=False)
            # Whatever the file is (even one reached through a linked folder), only bytes that
            # hash to what was rendered for this key are used.
            if data is None or _digest(data) != record[1]:
                return None
            kept = Output(path, data, source)
        self._current[path] = (record[0], record[1], "")
        return kept

    @property
    def reused(self) -> int:
        """How many pages came from the last output."""
        return len(self._reused)

    def rendered(self, path: str, key: bytes | None, data: bytes) -> None:
        if key is not None:
            self._current[path] = (key.hex(), _digest(data), "")

    def learnt(self) -> PageRecords:
        """What this cache learnt since it was made (or last asked), let go of here: a second
        process's cache hands it to the parent's with ``take``."""
        records = PageRecords(self._current, self._reused)
        self._current, self._reused = {}, set()
        return records

    def take(self, records: PageRecords) -> None:
        self._current.update(records.pages)
        self._reused |= records.reused

    def save(self) -> None:
        """After the output was written: what it holds now, and what each file is."""
        pages_by_path = {
            path: (key, digest, file_identity(f"{self._output_dir}/{path}"))
            for path, (key, digest, _) in self._current.items()
        }
        if pages_by_path == self._previous and self._previous_dir == self._output_dir:
            return

        def write(file: BinaryIO) -> None:
            data = {"format": FORMAT, "output": str(self._output_dir), "pages": pages_by_path}
            file.write(json.dumps(data, separators=(",", ":")).encode())

        write_atomically(self._path, write)

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_bytes())
            if data["format"] != FORMAT:
                return
            folder = Path(data["output"])
            records = data["pages"]
            previous = {
                path: (key, digest, identity)
                for path, (key, digest, identity) in records.items()
                if isinstance(path, str)
                and isinstance(key, str)
                and isinstance(digest, str)
                and isinstance(identity, str)
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return
        # Only this output folder or one beside it (``sitegen serve``'s generations) is read.
        if folder.is_absolute() and folder.parent == self._output_dir.parent:
            self._previous_dir, self._previous = folder, previous


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]
