"""Build benchmark: a synthetic corpus of N papers, timed stage by stage, with peak memory.

    python benchmarks/build_bench.py --papers 10000 --runs 3

The corpus is generated into benchmarks/corpus/N/ (ignored by git) once and reused; the output
goes to a temporary folder. Figures are printed, never asserted: speed is measured here, not in
unit tests. When `hugo` is installed (Debian package `hugo`), the minimal equivalent Hugo site in
benchmarks/hugo/ builds the same corpus in the same run, and the ratios are printed.

Nothing is deleted until the end, and Hugo builds right after each cold build: on ext4 without a
journal (this project's machines), a file made within a few minutes of many deletions costs up to
ten times as much, as the kernel skips each recently freed inode, so whichever build came after a
deletion would pay for it.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import functools
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import added_papers, edited_abstract, generate

from sitegen.authors import index_authors
from sitegen.config import load_config
from sitegen.content import find_abstract_files, load_papers
from sitegen.export import render_data
from sitegen.pages import plan_pages
from sitegen.related import related_papers
from sitegen.render import make_environment, render_pages
from sitegen.search import render_search
from sitegen.site import index_site
from sitegen.themes import find_theme, template_dirs


def timed(label: str, results: dict[str, list[float]], function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    results.setdefault(label, []).append(time.perf_counter() - started)
    return value


def list_of(produce):
    """``produce``'s outputs made all at once, so that ``timed`` sees the work."""
    return lambda *args: list(produce(*args))


def rendered_bytes(pages, env) -> int:
    return sum(len(output.data) for output in render_pages(pages, env))


def exported_bytes(site) -> int:
    return sum(len(output.data) for output in render_data(site))


GNU_TIME = "/usr/bin/time"
"""GNU time (Debian package `time`), for wall time and peak RSS of a command."""


@dataclass
class Run:
    seconds: float
    peak_mib: float
    """Of the largest of the build's processes."""
    files: int
    written: int
    profile: list[str]
    """``--profile``'s lines: seconds per stage, then what came from the cache."""


def sitegen_build(site: Path, out: Path, cache: Path) -> Run:
    """One ``sitegen build --profile``, in a process of its own, under GNU time."""
    command = [GNU_TIME, "-f", "%e %M", sys.executable, "-m", "sitegen", "build", str(site),
               "-o", str(out), "--cache-dir", str(cache), "--profile"]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, check=True, cwd=HERE.parent)
    wall, peak_kb = finished.stderr.strip().splitlines()[-1].split()
    summary, *profile = finished.stdout.splitlines()
    counts = re.search(r"\((\d+) files written, (\d+) unchanged\)$", summary)
    if counts is None:
        raise SystemExit(f"unexpected output of sitegen build: {summary}")
    written, unchanged = int(counts[1]), int(counts[2])
    return Run(float(wall), int(peak_kb) / 1024, written + unchanged, written, profile)


def record(label: str, results: dict[str, list[float]], run: Run) -> Run:
    results.setdefault(label, []).append(run.seconds)
    return run


def newest_date(site: Path) -> dt.date:
    """The newest paper's listing date: the day a rebuild's papers are added to."""
    return max(paper.date for paper in load_papers(find_abstract_files(site / "content")).papers)


