"""Reading built pages the way a user sees them: parsed HTML, not strings."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to prove a folder did not change."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def broken_links(out: Path, base_path: str) -> list[str]:
    """Every internal ``href``/``src`` of every page that does not lead to a file, or to an ``id``
    in it; and every one that leaves ``base_path``. External (other-host) links are not followed."""
    from urllib.parse import unquote, urlsplit

    ids: dict[Path, set[str]] = {}

    def anchors(page: Path) -> set[str]:
        if page not in ids:
            ids[page] = (
                {str(e["id"]) for e in soup(page).find_all(id=True)} if page.suffix == ".html" else set()
            )
        return ids[page]

    def target(path: str) -> Path:
        relative = unquote(path)[len(base_path) :]
        return out / (relative + "index.html" if relative == "" or relative.endswith("/") else relative)

    problems = []
    for page in sorted(out.rglob("*.html")):
        for element in soup(page).find_all(["a", "link", "script", "img", "source", "form"]):
            ref = element.get("href") or element.get("src") or element.get("action")
            if not ref:
                continue
            parts = urlsplit(str(ref))
            where = f"{page.relative_to(out)}: {ref}"
            if parts.scheme in ("http", "https", "mailto") and parts.netloc != "example.org":
                continue
            if ref.startswith("#"):
                if ref[1:] not in anchors(page):
                    problems.append(f"{where} (no such anchor)")
                continue
            if not parts.path.startswith(base_path):
                problems.append(f"{where} (outside {base_path})")
                continue
            file = target(parts.path)
            if not file.is_file():
                problems.append(f"{where} (no such file)")
            elif parts.fragment and parts.fragment not in anchors(file):
                problems.append(f"{where} (no such anchor)")
    return problems
