"""The one place that writes the built site: into a temporary folder, then swapped in whole.

A failed build leaves the previous output exactly as it was; two items claiming one path, or a
path that would land outside the output folder, stop the build naming their sources.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import OutputError


@dataclass(frozen=True, slots=True)
class Output:
    """One file of the built site."""

    path: str
    """Path inside the output folder, ``/``-separated."""
    data: bytes
    source: str
    """What produced it (a page's source or a static file's path), for collision messages."""


@dataclass(frozen=True, slots=True)
class WriteReport:
    files: int
    bytes: int


def safe_relative_path(path: str) -> PurePosixPath:
    """Refuse any output path that is absolute, climbs with ``..``, or smuggles separators."""
    pure = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or "\0" in path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
        or ":" in pure.parts[0]
    ):
        raise OutputError(f"refusing to write {path!r}: it would land outside the output folder")
    return pure


class PathClaims:
    """Which output paths are taken, and by what; a second claim on a path is an error."""

    def __init__(self) -> None:
        self._sources: dict[str, tuple[str, str]] = {}

    def claim(self, path: str, source: str) -> PurePosixPath:
        relative = safe_relative_path(path)
        key = path.casefold()  # names differing only in case collide on macOS and Windows disks
        earlier = self._sources.get(key)
        if earlier is not None:
            raise OutputError(f"two items claim {path!r}: {earlier[1]} and {source}; rename one of them")
        self._sources[key] = (path, source)
        return relative


def write_site(outputs: Iterable[Output], out_dir: Path) -> WriteReport:
    """Write every output into a fresh folder beside ``out_dir`` and swap it in at the end."""
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        report = _write_all(outputs, staging)
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _write_all(outputs: Iterable[Output], staging: Path) -> WriteReport:
    claims = PathClaims()
    made_dirs: set[str] = set()
    files = size = 0
    for output in outputs:
        relative = claims.claim(output.path, output.source)
        parent = str(relative.parent)
        if parent not in made_dirs:
            os.makedirs(staging / parent, exist_ok=True)
            made_dirs.add(parent)
        with open(staging / relative, "wb") as handle:
            handle.write(output.data)
        files += 1
        size += len(output.data)
    return WriteReport(files, size)


def _swap_in(staging: Path, out_dir: Path) -> None:
    os.chmod(staging, 0o755)
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rmdir(retired)
    os.rename(out_dir, retired)
    os.rename(staging, out_dir)
    shutil.rmtree(retired, ignore_errors=True)