def hugo_build(site: Path, out: Path) -> tuple[float, float] | None:
    """Wall seconds and peak RSS (MiB) of `hugo` building the same corpus into ``out``, if installed."""
    hugo = shutil.which("hugo")
    if hugo is None:
        return None
    command = [GNU_TIME, "-f", "%e %M", hugo, "--quiet", "--source", str(HERE / "hugo"),
               "--contentDir", str(site / "content"), "--destination", str(out)]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    wall, peak_kb = finished.stderr.strip().splitlines()[-1].split()
    return float(wall), int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    # As `pip install` leaves it: where PYTHONDONTWRITEBYTECODE is set (this project's machines),
    # every build would otherwise compile sitegen's modules again, in each of its processes.
    compileall.compile_dir(HERE.parent / "sitegen", quiet=1)
    site = HERE / "corpus" / str(args.papers)
    if not (site / "sitegen.yaml").exists():
        print(f"generating {args.papers} papers into {site} ...", flush=True)
        generate(site, args.papers)

    results: dict[str, list[float]] = {}
    rebuilds: dict[str, Run] = {}
    hugo_runs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            # Stage by stage, as build() runs them (rendering without writing).
            config = load_config(site)
            files = list(find_abstract_files(site / "content"))
            loaded = timed("load (read, YAML, validate, Markdown)", results, load_papers, files)
            built_site = timed("index", results, index_site, config, loaded.papers)
            timed("  of which related papers", results, related_papers, built_site.papers)
            timed("  of which authors", results, index_authors, built_site.papers)
            pages = timed("plan", results, plan_pages, built_site)
            theme = find_theme(site, config.theme)
            env = make_environment(config, template_dirs(site, theme))
            timed("render (Jinja2, no writing)", results, rendered_bytes, pages, env)
            search = timed("search index (no cache, no writing)", results, list_of(render_search), built_site)
            timed("data export (no writing)", results, exported_bytes, built_site)
            # The whole thing, end to end: `sitegen build` as a user runs it, in its own process.
            # A new output and cache folder each run: a cold build; the rebuilds reuse both.
            build_once = functools.partial(
                sitegen_build, site, Path(scratch) / f"out{run}", Path(scratch) / f"cache{run}"
            )
            report = record("build, end to end", results, build_once())
            hugo = hugo_build(site, Path(scratch) / f"hugo{run}")
            if hugo is not None:
                hugo_runs.append(hugo)
            rebuilds["no change"] = record("rebuild, no change", results, build_once())
            newest = newest_date(site)
            changes = {
                "one paper added": functools.partial(added_papers, site, 1, newest),
                "one abstract edited": functools.partial(edited_abstract, site),
                "50 papers added (one day)": functools.partial(added_papers, site, 50, newest),
            }
            for change, applied in changes.items():
                with applied():
                    rebuilds[change] = record(f"rebuild, {change}", results, build_once())
                build_once()  # back to the corpus as generated, unmeasured

    index_bytes = sum(len(output.data) for output in search)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.papers} papers → {report.files} files; median of {args.runs} runs")
    for label, seconds in results.items():
        print(f"  {label:40s} {statistics.median(seconds):7.2f} s")
    print("  the last cold build (sitegen build --profile):")
    for line in report.profile:
        print(f"    {line.strip()}")
    print(f"  {'peak RSS, cold build':40s} {report.peak_mib:7.0f} MiB")
    for change, rebuilt in rebuilds.items():
        print(f"  rebuild, {change}: {rebuilt.written} files written, peak RSS {rebuilt.peak_mib:.0f} MiB")
        print(f"    {' · '.join(' '.join(line.split()) for line in rebuilt.profile)}")
    print(f"  {'peak RSS, this benchmark process':40s} {peak:7.0f} MiB")
    print(f"  {'search index and store':40s} {index_bytes / 2**20:7.1f} MiB")
    if not hugo_runs:
        print("  hugo is not installed (apt-get install hugo): no comparison")
        return
    hugo_seconds = statistics.median(seconds for seconds, _ in hugo_runs)
    hugo_peak = max(peak for _, peak in hugo_runs)
    ours = statistics.median(results["build, end to end"])
    peak_ratio = report.peak_mib / hugo_peak
    added = statistics.median(results["rebuild, one paper added"])
    print(f"  {'hugo, same corpus (benchmarks/hugo)':40s} {hugo_seconds:7.2f} s, {hugo_peak:.0f} MiB peak")
    print(f"  {'cold build / hugo':40s} {ours / hugo_seconds:7.2f} x   (goal: at most 1.0)")
    print(f"  {'one paper added / hugo':40s} {added / hugo_seconds:7.2f} x   (goal: at most 0.1)")
    print(f"  {'peak RSS of the cold build / hugo':40s} {peak_ratio:7.2f} x   (goal: at most 0.5)")


if __name__ == "__main__":
    main()
