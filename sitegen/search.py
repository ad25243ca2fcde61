"""The search index: papers → terms exactly as lunr.js 2.3.9 makes them → a Lunr index (built with
the ``lunr`` package) and a store of what results display.

The index is built in Python and queried in the browser, so a term must come out of Python's
pipeline exactly as lunr.js would make it, or it silently never matches. lunr.py differs from
lunr.js in three places that matter (its Porter stemmer's step 1c turns ``key`` into ``kei``;
its trimmer and tokenizer use Unicode ``\\W`` and a shorter list of spaces), so the tokenizer,
trimmer and stemmer here follow lunr.js's rules, and ``tests/test_search.py`` compares them
with lunr.js itself, in Node, on a large word list. Only the stop-word filter is lunr.py's.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lunr.builder import Builder
from lunr.stemmer import stemmer as lunr_stemmer_label
from lunr.stop_word_filter import WORDS as STOP_WORDS

from . import urls
from .site import Site
from .views import script_safe_json
from .writer import Output

INDEX_PATH = "search/index.json"
DOCS_PATH = "search/docs.json"
SEARCH_PATHS = (INDEX_PATH, DOCS_PATH)
SNIPPET_CHARACTERS = 600
FIELDS = (("title", 10), ("authors", 2), ("topics", 2), ("abstract", 1))
"""Indexed fields and their boosts."""

# JavaScript's \s, which lunr.js splits on (with the hyphen).
_SEPARATOR = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff-]+")
# JavaScript's \W is ASCII-only: é and ß are not word characters to lunr.js's trimmer.
_LEADING = re.compile(r"^[^A-Za-z0-9_]+")
_TRAILING = re.compile(r"[^A-Za-z0-9_]+$")


def tokenize(text: str) -> list[str]:
    return [token for token in _SEPARATOR.split(text.lower()) if token]


def trim(token: str) -> str:
    return _TRAILING.sub("", _LEADING.sub("", token))


# --- the Porter stemmer, with lunr.js's rules -------------------------------------------------

_C = "[^aeiou][^aeiouy]*"  # consonant sequence
_V = "[aeiouy][aeiou]*"  # vowel sequence
_MGR0 = re.compile(f"^({_C})?{_V}{_C}")  # measure > 0
_MEQ1 = re.compile(f"^({_C})?{_V}{_C}({_V})?$")  # measure = 1
_MGR1 = re.compile(f"^({_C})?{_V}{_C}{_V}{_C}")  # measure > 1
_VOWEL_IN_STEM = re.compile(f"^({_C})?[aeiouy]")
_STEP_1A = re.compile(r"^(.+?)(ss|i)es$")
_STEP_1A_S = re.compile(r"^(.+?)([^s])s$")
_STEP_1B_EED = re.compile(r"^(.+?)eed$")
_STEP_1B = re.compile(r"^(.+?)(ed|ing)$")
_STEP_1B_AT = re.compile(r"(at|bl|iz)$")
_STEP_1B_DOUBLE = re.compile(r"([^aeiouylsz])\1$")
_CVC = re.compile(f"^{_C}[aeiouy][^aeiouwxy]$")
_STEP_1C = re.compile(r"^(.+?[^aeiou])y$")  # lunr.py's "vowel anywhere in the stem" differs here
_STEP_2_SUFFIXES = {
    "ational": "ate", "tional": "tion", "enci": "ence", "anci": "ance", "izer": "ize", "bli": "ble",
    "alli": "al", "entli": "ent", "eli": "e", "ousli": "ous", "ization": "ize", "ation": "ate",
    "ator": "ate", "alism": "al", "iveness": "ive", "fulness": "ful", "ousness": "ous", "aliti": "al",
    "iviti": "ive", "biliti": "ble", "logi": "log",
}  # fmt: skip
_STEP_2 = re.compile(f"^(.+?)({'|'.join(_STEP_2_SUFFIXES)})$")
_STEP_3_SUFFIXES = {
    "icate": "ic",
    "ative": "",
    "alize": "al",
    "iciti": "ic",
    "ical": "ic",
    "ful": "",
    "ness": "",
}
_STEP_3 = re.compile(f"^(.+?)({'|'.join(_STEP_3_SUFFIXES)})$")
_STEP_4 = re.compile(r"^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)$")
_STEP_4_ION = re.compile(r"^(.+?)(s|t)(ion)$")
_STEP_5 = re.compile(r"^(.+?)e$")


def _js_length(word: str) -> int:
    """String length as JavaScript counts it, in UTF-16 code units."""
    return len(word) + sum(1 for char in word if ord(char) > 0xFFFF)


def stem(word: str) -> str:
    """Porter (1980) as lunr.js 2.3.9 applies it."""
    if _js_length(word) < 3:
        return word
    initial_y = word[0] == "y"
    if initial_y:
        word = "Y" + word[1:]  # an initial y is a consonant

    if match := _STEP_1A.match(word) or _STEP_1A_S.match(word):
        word = match.group(1) + match.group(2)

    if match := _STEP_1B_EED.match(word):
        if _MGR0.match(match.group(1)):
            word = word[:-1]
    elif (match := _STEP_1B.match(word)) and _VOWEL_IN_STEM.match(match.group(1)):
        word = match.group(1)
        if _STEP_1B_AT.search(word) or _CVC.match(word):
            word += "e"
        elif _STEP_1B_DOUBLE.search(word):
            word = word[:-1]

    if match := _STEP_1C.match(word):
        word = match.group(1) + "i"

    if (match := _STEP_2.match(word)) and _MGR0.match(match.group(1)):
        word = match.group(1) + _STEP_2_SUFFIXES[match.group(2)]

    if (match := _STEP_3.match(word)) and _MGR0.match(match.group(1)):
        word = match.group(1) + _STEP_3_SUFFIXES[match.group(2)]

    if match := _STEP_4.match(word):
        if _MGR1.match(match.group(1)):
            word = match.group(1)
    elif (match := _STEP_4_ION.match(word)) and _MGR1.match(match.group(1) + match.group(2)):
        word = match.group(1) + match.group(2)

    if match := _STEP_5.match(word):
        base = match.group(1)
        if _MGR1.match(base) or (_MEQ1.match(base) and not _CVC.match(base)):
            word = base

    if word.endswith("ll") and _MGR1.match(word):
        word = word[:-1]

    return "y" + word[1:] if initial_y else word


def terms(text: str) -> list[str]:
    """What lunr.js's default pipeline (trimmer, stop-word filter, stemmer) makes of ``text``."""
    return [term for term in map(token_term, tokenize(text)) if term]


