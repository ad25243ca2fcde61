"""The default theme judged in Debian's Chromium: Lighthouse, axe-core, weight, other hosts.

Runs ``scripts/theme_check.py`` (which also writes the screenshots) and fails when it does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_lighthouse_axe_and_weight(tmp_path: Path) -> None:
    assert (REPO / "tools/node_modules/lighthouse").is_dir(), "run 'npm ci --prefix tools' (.ci/run does)"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts/theme_check.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == 5 * 2 * 2
    assert "requests to other hosts: 0" in result.stdout
