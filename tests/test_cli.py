"""The ``sitegen`` command as a user runs it: exit codes, messages, and an untouched site on failure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sitegen.cli import main

from .conftest import SiteFactory, paper_text
from .helpers import snapshot, soup


def sitegen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Buffered output, as a user's pipe has it: `sitegen` ends with os._exit, which would drop
    # anything not flushed, and PYTHONUNBUFFERED (set in many CI images) would hide that.
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-m", "sitegen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )


GOOD = {
    "content/papers/2024/2401.00001.md": paper_text("2401.00001", "First", "2024-01-01"),
    "content/papers/2024/2401.00002.md": paper_text("2401.00002", "Second", "2024-01-02"),
}

BROKEN = {
    "bad YAML": (
        "content/papers/2024/2401.00002.md",
        "---\nid: 2401.00002\ntitle: [Second\ndate: 2024-01-02\n---\nx\n",
        "content/papers/2024/2401.00002.md:4: invalid YAML in front matter: ",
    ),
    "bad date": (
        "content/papers/2024/2401.00002.md",
        paper_text("2401.00002", "Second", "2024-02-31"),
        "content/papers/2024/2401.00002.md:5: 'date' must be a date written YYYY-MM-DD, got '2024-02-31'",
    ),
    "missing title": (
        "content/papers/2024/2401.00002.md",
        "---\nid: 2401.00002\nauthors: [A]\ndate: 2024-01-02\n---\nx\n",
        "content/papers/2024/2401.00002.md:1: 'title' is missing; add a 'title:' line to the front matter",
    ),
    "duplicate id": (
        "content/papers/2024/copy.md",
        paper_text("2401.00001", "Copy", "2024-01-03"),
        (
            "content/papers/2024/copy.md:2: duplicate id '2401.00001': "
            "content/papers/2024/2401.00001.md:2 has the same id; every paper needs its own id"
        ),
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_bad_input_exits_1_names_the_line_and_keeps_the_old_site(make_site: SiteFactory, case: str) -> None:
    site = make_site(GOOD)
    assert sitegen("build", cwd=site).returncode == 0
    before = snapshot(site / "_site")

    relative, text, expected = BROKEN[case]
    (site / relative).write_text(text, encoding="utf-8")
    result = sitegen("build", cwd=site)

    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(expected)
    assert "nothing was written" in result.stderr
    assert snapshot(site / "_site") == before


def test_all_problems_of_all_files_are_listed(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": paper_text("a1", date="2024-13-01"),
            "content/b.md": "---\nid: b1\nauthors: [A]\ndate: 2024-01-01\n---\nx\n",
        }
    )
    result = sitegen("check", cwd=site)
    assert result.returncode == 1
    assert "content/a.md:5: 'date' must be a date" in result.stderr
    assert "content/b.md:1: 'title' is missing" in result.stderr
    assert "stopped with 2 errors" in result.stderr


def test_strict_turns_warnings_into_failure(make_site: SiteFactory) -> None:
    site = make_site({"content/a.md": paper_text("a1", extra="tldr_: x\n")})
    relaxed = sitegen("build", cwd=site)
    assert relaxed.returncode == 0
    assert (
        "content/a.md:7: warning: unknown field 'tldr_' is ignored (did you mean 'tldr'?)" in relaxed.stderr
    )
    strict = sitegen("build", "--strict", cwd=site)
    assert strict.returncode == 1
    assert "stopped with warnings (--strict)" in strict.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert sitegen("build", "--bogus", cwd=tmp_path).returncode == 2
    assert sitegen("build", "--base-url", "not-a-url", cwd=tmp_path).returncode == 2
    assert sitegen("frobnicate", cwd=tmp_path).returncode == 2


@pytest.mark.parametrize("command", [[], ["init"], ["new"], ["build"], ["check"]])
def test_help_everywhere(tmp_path: Path, command: list[str]) -> None:
    result = sitegen(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: sitegen")


def test_missing_site_is_a_clear_error(tmp_path: Path) -> None:
    result = sitegen("build", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "nowhere/sitegen.yaml: no sitegen.yaml here; create one or run 'sitegen init nowhere'"
        in result.stderr
    )


def test_init_then_new_then_build(tmp_path: Path) -> None:
    assert sitegen("init", "mysite", cwd=tmp_path).returncode == 0
    site = tmp_path / "mysite"
    created = sitegen(
        "new",
        "mysite",
        "--id",
        "2402.12345",
        "--title",
        'Quotes "and": colons',
        "--date",
        "2024-02-03",
        "--author",
        "Grace Hopper",
        "--topic",
        "vision",
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert (site / "content/papers/2024/2402.12345.md").is_file()
    built = sitegen("build", "mysite", "--base-url", "https://example.org/sub/", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    page = soup(site / "_site/papers/2402.12345/index.html")
    assert page.h1.get_text() == 'Quotes "and": colons'
    assert sitegen("init", "mysite", cwd=tmp_path).returncode == 2  # never overwrites a site
    again = sitegen(
        "new", "mysite", "--id", "2402.12345", "--title", "x", "--date", "2024-02-03", cwd=tmp_path
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_build_output_option_and_summary(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site({**GOOD, "content/f.md": paper_text("f1", date="2999-01-01")})
    result = sitegen("build", str(site), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0
    assert "3 papers" in result.stdout and "1 dated after today" in result.stdout
    assert (tmp_path / "out/index.html").is_file()
    left_out = sitegen("build", str(site), "--no-future", cwd=tmp_path)
    assert "1 future-dated left out (--no-future)" in left_out.stdout


def test_the_output_folder_is_never_the_site_or_a_stranger(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site(GOOD)
    (site / "NOTES.txt").write_text("mine")
    for target in (".", ".."):
        result = sitegen("build", "-o", target, cwd=site)
        assert result.returncode == 1
        assert "would replace the site folder" in result.stderr
    stranger = tmp_path / "documents"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("precious")
    result = sitegen("build", "-o", str(stranger), cwd=site)
    assert result.returncode == 1
    assert "is not empty and was not made by sitegen" in result.stderr
    assert (stranger / "thesis.tex").read_text() == "precious"
    assert (site / "NOTES.txt").read_text() == "mine"
    assert sitegen("build", cwd=site).returncode == 0
    assert sitegen("build", cwd=site).returncode == 0  # its own previous output is replaced


def test_file_system_trouble_is_a_message_not_a_traceback(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site(GOOD)
    (site / "content/broken.md").symlink_to(tmp_path / "missing.md")
    result = sitegen("build", cwd=site)
    assert result.returncode == 1
    assert "content/broken.md: cannot be read: No such file or directory" in result.stderr
    (tmp_path / "afile").write_text("x")
    for command in (["build", "afile"], ["init", "afile"]):
        result = sitegen(*command, cwd=tmp_path)
        assert result.returncode in (1, 2)
        assert "Traceback" not in result.stderr
        assert "afile" in result.stderr.splitlines()[0]


def test_repeated_warnings_are_folded(make_site: SiteFactory) -> None:
    site = make_site({f"content/{n}.md": paper_text(f"p{n}", extra="colour: red\n") for n in range(12)})
    result = sitegen("build", cwd=site)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("content/")]
    assert len(warnings) == 5
    assert "… and 7 more like this: unknown field 'colour' is ignored" in result.stderr
    assert sitegen("check", "--strict", cwd=site).returncode == 1


def test_build_quiet_profile_and_the_count_of_files_written(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site({"content/a.md": paper_text()})
    assert main(["build", str(site), "--profile"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.search(r"\((\d+) files written, 0 unchanged\)$", lines[0])
    assert [line.split()[0] for line in lines[1:5]] == ["load", "index", "plan", "render"]
    assert lines[-2].split()[0] == "write"
    assert re.fullmatch(r"  parsed 1 abstract file and rendered (\d+) of \1 pages; .*", lines[-1])
    assert main(["build", str(site), "--profile"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.search(r"\(0 files written, (\d+) unchanged\)$", lines[0])
    assert re.fullmatch(r"  parsed 0 abstract files and rendered 0 of \d+ pages; .*", lines[-1])
    assert main(["build", str(site), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_the_command_flushes_its_output_before_it_exits(make_site: SiteFactory, tmp_path: Path) -> None:
    # `sitegen` ends with os._exit, which drops whatever is still buffered: a pipe (not a
    # terminal) buffers stdout, so the summary line is there only if it was flushed.
    site = make_site(GOOD)
    result = sitegen("build", str(site), "--profile", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Built 2 papers")
    assert lines[-1].startswith("  parsed 2 abstract files")


def test_the_command_with_its_output_closed_still_succeeds(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site(GOOD)
    for closed in ("1", "2"):
        result = subprocess.run(
            f'"{sys.executable}" -m sitegen build "{site}" -q {closed}>&-',
            shell=True,
            cwd=tmp_path,
            capture_output=closed == "1",
            timeout=120,
            check=False,
        )
        assert result.returncode == 0
