"""Abstracts in Markdown → safe HTML with MathML, plus a plain-text version for metadata.

Raw HTML is off (markdown-it-py's default preset lets it through); links may only be http(s)
or mailto; math between dollars becomes MathML at build time, checked against an
allow-list of MathML elements and attributes because latex2mathml passes ``\\text{<b>}`` through.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import escape
from mdit_py_plugins.dollarmath import dollarmath_plugin

SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
"""Abstracts are shown on many pages at different depths and in feeds, so only absolute links
work everywhere: http(s) and mailto. ``javascript:``, ``data:`` and relative links are refused."""

_MATHML_ELEMENTS = frozenset(
    [
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "msup",
        "msub",
        "msubsup",
        "mfrac",
        "msqrt",
        "mroot",
        "mover",
        "munder",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
        "mfenced",
        "semantics",
        "annotation",
        "mmultiscripts",
        "mprescripts",
        "none",
    ]
)
_MATHML_ATTRIBUTES = frozenset(
    [
        "xmlns",
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "columnlines",
        "rowlines",
        "frame",
        "framespacing",
        "width",
        "height",
        "depth",
        "minsize",
        "maxsize",
        "movablelimits",
        "accent",
        "accentunder",
        "linethickness",
        "displaystyle",
        "scriptlevel",
        "notation",
        "open",
        "close",
        "symmetric",
        "largeop",
        "form",
        "mathsize",
        "mathcolor",
        "mathbackground",
        "align",
        "voffset",
        "encoding",
    ]
)
_SAFE_ATTRIBUTE_VALUE = re.compile(r"^[\w\s.#%,:/+-]*$")


@dataclass(frozen=True, slots=True)
class RenderedText:
    """An abstract after rendering."""

    html: str
    """Safe HTML: every user character escaped, math as MathML."""
    text: str
    """Plain text with whitespace collapsed; math kept as its LaTeX source."""
    words: str
    """Plain text with each formula as the text it displays: what search indexes."""
    rejected_links: tuple[tuple[int, str], ...]
    """``(line, target)`` of links left out because they are not http(s) or mailto; 0-based lines."""
    bad_math: tuple[tuple[int, str], ...]
    """``(line, latex)`` of formulas that could not become MathML and are shown as source."""


@functools.lru_cache(maxsize=65_536)  # abstracts repeat the same small formulas ($\alpha$, $O(n)$)
def math_to_mathml(latex: str, display: bool) -> str | None:
    """MathML for ``latex``, or None when it cannot be converted into safe MathML."""
    try:
        mathml = latex_to_mathml(latex, display="block" if display else "inline")
        root = ET.fromstring(mathml)
    except Exception:  # noqa: BLE001 - latex2mathml raises many unrelated types on bad input
        return None
    if "<!" in mathml or "<?" in mathml:
        return None  # comments and CDATA are invisible to the check below but not to browsers
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag not in _MATHML_ELEMENTS:
            return None
        for name, value in element.attrib.items():
            if name not in _MATHML_ATTRIBUTES or not _SAFE_ATTRIBUTE_VALUE.match(value):
                return None
    # alttext lets screen readers and MathML-less feed readers fall back to the source.
    return mathml.replace("<math ", f'<math alttext="{escape(latex)}" ', 1)


def _math_source(latex: str) -> str:
    return f'<code class="math-source">{escape(latex)}</code>'


class AbstractRenderer:
    """Renders abstract Markdown; one instance is reused for every paper of a build."""

    def __init__(self) -> None:
        md = MarkdownIt("commonmark", {"html": False, "typographer": False})
        md.enable(["strikethrough", "table"])
        dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=False, renderer=self._math)
        # Every link is let through the parser and judged in _check_links, where its line is known.
        md.validateLink = lambda url: True  # type: ignore[method-assign]
        self._md = md

    @staticmethod
    def _math(latex: str, options: dict[str, Any]) -> str:
        mathml = math_to_mathml(latex, bool(options.get("display_mode")))
        return mathml if mathml is not None else _math_source(latex)

    def render(self, source: str) -> RenderedText:
        tokens = self._md.parse(source)
        rejected, bad_math = _check(tokens)
        html = self._md.renderer.render(tokens, self._md.options, {})
        return RenderedText(
            html=html,
            text=_plain_text(tokens, _latex_source),
            words=_plain_text(tokens, math_words),
            rejected_links=tuple(rejected),
            bad_math=tuple(bad_math),
        )


_LINK_ATTRIBUTE = {"link_open": "href", "image": "src"}


def _check(tokens: list[Token]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Find unsafe links (and drop their targets) and formulas that will not convert, with lines."""
    rejected: list[tuple[int, str]] = []
    bad_math: list[tuple[int, str]] = []
    for token in tokens:
        line = token.map[0] if token.map else 0
        if token.type in ("math_block", "math_block_label") and math_to_mathml(token.content, True) is None:
            bad_math.append((line, token.content))
        for child in token.children or ():
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            attribute = _LINK_ATTRIBUTE.get(child.type)
            if attribute:
                target = str(child.attrGet(attribute) or "")
                if not SAFE_URL.match(target):
                    rejected.append((line, target))
                    child.attrs.pop(attribute, None)
            elif child.type == "math_inline" and math_to_mathml(child.content, False) is None:
                bad_math.append((line, child.content))
    return rejected, bad_math


def _plain_text(tokens: list[Token], math: Callable[[str, bool], str]) -> str:
    pieces: list[str] = []
    for token in tokens:
        if token.type in ("math_block", "math_block_label"):
            pieces.append(f" {math(token.content, True)} ")
        for child in token.children or ():
            if child.type in ("text", "code_inline"):
                pieces.append(child.content)
            elif child.type == "math_inline":
                pieces.append(math(child.content, False))
            elif child.type in ("softbreak", "hardbreak"):
                pieces.append(" ")
        if token.type == "inline":
            pieces.append(" ")
    return " ".join("".join(pieces).split())


def _latex_source(latex: str, display: bool) -> str:
    return f"$${latex}$$" if display else f"${latex}$"


@functools.lru_cache(maxsize=65_536)
def math_words(latex: str, display: bool = False) -> str:
    """What a formula shows, as text: ``O(n^2)`` → ``O(n2)``; its source when it cannot be rendered."""
    mathml = math_to_mathml(latex, display)
    if mathml is None:
        return latex
    return "".join(ET.fromstring(mathml).itertext())
