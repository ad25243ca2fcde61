"""Search benchmark: prints figures, asserts nothing.

For each corpus size: the time to build the chunked index (cold, and again after one paper is
added), its files and bytes; then, in headless Chromium (Debian's chromium), for each query, the
gzipped bytes the browser fetches before the first page of results (search code included) and the
time from the query to the results with their titles.

python benchmarks/search_bench.py --papers 10000 100000
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import Request, sync_playwright

from benchmarks.corpus import added_papers, generate
from sitegen.build import BuildOptions, plan_site
from sitegen.search import SearchDocument, chunked_index, search_documents
from sitegen.writer import WriteReport, write_site

QUERIES = ["language model", "lora", "antibody design", "transform*", "retreival~1"]
ASSETS = REPO / "themes/default/static/assets"
SCRIPTS = [ASSETS / "vendor/lunr/lunr.min.js", ASSETS / "search-engine.js", ASSETS / "search.js"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]  # fmt: skip

HARNESS = """<!doctype html><meta charset="utf-8"><title>search benchmark</title>
<script src="lunr.min.js"></script><script src="search-engine.js"></script><script src="search.js"></script>
<script>
window.runQuery = async function (query) {
  const started = performance.now();
  const engine = sitegenSearch(lunr, (path) => fetch("search/" + path).then((r) => r.json()));
  const answer = await engine.search(query, 20);
  const docs = await engine.documents(answer.results.map((r) => r.ref));
  return { ms: performance.now() - started, results: answer.results.length, total: answer.total,
           exact: answer.exact, first: docs.length ? docs[0][1] : null };
};
</script>"""


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_chunked_index(
    documents: list[SearchDocument], folder: Path, cache: Path
) -> tuple[float, float, WriteReport]:
    """Seconds to build the index, seconds to write it with the build's own writer (which keeps
    files whose bytes did not change), and what was written."""
    started = time.perf_counter()
    outputs = list(chunked_index(documents, cache_dir=cache))
    built = time.perf_counter()
    report = write_site(outputs, folder)
    return built - started, time.perf_counter() - built, report


def site_documents(site: Path) -> list[SearchDocument]:
    return search_documents(plan_site(site, BuildOptions()).site)


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _record(fetched: list[str], request: Request) -> None:
    fetched.append(request.url)


def measure_queries(folder: Path) -> None:
    for script in SCRIPTS:
        shutil.copy(script, folder / script.name)
    (folder / "index.html").write_text(HARNESS)
    gzipped: dict[str, int] = {}

    def gz_size(url: str, root: str) -> int:
        if url not in gzipped:
            gzipped[url] = len(gzip.compress((folder / url.removeprefix(root)).read_bytes(), 6))
        return gzipped[url]

    server, root = serve(folder)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print(f"  {'query':<18} {'KB gzipped':>10} {'requests':>8} {'ms':>7}  results")
            for query in QUERIES:
                context = browser.new_context()  # an empty cache per query
                page = context.new_page()
                fetched: list[str] = []
                page.on("requestfinished", functools.partial(_record, fetched))
                page.goto(root)
                answer = page.evaluate("(q) => window.runQuery(q)", query)
                files = [url for url in fetched if not url.endswith("/")]
                kilobytes = sum(gz_size(url, root) for url in files) / 1000
                count = f"{'' if answer['exact'] else 'about '}{answer['total']:,}"
                print(
                    f"  {query:<18} {kilobytes:>10.1f} {len(files):>8} {answer['ms']:>7.0f}  "
                    f"{answer['results']} shown of {count}; first: {answer['first']!r:.40}"
                )
                context.close()
            browser.close()
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, nargs="+", default=[10_000])
    parser.add_argument("--index-only", action="store_true", help="measure building the index, not queries")
    parser.add_argument(
        "--scratch", type=Path, help="where to write the index (default: the system's temp folder)"
    )
    args = parser.parse_args()
    for count in args.papers:
        site = HERE / "corpus" / str(count)
        if not (site / "sitegen.yaml").exists():
            print(f"generating {count} papers into {site} ...", flush=True)
            generate(site, count)
        with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
            folder, cache = Path(scratch) / "site", Path(scratch) / "cache"
            documents = site_documents(site)
            seconds, writing, report = write_chunked_index(documents, folder, cache)
            print(
                f"\n{count:,} papers: index built cold (every paper tokenised) in {seconds:.2f} s, "
                f"written in {writing:.2f} s: {report.files:,} files, {report.bytes / 2**20:.1f} MiB"
            )
            with added_papers(site, 1, "2025-12-31"):
                more = site_documents(site)
            for change, papers in (("adding one paper", more), ("removing it again", documents)):
                seconds, writing, report = write_chunked_index(papers, folder, cache)
                print(
                    f"  after {change} (the others' terms cached): built in {seconds:.2f} s, "
                    f"written in {writing:.2f} s ({report.written:,} files changed)"
                )
            print(f"  peak memory so far {peak_mib():,.0f} MiB")
            if not args.index_only:
                measure_queries(folder)


if __name__ == "__main__":
    main()