@functools.lru_cache(maxsize=1 << 18)
def token_term(token: str) -> str:
    """One token through the pipeline; empty when it is dropped. Remembered, because an archive
    repeats the same few tens of thousands of words millions of times."""
    trimmed = trim(token)
    return stem(trimmed) if trimmed and trimmed not in STOP_WORDS else ""


# --- building -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One paper as search sees it; ``ref`` is its position, short in the index."""

    ref: str
    url: str
    title: str
    authors: str
    date: str
    topics: tuple[str, ...]
    text: str
    """The abstract, math as the text it displays."""


def search_documents(site: Site) -> list[SearchDocument]:
    names = {topic.slug: topic.name for topic in site.topics}
    return [
        SearchDocument(
            ref=str(number),
            url=urls.paper(paper.id),
            title=paper.title,
            authors=", ".join(author.name for author in paper.authors),
            date=paper.date.isoformat(),
            topics=tuple(names.get(slug, slug) for slug in paper.topics),
            text=paper.abstract_words,
        )
        for number, paper in enumerate(site.papers)
    ]


AddDocument = Callable[[Builder, str, dict[str, list[str]]], None]


def build_index(documents: Sequence[SearchDocument], add: AddDocument | None = None) -> dict[str, object]:
    """A serialised Lunr index that lunr.js 2.3.9 loads with ``lunr.Index.load``. ``add`` puts one
    document's terms into the builder: ``add_terms`` unless a test compares another way."""
    if not documents:  # lunr.py's builder divides by the number of documents
        return {
            "version": "2.3.9",
            "fields": [name for name, _ in FIELDS],
            "fieldVectors": [],
            "invertedIndex": [],
            "pipeline": ["stemmer"],
        }
    builder = Builder()
    builder.ref("ref")
    for name, boost in FIELDS:
        builder.field(name, boost=boost)
    builder.search_pipeline.add(lunr_stemmer_label)  # queries are stemmed in the browser by lunr.js
    for document in documents:
        (add or add_terms)(
            builder,
            document.ref,
            {
                "title": terms(document.title),
                "authors": terms(document.authors),
                "topics": terms(" ".join(document.topics)),
                "abstract": terms(document.text),
            },
        )
    serialised: dict[str, Any] = builder.build().serialize()
    # lunr.js rebuilds its token set from these terms in order and insists on JavaScript's order,
    # UTF-16 code units, which differs from Python's for characters beyond U+FFFF.
    serialised["invertedIndex"].sort(key=lambda entry: entry[0].encode("utf-16-be"))
    return serialised


def add_terms(builder: Builder, ref: str, fields: dict[str, list[str]]) -> None:
    """``builder.add`` for terms that are already through the pipeline: the same entries in the
    same order, without lunr.py wrapping each term in a ``Token`` with a deep-copied metadata
    dict, which was most of the index's build time. lunr 0.8.0 is pinned, and
    ``tests/test_search.py`` checks the result against ``builder.add``'s, byte for byte."""
    builder._documents[ref] = {}
    builder.document_count += 1
    inverted_index = builder.inverted_index
    for field_name in builder._fields:
        field_terms = fields[field_name]
        frequencies = dict(Counter(field_terms))
        field_ref = f"{field_name}/{ref}"  # lunr's FieldRef as a string
        builder.field_term_frequencies[field_ref] = frequencies
        builder.field_lengths[field_ref] = len(field_terms)
        for term in frequencies:
            posting = inverted_index.get(term)
            if posting is None:
                posting = inverted_index[term] = {name: {} for name in builder._fields}
                posting["_index"] = builder.term_index
                builder.term_index += 1
            posting[field_name][ref] = {}


def document_store(documents: Iterable[SearchDocument]) -> list[list[object]]:
    """What a result shows, by ref: url, title, authors, date, topics, the abstract's start."""
    return [
        [d.url, d.title, d.authors, d.date, list(d.topics), d.text[:SNIPPET_CHARACTERS]] for d in documents
    ]


def render_search(site: Site) -> list[Output]:
    documents = search_documents(site)
    index = script_safe_json(build_index(documents), separators=(",", ":"))
    store = script_safe_json(document_store(documents), separators=(",", ":"))
    return [
        Output(INDEX_PATH, index.encode("utf-8"), "the search index"),
        Output(DOCS_PATH, store.encode("utf-8"), "the search documents"),
    ]
