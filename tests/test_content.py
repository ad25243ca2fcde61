"""Abstract files → Paper records: parsing, validation and the messages users read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sitegen.content import FileProblems, load_papers, parse_paper
from sitegen.markup import AbstractRenderer

from .conftest import paper_text

PATH = Path("content/papers/2024/x.md")


def parse(text: str):
    return parse_paper(text, PATH, AbstractRenderer())


def messages(text: str) -> list[str]:
    with pytest.raises(FileProblems) as caught:
        parse(text)
    return [str(problem) for problem in caught.value.problems]


def test_parses_the_documented_example() -> None:
    text = (
        "---\n"
        "id: 2210.07144\n"
        "title: Reprogramming Pretrained Language Models for Antibody Sequence Infilling\n"
        "authors: [Igor Melnyk, Vijil Chenthamarakshan, {name: Pin-Yu Chen, affiliation: IBM Research}]\n"
        "date: 2023-03-11\n"
        "topics: [protein-design, model-reprogramming]\n"
        "links: {code: https://github.com/IBM/ReprogBERT}\n"
        "---\n"
        "The abstract, with inline math such as $O(n^2)$ or $\\alpha$-divergence.\n"
    )
    paper, problems = parse(text)
    assert problems == []
    assert paper.id == "2210.07144"
    assert paper.date == dt.date(2023, 3, 11)
    assert [a.name for a in paper.authors] == ["Igor Melnyk", "Vijil Chenthamarakshan", "Pin-Yu Chen"]
    assert paper.authors[2].affiliation == "IBM Research"
    assert paper.topics == ("protein-design", "model-reprogramming")
    assert dict(paper.links) == {
        "abs": "https://arxiv.org/abs/2210.07144",
        "pdf": "https://arxiv.org/pdf/2210.07144",
        "code": "https://github.com/IBM/ReprogBERT",
    }
    assert "<math" in paper.abstract_html
    assert paper.abstract_text.endswith("$\\alpha$-divergence.")
    assert paper.body_line == 9


def test_yaml_keeps_what_was_typed() -> None:
    """An unquoted arXiv id must not become a float (2301.10000 → 2301.1), nor 'No' a boolean."""
    paper, _ = parse(paper_text(paper_id="2301.10000", title="No"))
    assert paper.id == "2301.10000"
    assert paper.title == "No"
    quoted, _ = parse(paper_text(date="'2024-02-29'"))
    assert quoted.date == dt.date(2024, 2, 29)


def test_bad_yaml_names_the_line() -> None:
    text = "---\nid: a1\ntitle: [unclosed\ndate: 2024-01-01\n---\nbody\n"
    (message,) = messages(text)
    assert message.startswith(f"{PATH}:4: invalid YAML in front matter:")


def test_bad_date_names_the_line_and_the_format() -> None:
    (message,) = messages(paper_text(date="2024-13-01"))
    assert message == f"{PATH}:5: 'date' must be a date written YYYY-MM-DD, got '2024-13-01'"


def test_missing_title_says_what_to_add() -> None:
    text = "---\nid: a1\nauthors: [A]\ndate: 2024-01-01\n---\nbody\n"
    assert messages(text) == [f"{PATH}:1: 'title' is missing; add a 'title:' line to the front matter"]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = "---\nid: ../evil\ndate: yesterday\nupvotes: -3\nlinks: {code: 'javascript:alert(1)'}\n---\nx\n"
    found = messages(text)
    assert any(":2: id '../evil' is not slug-safe" in m for m in found)
    assert any(":3: 'date' must be a date" in m for m in found)
    assert any(":4: 'upvotes' must be a whole number" in m for m in found)
    assert any(
        ":5: 'links.code' must be an absolute http(s) URL, got 'javascript:alert(1)'" in m for m in found
    )
    assert any("'title' is missing" in m for m in found)


def test_unclosed_front_matter_hints_at_the_fix() -> None:
    (message,) = messages("---\nid: a\ntitle: t\n")
    assert message == (
        f"{PATH}:1: front matter opened with '---' is never closed; did you forget the closing '---'?"
    )


def test_missing_front_matter() -> None:
    (message,) = messages("just text\n")
    assert message.startswith(f"{PATH}:1: must start with a '---' line")


def test_unknown_field_is_a_warning_with_a_suggestion() -> None:
    paper, problems = parse(paper_text(extra="upvote: 3\n"))
    assert [str(p) for p in problems] == [
        f"{PATH}:7: warning: unknown field 'upvote' is ignored (did you mean 'upvotes'?)"
    ]
    assert paper.upvotes is None


def test_unsafe_and_relative_links_in_the_abstract_are_errors_on_their_own_line() -> None:
    body = (
        "Line one.\n"
        "See [this](javascript:alert(1)) and\n"
        "[that](data:text/html,x), <vbscript:x> and [here](../other/).\n"
        "\n"
        "Fine: [a](https://example.org) <mailto:a@b.org>."
    )
    rule = "is not allowed; abstracts may link only to http(s) and mailto addresses"
    assert messages(paper_text(body=body)) == [
        f"{PATH}:9: link 'javascript:alert(1)' {rule}",
        f"{PATH}:10: link 'data:text/html,x' {rule}",
        f"{PATH}:10: link 'vbscript:x' {rule}",
        f"{PATH}:10: link '../other/' {rule}",
    ]


def test_raw_html_in_the_abstract_is_escaped() -> None:
    paper, _ = parse(paper_text(body="<script>alert(1)</script> <img src=x onerror=alert(1)>"))
    assert "<script>" not in paper.abstract_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in paper.abstract_html
    assert "<img" not in paper.abstract_html


def test_math_that_would_smuggle_html_is_shown_as_source() -> None:
    paper, problems = parse(paper_text(body="Look: $\\text{<script>alert(1)</script>}$"))
    assert "<script>" not in paper.abstract_html
    assert '<code class="math-source">' in paper.abstract_html
    assert [p.severity.value for p in problems] == ["warning"]
    assert "could not be rendered" in problems[0].message


def test_math_cannot_hide_markup_in_comments() -> None:
    """latex2mathml copies comments through; XML parsers skip them, browsers end them early."""
    body = (
        "$\\text{<!---><img/src/onerror=alert(1)>-->}$ and $\\text{<![CDATA[<img src=x onerror=alert(1)>]]>}$"
    )
    paper, problems = parse(paper_text(body=body))
    assert "<img" not in paper.abstract_html
    assert "onerror" not in paper.abstract_html.replace("onerror=alert(1)&gt;", "")
    assert len(problems) == 2 and all("could not be rendered" in p.message for p in problems)


def test_topics_must_be_slugs_and_the_message_gives_one() -> None:
    (message,) = messages(paper_text(topics="[Protein Design]"))
    assert "topic 'Protein Design' is not a slug; write 'protein-design'" in message


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    first = tmp_path / "a.md"
    second = tmp_path / "b.md"
    first.write_text(paper_text(paper_id="2401.00001"))
    second.write_text(paper_text(paper_id="2401.00001", title="Other"))
    loaded = load_papers([first, second], shown_root=tmp_path)
    assert [str(p) for p in loaded.problems] == [
        "b.md:2: duplicate id '2401.00001': a.md:2 has the same id; every paper needs its own id"
    ]


def test_ids_differing_only_in_case_collide(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(paper_text(paper_id="abc"))
    (tmp_path / "b.md").write_text(paper_text(paper_id="ABC"))
    loaded = load_papers([tmp_path / "a.md", tmp_path / "b.md"], shown_root=tmp_path)
    assert "differing only in case" in str(loaded.problems[0])


def test_id_defaults_to_the_file_name(tmp_path: Path) -> None:
    text = "---\ntitle: T\ndate: 2024-01-01\nauthors: [A]\n---\nbody\n"
    (tmp_path / "my-paper.md").write_text(text)
    loaded = load_papers([tmp_path / "my-paper.md"], shown_root=tmp_path)
    assert loaded.papers[0].id == "my-paper"
    assert loaded.papers[0].link("abs") is None  # not an arXiv id, so no derived links


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"---\ntitle: caf\xe9\n---\n")
    loaded = load_papers([tmp_path / "bad.md"], shown_root=tmp_path)
    assert str(loaded.problems[0]) == (
        "bad.md:2: is not UTF-8 text (invalid continuation byte at byte 14); save it as UTF-8"
    )


def test_optional_fields_are_typed() -> None:
    extra = (
        "published: 2023-12-01\nupdated: 2024-01-02\nversion: v3\ncategories: [cs.LG, stat.ML]\n"
        "primary_category: cs.LG\ncomment: '12 pages'\njournal_ref: 'J. Test 1 (2024)'\n"
        "doi: https://doi.org/10.1000/xyz123\nlicense: CC-BY-4.0\nupvotes: 7\nstars: 120\n"
        "tldr: It works.\ndraft: true\n"
    )
    paper, problems = parse(paper_text(extra=extra))
    assert problems == []
    assert (paper.published, paper.updated, paper.version) == (dt.date(2023, 12, 1), dt.date(2024, 1, 2), 3)
    assert paper.categories == ("cs.LG", "stat.ML")
    assert paper.doi == "10.1000/xyz123"
    assert (paper.upvotes, paper.stars, paper.tldr, paper.draft) == (7, 120, "It works.", True)


def test_an_empty_field_counts_as_left_out() -> None:
    paper, _ = parse(paper_text(paper_id="", extra="tldr:\n"))
    assert paper.id == "x"  # the file name
    text = "---\nid: a1\ntitle:\nauthors: [A]\ndate: 2024-01-01\n---\nbody\n"
    assert messages(text) == [f"{PATH}:1: 'title' is missing; add a 'title:' line to the front matter"]


def test_a_key_given_twice_is_an_error() -> None:
    (message,) = messages(paper_text(extra="title: Again\n"))
    assert message == f"{PATH}:7: 'title' is given twice (first on line 3); keep one"


def test_lists_written_as_text_are_split() -> None:
    paper, _ = parse(
        paper_text(extra="categories: 'cs.CL, cs.LG'\n").replace(
            "authors: [Ada Lovelace, Alan Turing]", "authors: Ada Lovelace, Alan Turing and Grace Hopper"
        )
    )
    assert paper.categories == ("cs.CL", "cs.LG")
    assert [a.name for a in paper.authors] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]


def test_a_mistyped_author_key_gets_a_suggestion() -> None:
    text = paper_text().replace("[Ada Lovelace, Alan Turing]", "[{name: Ada, afiliation: London}]")
    (message,) = messages(text)
    assert message == (
        f"{PATH}:4: 'authors' author key 'afiliation' is not 'name' or 'affiliation' "
        "(did you mean 'affiliation'?)"
    )


def test_windows_and_old_mac_line_endings_keep_line_numbers() -> None:
    for newline in ("\r\n", "\r"):
        text = paper_text(date="2024-13-01").replace("\n", newline)
        (message,) = messages(text)
        assert message.startswith(f"{PATH}:5: 'date'")


def test_quoted_and_non_ascii_keys_are_located() -> None:
    _, problems = parse(paper_text(extra='"tïtle": x\n'))
    assert str(problems[0]).startswith(f"{PATH}:7: warning: unknown field 'tïtle'")


def test_non_characters_are_refused() -> None:
    (message,) = messages(paper_text(title="'T \uffff x'"))
    assert "contains the control character U+FFFF; delete it" in message


def test_control_characters_written_as_yaml_escapes_are_refused() -> None:
    found = messages(paper_text(title='"A \\0 title"', authors='["Ada \\x07 Lovelace"]'))
    assert f"{PATH}:3: 'title' contains the control character U+0000; delete it" in found
    assert f"{PATH}:4: 'authors' contains the control character U+0007; delete it" in found
