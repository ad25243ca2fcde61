"""A corpus of bad input, generated: every case ends in a clear ``path:line: message`` error (exit 1)
or a safe site — never a traceback, never unescaped user text, never a file outside the output."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sitegen.build import DEFAULT_CACHE
from sitegen.cli import main
from sitegen.content import FIELDS
from sitegen.pagecache import CACHE_FILE as PAGES_FILE
from sitegen.papercache import CACHE_FILE as PAPERS_FILE
from sitegen.postings import CACHE_FILE as TERMS_FILE
from sitegen.related import RELATED_FILE, RELATED_TERMS_FILE

from .conftest import BASIC_CONFIG

GOOD_FRONT = {
    "id": "2401.00001",
    "title": "A good title",
    "authors": "[Ada Lovelace]",
    "date": "2024-01-15",
    "topics": "[vision]",
}
PAYLOADS = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</title><script>alert(1)</script>",
    "]]><x>not markup</x>",
    "<!-- {{ 7*7 }} {% raw %} -->",
    "&lt;script&gt; & &amp; &#60;",
    "javascript:alert(1)",
]
UNESCAPED = [b"<script>alert", b"<img src=x onerror", b"<svg onload", b"<x>not markup", b"<!-- {{"]
UNSAFE_SCHEMES = re.compile(r"^\s*(javascript|data|vbscript):", re.IGNORECASE)
PROBLEM_LINE = re.compile(r"^.+?(:\d+: (warning: )?\S|: cannot be read: )")
"""``path:line: message``; a file that cannot be opened at all has no line to point at."""


@dataclass
class Case:
    name: str
    files: dict[str, bytes] = field(default_factory=dict)
    config: str = BASIC_CONFIG
    symlinks: dict[str, str] = field(default_factory=dict)
    """Link name (in the site) → target (relative to the test's folder)."""


def front(**changes: str | None) -> dict[str, str]:
    fields = {**GOOD_FRONT, **changes}
    return {key: value for key, value in fields.items() if value is not None}


def paper(
    fields: dict[str, str] | None = None, body: str = "An abstract.", raw_front: str | None = None
) -> bytes:
    text = (
        raw_front if raw_front is not None else "".join(f"{k}: {v}\n" for k, v in (fields or front()).items())
    )
    return f"---\n{text}---\n{body}\n".encode()


def yaml_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def one(name: str, data: bytes, **extra: object) -> Case:
    return Case(name, {"content/papers/2024/p.md": data}, **extra)  # type: ignore[arg-type]


def cases() -> list[Case]:
    found: list[Case] = []
    # Malformed YAML and front matter.
    for name, raw in {
        "tab-indent": "id: a1\ntitle: T\nauthors:\n\t- A\ndate: 2024-01-01\n",
        "unclosed-double-quote": 'id: a1\ntitle: "never closed\ndate: 2024-01-01\n',
        "unclosed-single-quote": "id: a1\ntitle: 'never closed\ndate: 2024-01-01\n",
        "unclosed-bracket": "id: a1\ntitle: T\nauthors: [A, B\ndate: 2024-01-01\n",
        "unclosed-brace": "id: a1\ntitle: T\nlinks: {code: https://x.org\ndate: 2024-01-01\n",
        "duplicate-key": "id: a1\ntitle: T\ntitle: U\ndate: 2024-01-01\n",
        "list-not-mapping": "- a\n- b\n",
        "scalar-not-mapping": "just text\n",
        "empty-front-matter": "",
        "bad-indentation": "id: a1\n  title: T\ndate: 2024-01-01\n",
        "colon-in-title": "id: a1\ntitle: Re: a reply: with colons\ndate: 2024-01-01\n",
        "anchor-alias": "id: a1\ntitle: &t T\ntldr: *t\nauthors: [A]\ndate: 2024-01-01\n",
        "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nauthors: [*c, *c, *c, *c, *c, *c, *c]\ntitle: T\ndate: 2024-01-01\n",
        "unknown-tag": "id: a1\ntitle: !!python/object:os.system echo\ndate: 2024-01-01\n",
        "explicit-timestamp": "id: a1\ntitle: T\ndate: !!timestamp 2024-01-01\n",
        "binary-tag": "id: a1\ntitle: !!binary aGVsbG8=\ndate: 2024-01-01\n",
    }.items():
        found.append(one(f"yaml-{name}", paper(raw_front=raw)))
    found.append(one("no-opening-dashes", b"id: a1\ntitle: T\n---\nbody\n"))
    found.append(one("no-closing-dashes", b"---\nid: a1\ntitle: T\ndate: 2024-01-01\nbody\n"))
    found.append(one("extra-dashes-in-body", paper(body="text\n---\n---\nmore")))
    found.append(one("dots-close", b"---\nid: a1\ntitle: T\nauthors: [A]\ndate: 2024-01-01\n...\nbody\n"))

    # Wrong types in every field.
    for key in FIELDS:
        for label, value in {
            "list": "[1, [2, 3]]",
            "mapping": "{a: b}",
            "bool": "true",
            "negative": "-5",
            "text": "'some text'",
            "null": "null",
            "huge-number": "99999999999999999999999",
        }.items():
            found.append(one(f"type-{key}-{label}", paper(front(**{key: value}))))

    # Impossible and odd dates.
    for value in ["2024-02-30", "2024-13-01", "0000-01-01", "9999-12-31", "2024-1-1", "'2024/01/01'", "20240101",
                  "2024-01-01T10:00:00", "2024-01-01 10:00", "'yesterday'", "-2024-01-01"]:  # fmt: skip
        found.append(one(f"date-{value}", paper(front(date=value))))

    # Encodings and odd bytes.
    good = paper()
    found += [
        one("bom", b"\xef\xbb\xbf" + good),
        one("crlf", good.replace(b"\n", b"\r\n")),
        one("cr-only", good.replace(b"\n", b"\r")),
        one("latin-1", paper(front(title="Caf\u00e9")).decode().encode("latin-1")),
        one("invalid-utf8", good.replace(b"An abstract", b"An \xff\xfe abstract")),
        one("nul-byte", good.replace(b"An abstract", b"An \x00 abstract")),
        one("zero-bytes", b""),
        one("only-dashes", b"---\n"),
        one("only-whitespace", b"   \n\n\t\n"),
        one("ten-megabyte-abstract", paper(body=("A long abstract sentence with $x$. " * 300_000))),
        one("binary-png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        one("control-characters", paper(front(title="bell\x07 and escape\x1b"))),
        one("utf16", good.decode().encode("utf-16")),
    ]

    # Symlinks.
    found.append(Case("symlink-out-of-site", symlinks={"content/papers/out.md": "outside.md"}))
    found.append(
        Case("symlink-loop", {"content/papers/p.md": good}, symlinks={"content/papers/loop": "site/content"})
    )
    found.append(
        Case(
            "symlink-broken", {"content/papers/p.md": good}, symlinks={"content/papers/gone.md": "nowhere.md"}
        )
    )

    # Ids.
    found.append(
        Case(
            "same-id-two-folders",
            {"content/papers/2023/p.md": good, "content/papers/2024/p.md": good},
        )
    )
    for paper_id in ["a/b", "..", "../x", "%2e%2e", "CON", "nul.txt", "COM1", "\u0430bc", "\uff41\uff42\uff43",
                     ".hidden", "-x", "a b", "x" * 300, "a\\b", "'a?b'", "'a#b'", "UPPER"]:  # fmt: skip
        found.append(one(f"id-{paper_id[:20]}", paper(front(id=yaml_string(paper_id)))))

    # Script injection in every user-visible field and in the configuration.
    for number, payload in enumerate(PAYLOADS):
        quoted = yaml_string(payload)
        for key, fields in {
            "title": front(title=quoted),
            "authors": front(authors=f"[{quoted}]"),
            "affiliation": front(authors=f"[{{name: {quoted}, affiliation: {quoted}}}]"),
            "tldr": front(tldr=quoted),
            "comment": front(comment=quoted),
            "journal": front(journal_ref=quoted),
            "categories": front(categories=f"[{quoted}]", primary_category=quoted),
            "license": front(license=quoted),
            "link-path": front(
                links=f"{{code: {yaml_string('https://x.org/' + payload.replace(' ', '%20'))}}}"
            ),
            "topics": front(topics=f"[{quoted}]"),
        }.items():
            found.append(one(f"inject-{key}-{number}", paper(fields)))
        found.append(one(f"inject-abstract-{number}", paper(body=f"Before {payload} after.\n\n{payload}")))
        found.append(one(f"inject-math-{number}", paper(body=f"${payload}$ and $\\text{{{payload}}}$")))
        found.append(
            Case(
                f"inject-config-{number}",
                {"content/papers/2024/p.md": good},
                config=f"title: {quoted}\ndescription: {quoted}\nbase_url: https://example.org/\n"
                f"topics:\n  vision: {{name: {quoted}, description: {quoted}}}\n",
            )
        )

    # Unsafe links.
    for label, url in {"js": "javascript:alert(1)", "js-upper": "JAVASCRIPT:alert(1)", "data": "data:text/html,<b>x",
                       "vbscript": "vbscript:msgbox", "spaced": " javascript:alert(1)", "tab": "java\tscript:alert(1)",
                       "relative": "../../etc/passwd", "file": "file:///etc/passwd"}.items():  # fmt: skip
        found.append(one(f"link-front-{label}", paper(front(links=f"{{code: {yaml_string(url)}}}"))))
        found.append(one(f"link-markdown-{label}", paper(body=f"See [here](<{url}>) and <{url}>.")))
        found.append(one(f"image-markdown-{label}", paper(body=f"![pic](<{url}>)")))

    # Raw HTML in Markdown.
    for number, html in enumerate(["<div onclick=alert(1)>x</div>", "<iframe src=//evil></iframe>",
                                   "<style>body{display:none}</style>", "<a href=javascript:alert(1)>x</a>",
                                   "<math><mtext><script>alert(1)</script></mtext></math>"]):  # fmt: skip
        found.append(one(f"raw-html-{number}", paper(body=f"Text {html} more.\n\n{html}")))

    # Sizes.
    many = ", ".join(f"t{n}" for n in range(10_000))
    found.append(one("topics-10000", paper(front(topics=f"[{many}]"))))
    config_topics = "".join(f"  t{n}: Topic {n}\n" for n in range(10_000))
    found.append(
        Case(
            "config-10000-topics",
            {"content/papers/2024/p.md": good},
            config=f"base_url: https://e.org/\ntopics:\n{config_topics}",
        )
    )
    found.append(
        one("authors-5000", paper(front(authors="[" + ", ".join(f"Author {n}" for n in range(5000)) + "]")))
    )

    # A bad sitegen.yaml, key by key.
    bad_values = {
        "title": ["[a]", "{a: b}", "''"],
        "description": ["[a]", "{a: b}"],
        "base_url": ["example.org", "ftp://example.org/", "'https://example.org/a b/'", "javascript:alert(1)", "''", "https://e.org/?q=1"],
        "language": ["'en US'", "[en]", "'<script>'"],
        "topics": ["[a, b]", "{'Bad Slug': x}", "{a: [x]}", "{a: {name: x, colour: red}}", "{a: {any: 5}}"],
        "per_page": ["0", "-1", "'ten'", "100001", "1.5"],
        "timezone": ["Mars/Olympus", "'../../etc/passwd'", "[UTC]"],
        "feed_size": ["0", "'many'"],
        "theme": ["'../../etc'", "missing-theme", "'a/b'"],
    }  # fmt: skip
    for key, values in bad_values.items():
        for number, value in enumerate(values):
            config = (
                f"base_url: https://example.org/\n{key}: {value}\n"
                if key != "base_url"
                else f"{key}: {value}\n"
            )
            found.append(Case(f"config-{key}-{number}", {"content/papers/2024/p.md": good}, config=config))
    for name, config in {
        "unknown-key": "base_url: https://e.org/\nbase_ulr: x\n",
        "not-mapping": "- a\n",
        "empty": "",
        "invalid-yaml": "base_url: [\n",
        "bom": "\ufeffbase_url: https://e.org/\n",
        "duplicate": "base_url: https://e.org/\nbase_url: https://f.org/\n",
    }.items():
        found.append(Case(f"config-{name}", {"content/papers/2024/p.md": good}, config=config))
    return found


CASES = cases()


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 200
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_a_clear_error_or_a_safe_site(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitegen.yaml").write_text(case.config, encoding="utf-8")
    (tmp_path / "outside.md").write_bytes(paper(front(title="Outside the site")))
    for relative, data in case.files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_bytes(data)
    for link, target in case.symlinks.items():
        (site / link).parent.mkdir(parents=True, exist_ok=True)
        (site / link).symlink_to(tmp_path / target)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))

    code = main(["build", str(site)])  # any exception here fails the test: no tracebacks
    stderr = capsys.readouterr().err
    assert code in (0, 1)
    for line in stderr.splitlines():
        if line.startswith(("sitegen:", "…")):
            continue
        assert PROBLEM_LINE.match(line), f"not a path:line: message: {line!r}"
    if code == 1:
        assert "nothing was written" in stderr or stderr.startswith("sitegen:")
        assert not (site / "_site").exists()
    else:
        check_safe_output(site / "_site")
    ours = {"_site", DEFAULT_CACHE}
    after = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if not ours & set(path.parts))
    assert after == before, "nothing may be written outside the output folder and the cache"
    if (site / DEFAULT_CACHE).exists():
        cache_files = {PAPERS_FILE, PAGES_FILE, TERMS_FILE, RELATED_FILE, RELATED_TERMS_FILE}
        assert {path.name for path in (site / DEFAULT_CACHE).iterdir()} <= cache_files


def check_safe_output(out: Path) -> None:
    assert (out / "index.html").is_file()
    for path in out.rglob("*"):
        if path.is_symlink() or not path.is_file():
            assert not path.is_symlink(), path
            continue
        data = path.read_bytes()
        if path.suffix == ".bib":
            # BibTeX, not markup: escaped for LaTeX, so user text cannot unbalance an entry.
            text = re.sub(rb"\\[{}]", b"", data)
            assert text.count(b"{") == text.count(b"}"), path
            continue
        for marker in UNESCAPED:
            assert marker not in data, f"unescaped user text in {path.relative_to(out)}: {marker!r}"
        if path.suffix == ".html":
            document = BeautifulSoup(data, "html.parser")
            for element in document.find_all(True):
                for attribute, value in element.attrs.items():
                    assert not attribute.lower().startswith("on"), (path, element.name, attribute)
                    if attribute in ("href", "src", "action"):
                        assert not UNSAFE_SCHEMES.match(str(value)), (path, value)
