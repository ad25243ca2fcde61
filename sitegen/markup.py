"""Abstracts in Markdown → safe HTML with MathML, plus a plain-text version for metadata.

Raw HTML is off (markdown-it-py's default preset lets it through); links may only be http(s),
mailto or relative; math between dollars becomes MathML at build time, checked against an
allow-list of MathML elements and attributes because latex2mathml passes ``\\text{<b>}`` through.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import escape
from mdit_py_plugins.dollarmath import dollarmath_plugin

SAFE_URL = re.compile(r"^(?:https?:|mailto:|#|/|\.{0,2}/|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
"""http(s), mailto, fragments and relative references; ``javascript:``, ``data:`` and the rest fail."""

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
    rejected_links: tuple[str, ...]
    """Link targets that were not rendered because their scheme is unsafe."""
    bad_math: tuple[str, ...]
    """Formulas that could not be turned into MathML; shown as their source instead."""


@functools.lru_cache(maxsize=65_536)  # abstracts repeat the same small formulas ($\alpha$, $O(n)$)
def math_to_mathml(latex: str, display: bool) -> str | None:
    """MathML for ``latex``, or None when it cannot be converted into safe MathML."""
    try:
        mathml = latex_to_mathml(latex, display="block" if display else "inline")
        root = ET.fromstring(mathml)
    except Exception:  # noqa: BLE001 - latex2mathml raises many unrelated types on bad input
        return None
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag not in _MATHML_ELEMENTS:
            return None
        for name, value in element.attrib.items():
            if name not in _MATHML_ATTRIBUTES or not _SAFE_ATTRIBUTE_VALUE.match(value):
                return None
    # alttext lets screen readers and MathML-less feed readers fall back to the source.
    return mathml.replace("<math ", f'<math alttext="{escape(latex)}" ', 1)


class AbstractRenderer:
    """Renders abstract Markdown; one instance is reused for every paper of a build."""

    def __init__(self) -> None:
        self._rejected: list[str] = []
        self._bad_math: list[str] = []
        md = MarkdownIt("commonmark", {"html": False, "typographer": False})
        md.enable(["strikethrough", "table"])
        dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=False, renderer=self._math)
        md.validateLink = self._validate_link  # type: ignore[method-assign]
        self._md = md

    def _validate_link(self, url: str) -> bool:
        if SAFE_URL.match(url.strip()):
            return True
        self._rejected.append(url)
        return False

    def _math(self, latex: str, options: dict[str, Any]) -> str:
        display = bool(options.get("display_mode"))
        mathml = math_to_mathml(latex, display)
        if mathml is None:
            self._bad_math.append(latex)
            return f'<code class="math-source">{escape(latex)}</code>'
        return mathml

    def render(self, source: str) -> RenderedText:
        self._rejected = []
        self._bad_math = []
        tokens = self._md.parse(source)
        html = self._md.renderer.render(tokens, self._md.options, {})
        return RenderedText(
            html=html,
            text=_plain_text(tokens),
            rejected_links=tuple(self._rejected),
            bad_math=tuple(self._bad_math),
        )


def _plain_text(tokens: list[Token]) -> str:
    pieces: list[str] = []
    for token in tokens:
        if token.type in ("math_block", "math_block_label"):
            pieces.append(f" $${token.content}$$ ")
        for child in token.children or ():
            if child.type in ("text", "code_inline"):
                pieces.append(child.content)
            elif child.type == "math_inline":
                pieces.append(f"${child.content}$")
            elif child.type in ("softbreak", "hardbreak"):
                pieces.append(" ")
        if token.type == "inline":
            pieces.append(" ")
    return " ".join("".join(pieces).split())
