"""Build benchmark: a synthetic corpus of N papers, timed stage by stage, with peak memory.

    python benchmarks/build_bench.py --papers 10000 --runs 3

The corpus is generated into benchmarks/corpus/N/ (ignored by git) once and reused; the output
goes to a temporary folder. Figures are printed, never asserted: speed is measured here, not in
unit tests. When `hugo` is installed (Debian package `hugo`), the minimal equivalent Hugo site in
benchmarks/hugo/ builds the same corpus in the same run, and the ratios are printed.
"""

from __future__ import annotations

import argparse
import functools
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import added_papers, edited_abstract, generate

from sitegen.authors import index_authors
from sitegen.build import BuildOptions, build
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


def hugo_build(site: Path, runs: int) -> tuple[float, float] | None:
    """Median wall seconds and peak RSS (MiB) of `hugo` building the same corpus, if installed."""
    hugo, gnu_time = shutil.which("hugo"), shutil.which("time") or "/usr/bin/time"
    if hugo is None or not Path(gnu_time).exists():
        return None
    seconds, peaks = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            command = [gnu_time, "-f", "%e %M", hugo, "--quiet", "--source", str(HERE / "hugo"),
                       "--contentDir", str(site / "content"), "--destination", out]  # fmt: skip
            finished = subprocess.run(command, capture_output=True, text=True, check=True)
            wall, peak_kb = finished.stderr.strip().splitlines()[-1].split()
            seconds.append(float(wall))
            peaks.append(int(peak_kb) / 1024)
    return statistics.median(seconds), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    site = HERE / "corpus" / str(args.papers)
    if not (site / "sitegen.yaml").exists():
        print(f"generating {args.papers} papers into {site} ...", flush=True)
        generate(site, args.papers)

    results: dict[str, list[float]] = {}
    written: dict[str, int] = {}
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
            # The whole thing, end to end, as `sitegen build` runs it.
            # A new output and cache folder each run: a cold build; the rebuilds reuse both.
            options = BuildOptions(
                output=Path(scratch) / f"out{run}", cache_dir=Path(scratch) / f"cache{run}"
            )
            report = timed("build, end to end", results, build, site, options)
            again = timed("rebuild, no change", results, build, site, options)
            newest = report.plan.site.papers[0].date
            changes = {
                "one paper added": functools.partial(added_papers, site, 1, newest),
                "one abstract edited": functools.partial(edited_abstract, site),
                "50 papers added (one day)": functools.partial(added_papers, site, 50, newest),
            }
            for change, applied in changes.items():
                with applied():
                    rebuilt = timed(f"rebuild, {change}", results, build, site, options)
                written[change] = rebuilt.written.written
                build(site, options)  # back to the corpus as generated, unmeasured

    index_bytes = sum(len(output.data) for output in search)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{args.papers} papers → {report.written.files} files, {report.written.bytes / 2**20:.1f} MiB; "
        f"median of {args.runs} runs"
    )
    for label, seconds in results.items():
        print(f"  {label:40s} {statistics.median(seconds):7.2f} s")
    print("  stages of the last cold build (build --profile):")
    for stage, seconds in report.seconds.items():
        print(f"    {stage:38s} {seconds:7.2f} s")
    print(f"  {'files written, no change':40s} {again.written.written:7d}")
    for change, count in written.items():
        print(f"  {'files written, ' + change:40s} {count:7d}")
    print(f"  {'peak memory (RSS, whole process)':40s} {peak:7.0f} MiB")
    print(f"  {'search index and store':40s} {index_bytes / 2**20:7.1f} MiB")
    hugo = hugo_build(site, args.runs)
    if hugo is None:
        print("  hugo is not installed (apt-get install hugo): no comparison")
        return
    hugo_seconds, hugo_peak = hugo
    ours = statistics.median(results["build, end to end"])
    added = statistics.median(results["rebuild, one paper added"])
    print(f"  {'hugo, same corpus (benchmarks/hugo)':40s} {hugo_seconds:7.2f} s, {hugo_peak:.0f} MiB peak")
    print(f"  {'cold build / hugo':40s} {ours / hugo_seconds:7.2f} x   (goal: at most 1.0)")
    print(f"  {'one paper added / hugo':40s} {added / hugo_seconds:7.2f} x   (goal: at most 0.1)")


if __name__ == "__main__":
    main()
