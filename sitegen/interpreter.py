"""Child processes of a build: a new interpreter like this one, and children that never outlive
their parent. Shared by ``parallel`` (work on the second core) and ``writer`` (the files)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from contextlib import suppress

_PR_SET_PDEATHSIG = 1


def python_command(code: str) -> list[str]:
    """A command that runs ``code`` in a new interpreter like this one: its flags, and its import
    path (the working folder resolved), so that the child imports the same sitegen."""
    path = [entry or os.getcwd() for entry in sys.path if isinstance(entry, str)]
    flags: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    return [sys.executable, *flags, "-c", f"import sys; sys.path[:] = {path!r}; {code}"]


def die_with(parent: int) -> None:
    """On Linux, the kernel kills this child when the parent dies, so that no orphan keeps
    computing, or holding the parent's output open, after a build is killed."""
    if sys.platform == "linux":
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)
