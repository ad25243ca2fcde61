"""Files in the build cache folder: each written whole or not at all, and tied to the code that
made it.

Nothing in a build depends on what the cache holds, only on how fast the build is: a cache file
that is missing, cut short, damaged or made by other code is treated as empty, and one that
cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

ABANDONED_AFTER_SECONDS = 3600

LIBRARIES = (
    "jinja2",
    "markupsafe",
    "markdown-it-py",
    "mdit-py-plugins",
    "latex2mathml",
    "pyyaml",
    "numpy",
    "lunr",
)
"""What turns an abstract file into a page (and related papers) besides sitegen's own code."""


@functools.cache
def code_fingerprint() -> bytes:
    """A hash of sitegen's source and the versions of the libraries and Python it runs with: a
    cache entry made by any other code is never reused, even between two commits of a checkout."""
    digest = hashlib.blake2b(digest_size=16)
    package = Path(__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    for library in LIBRARIES:
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library}={version}\0".encode())
    digest.update(sys.version.encode())
    return digest.digest()


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> bool:
    """Write ``path`` through a temporary file renamed into place, so that a build killed
    mid-way leaves the previous file; False (and no file) when the folder cannot be written."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp's 0600 would keep the cache from others
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except (OSError, ValueError):
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return False
    _remove_abandoned(path)
    return True


def _remove_abandoned(path: Path) -> None:
    """Temporary files of saves that never finished (a build killed mid-save); an hour old, so
    that no other build is still writing them."""
    now = time.time()
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > ABANDONED_AFTER_SECONDS:
                leftover.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
