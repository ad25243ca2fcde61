"""Builds killed with SIGKILL at random moments never cost the site: the output is always a whole
site (the old one or the new one), and the next build equals a clean one."""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sitegen.build import BuildOptions, build

from .helpers import snapshot

REPO = Path(__file__).resolve().parent.parent
TRIALS = 20


def generate(site: Path, count: int) -> None:
    spec = importlib.util.spec_from_file_location("corpus", REPO / "benchmarks" / "corpus.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.generate(site, count)


def edit(site: Path, trial: int) -> None:
    first = sorted((site / "content").rglob("*.md"))[0]
    text = first.read_text().split("\n")
    text[2] = f"title: Retitled in trial {trial}"
    first.write_text("\n".join(text))


def test_killed_builds_leave_a_whole_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate(site, 150)
    out = site / "_site"
    build(site)
    previous = snapshot(out)
    rng = random.Random(20261128)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "sitegen", "build", str(site)], check=True, capture_output=True)
    duration = time.monotonic() - started
    outcomes = {"old": 0, "new": 0}
    for trial in range(TRIALS):
        edit(site, trial)
        expected = tmp_path / f"clean-{trial}"
        build(site, BuildOptions(output=expected))
        wanted = snapshot(expected)

        process = subprocess.Popen(
            [sys.executable, "-m", "sitegen", "build", str(site)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, duration * 1.1))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

        now = snapshot(out)
        assert now in (previous, wanted), f"trial {trial}: the output is neither the old nor the new site"
        outcomes["new" if now == wanted else "old"] += 1

        build(site)
        assert snapshot(out) == wanted, f"trial {trial}: the build after the kill differs from a clean one"
        leftovers = [p.name for p in site.iterdir() if p.name.startswith("._site.")]
        assert leftovers == []
        previous = wanted
    print(f"{TRIALS} kills: {outcomes['old']} left the old site, {outcomes['new']} the new one")
    assert outcomes["old"] > 0
