"""The code stays ruff- and mypy-clean (STYLE.md): checked by the same command as everything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, check=False, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", "sitegen", "tests", "benchmarks", "scripts")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatting = run("ruff", "format", "--check", "sitegen", "tests", "benchmarks", "scripts")
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


def test_mypy_strict() -> None:
    result = run("mypy", "sitegen")
    assert result.returncode == 0, result.stdout + result.stderr
