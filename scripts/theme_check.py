"""Judge the default theme in Debian's Chromium: Lighthouse scores, axe-core violations (light and
dark), page weight, requests to other hosts, and screenshots to look at.

    npm ci --prefix tools          # Lighthouse 12.2.3 and axe-core, pinned in tools/package-lock.json
    python scripts/theme_check.py [--out DIR]

Prints a table and exits 1 when a Lighthouse category scores under 95, axe finds a violation, the
home page weighs more than 60 KB, or a page asks another host for anything.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from sitegen.build import BuildOptions, build  # noqa: E402

TOOLS = REPO / "tools" / "node_modules"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PAGES = {
    "home": "",
    "paper": "papers/2106.09685/",
    "topic": "topics/vision/",
    "month": "2024/02/",
    "search": "search/?q=diffusion",
}
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
MIN_SCORE = 95
MAX_HOME_BYTES = 60_000
SIZES = ((375, 812), (1280, 800))


class StaticHostHandler(SimpleHTTPRequestHandler):
    """Serves files as static hosts such as GitHub Pages do: text compressed with gzip."""

    COMPRESSED = (".html", ".css", ".js", ".json", ".xml", ".svg", ".txt")

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts_gzip and path.suffix in self.COMPRESSED and path.is_file()):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(StaticHostHandler, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def lighthouse(url: str, report: Path) -> dict[str, int]:
    subprocess.run(
        [
            "node", str(TOOLS / "lighthouse" / "cli" / "index.js"), url, "--quiet", "--output=json",
            f"--output-path={report}", f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={' '.join(CHROMIUM_FLAGS)}",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM}, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    data = json.loads(report.read_text())
    return {name: round(data["categories"][name]["score"] * 100) for name in CATEGORIES}


def browser_checks(base: str, screens: Path) -> tuple[dict[str, list[str]], int, list[str]]:
    """axe violations per page and scheme, the home page's weight, and requests to other hosts."""
    axe_source = (TOOLS / "axe-core" / "axe.min.js").read_text()
    violations: dict[str, list[str]] = {}
    foreign: list[str] = []
    home_bytes = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS[1:])
        for name, path in PAGES.items():
            for scheme in ("light", "dark"):
                page = browser.new_page(color_scheme=scheme, viewport={"width": 1280, "height": 800})
                page.on("request", lambda r: None if r.url.startswith(base) else foreign.append(r.url))
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                page.add_script_tag(content=axe_source)
                result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                violations[f"{name} ({scheme})"] = [
                    f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in result["violations"]
                ]
                page.close()
                for width, height in SIZES:
                    shot = browser.new_page(color_scheme=scheme, viewport={"width": width, "height": height})
                    shot.goto(base + path)
                    shot.wait_for_load_state("networkidle")
                    shot.screenshot(path=str(screens / f"{name}-{width}x{height}-{scheme}.png"))
                    shot.close()
        page = browser.new_page()
        sizes: list[int] = []
        page.on("response", lambda response: sizes.append(len(response.body())))
        page.goto(base)
        page.wait_for_load_state("networkidle")
        home_bytes = sum(sizes)
        browser.close()
    return violations, home_bytes, foreign


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, help="where reports and screenshots go (default: a temporary folder)"
    )
    args = parser.parse_args()
    if not (TOOLS / "lighthouse").is_dir():
        print("Lighthouse is missing: run 'npm ci --prefix tools' first", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="sitegen-theme-"))
    screens = out / "screenshots"
    screens.mkdir(parents=True, exist_ok=True)
    site = out / "site"
    if site.exists():
        shutil.rmtree(site)
    server, base = serve(site.parent)
    base += "site/"
    build(REPO, BuildOptions(output=site, base_url=base))
    failed = False
    try:
        print(f"{'page':8} " + " ".join(f"{c:>15}" for c in CATEGORIES))
        for name, path in PAGES.items():
            scores = lighthouse(base + path, out / f"lighthouse-{name}.json")
            failed |= any(score < MIN_SCORE for score in scores.values())
            print(f"{name:8} " + " ".join(f"{scores[c]:>15}" for c in CATEGORIES))
        violations, home_bytes, foreign = browser_checks(base, screens)
    finally:
        server.shutdown()
    print()
    for page, found in violations.items():
        print(f"axe {page}: {len(found)} violations" + "".join(f"\n  {v}" for v in found))
        failed |= bool(found)
    limit = MAX_HOME_BYTES / 1000
    print(f"\nhome page: {home_bytes / 1000:.1f} KB transferred without search (limit {limit:.0f} KB)")
    print(f"requests to other hosts: {len(foreign)}" + "".join(f"\n  {url}" for url in foreign))
    print(f"screenshots: {screens}")
    failed |= home_bytes > MAX_HOME_BYTES or bool(foreign)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
