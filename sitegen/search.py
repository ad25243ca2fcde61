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
import itertools
import math
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lunr.builder import Builder
from lunr.stemmer import stemmer as lunr_stemmer_label
from lunr.stop_word_filter import WORDS as STOP_WORDS

from . import urls
from .site import Site
from .views import script_safe_json
from .writer import Output

META_PATH = "search/meta.json"
TERMS_PATH = "search/terms.json"
SEARCH_PATHS = (META_PATH, TERMS_PATH)
"""The search index's fixed files; the rest are named by term and document numbers, in folders
under ``search/`` that nothing else writes to."""
SNIPPET_CHARACTERS = 400
FIELDS = (("title", 10), ("authors", 2), ("topics", 2), ("abstract", 1))
"""Indexed fields and their boosts."""


@dataclass(frozen=True, slots=True)
class Layout:
    """How the index is cut into files; see docs/search.md. Each number trades requests for bytes."""

    inline: int = 64
    """A term with at most this many papers keeps its postings in its vocabulary shard."""
    chunk: int = 256
    """Entries in a term's first weight-ordered chunk; each following chunk is twice the last."""
    block: int = 256
    """Entries in a paper-ordered block, read to find one paper's weights for a term."""
    store: int = 4
    """Papers per file of what results display."""
    shard: int = 12_000
    """About how many bytes of vocabulary (with inline postings) make one shard."""


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
    builder = fill_builder(documents, add)
    number_terms(builder)
    serialised: dict[str, Any] = builder.build().serialize()
    serialised["invertedIndex"].sort(key=lambda entry: js_order(entry[0]))
    return serialised


def fill_builder(documents: Sequence[SearchDocument], add: AddDocument | None = None) -> Builder:
    builder = Builder()
    builder.ref("ref")
    for name, boost in FIELDS:
        builder.field(name, boost=boost)
    builder.search_pipeline.add(lunr_stemmer_label)  # queries are stemmed in the browser by lunr.js
    for document in documents:
        (add or add_terms)(
            builder,
            document.ref,
            {name: terms(text) for (name, _), text in zip(FIELDS, _field_texts(document), strict=True)},
        )
    return builder


def js_order(term: str) -> bytes:
    """Sort key giving JavaScript's string order (UTF-16 code units)."""
    return term.encode("utf-16-be")


def number_terms(builder: Builder) -> None:
    """Number each term by its place in JavaScript's order, as ``postings`` does, so that a
    vector's entries come in the same order in the whole index and in any part of it."""
    for number, term in enumerate(sorted(builder.inverted_index, key=js_order)):
        builder.inverted_index[term]["_index"] = number


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


# --- the index as files a browser fetches a few at a time ------------------------------------

Entry = tuple[int, int, int, int, int]
"""One paper's postings for one term: the paper's number, then per field (in ``FIELDS`` order) its
weight times 1000 plus one, or 0 where the field lacks the term. Lunr rounds weights to 3 decimals, so
the integers are exact, and the plus one keeps a weight that rounded to 0 apart from no match."""


@dataclass(frozen=True, slots=True)
class _FieldTerms:
    """One field of one paper: its distinct terms (by first-seen id), their counts, its length."""

    ids: array[int]
    counts: array[int]
    length: int


def postings(documents: Sequence[SearchDocument]) -> tuple[list[str], list[array[int]]]:
    """The sorted vocabulary and, per term (by its place in it), every paper holding the term as
    flat ``Entry`` values in paper order, with the weights lunr.py's ``Builder`` gives (BM25 with
    its k1 and b, the field's boost, rounded to 3 decimals): the same arithmetic in the same order,
    kept in arrays rather than lunr.py's dict per posting, which needed 8 GB at 100,000 papers.
    tests/test_search.py checks every weight against lunr.py's own index."""
    ids: dict[str, int] = {}
    document_frequency: list[int] = []
    papers: list[list[_FieldTerms]] = []
    length_sums = [0] * len(FIELDS)
    for document in documents:
        fields = []
        for position, text in enumerate(_field_texts(document)):
            field_terms = terms(text)
            frequencies = Counter(field_terms)
            term_ids = array("i")
            for term in frequencies:
                term_id = ids.get(term)
                if term_id is None:
                    term_id = ids[term] = len(ids)
                    document_frequency.append(0)
                document_frequency[term_id] += 1
                term_ids.append(term_id)
            fields.append(_FieldTerms(term_ids, array("i", frequencies.values()), len(field_terms)))
            length_sums[position] += len(field_terms)
        papers.append(fields)
    vocabulary = sorted(ids, key=js_order)
    number_of = [0] * len(ids)
    for number, term in enumerate(vocabulary):
        number_of[ids[term]] = number
    count = len(papers)
    lunr_defaults = Builder()
    k1, b = lunr_defaults._k1, lunr_defaults._b
    averages = [total / count for total in length_sums] if count else []
    idfs = [math.log(1 + abs((count - df + 0.5) / (df + 0.5))) for df in document_frequency]
    boosts = [boost for _, boost in FIELDS]
    by_term = [array("i") for _ in vocabulary]
    for paper, fields in enumerate(papers):
        entries: dict[int, list[int]] = {}
        for position, field in enumerate(fields, start=1):
            if not field.length:
                continue  # an empty field, perhaps in every paper: no average to divide by
            base = k1 * (1 - b + b * (field.length / averages[position - 1]))
            boost = boosts[position - 1]
            for term_id, tf in zip(field.ids, field.counts, strict=True):
                score = idfs[term_id] * ((k1 + 1) * tf) / (base + tf)
                score *= boost
                weights = entries.get(term_id)
                if weights is None:
                    weights = entries[term_id] = [paper, 0, 0, 0, 0]
                weights[position] = _thousandths(score) + 1
        for term_id, weights in entries.items():
            by_term[number_of[term_id]].extend(weights)
        papers[paper] = []  # done with: free as we go
    return vocabulary, by_term


def _field_texts(document: SearchDocument) -> tuple[str, str, str, str]:
    """The text of each field, in ``FIELDS`` order."""
    return (document.title, document.authors, " ".join(document.topics), document.text)


def _thousandths(score: float) -> int:
    """``round(score, 3) * 1000`` as an integer: Python's ``round`` to 3 digits is slow (it goes
    through decimal digits), so it is used only near a tie, where float multiplication could
    round the other way."""
    scaled = score * 1000 + 0.5
    whole = int(scaled)  # scores are positive: int() is floor
    if scaled - whole < 1e-6 or whole + 1 - scaled < 1e-6:
        return round(round(score, 3) * 1000)
    return whole


def _key(entry: Entry) -> tuple[int, int]:
    """Strongest first, then in paper order: the order of a term's weight-ordered chunks."""
    return (-(entry[1] + entry[2] + entry[3] + entry[4]), entry[0])


def _flat(entries: Iterable[Entry]) -> list[int]:
    return list(itertools.chain.from_iterable(entries))


def chunk_bounds(count: int, layout: Layout) -> list[tuple[int, int]]:
    """Where a term's weight-ordered chunks start and end: ``chunk``, then doubling."""
    bounds = []
    start, size = 0, layout.chunk
    while start < count:
        bounds.append((start, min(count, start + size)))
        start, size = start + size, size * 2
    return bounds


def chunked_index(documents: Sequence[SearchDocument], layout: Layout = Layout()) -> Iterator[Output]:
    """The search index as many small files; search.js fetches only those a query needs and
    assembles from them a ``lunr.Index`` of just the papers that can rank where the reader looks.

    - ``meta.json``: counts, fields, the layout and the first term of each shard;
    - ``terms.json``: every term, sorted, to expand fuzzy terms and short wildcards;
    - ``s/<k>.json``: shard k of the sorted vocabulary: per term, ``[term, number, papers,
      [papers per field], postings]``, postings inline (weight-ordered) for rare terms, else null;
    - ``w/<number>.<k>.json``: a common term's weight-ordered chunk k; chunk 0 also lists the first
      paper of each of the term's paper-ordered blocks;
    - ``r/<number>.<b>.json``: block b, paper-ordered, paper numbers as gaps;
    - ``d/<k>.json``: what results display for papers k * ``store`` onwards.
    """
    field_names = [name for name, _ in FIELDS]
    vocabulary, flat_postings = postings(documents)
    shards: list[list[list[object]]] = []
    shard_bytes = layout.shard
    for number, (term, flat) in enumerate(zip(vocabulary, flat_postings, strict=True)):
        entries: list[Entry] = list(zip(*[iter(flat)] * 5, strict=True))
        columns = list(zip(*entries, strict=True))[1:]
        per_field = [len(column) - column.count(0) for column in columns]
        ordered = sorted(entries, key=_key)
        inline = _flat(ordered) if len(entries) <= layout.inline else None
        if shard_bytes >= layout.shard:
            shards.append([])
            shard_bytes = 0
        shards[-1].append([term, number, len(entries), per_field, inline])
        shard_bytes += 24 + len(term) + 6 * len(inline or ())
        if inline is not None:
            continue
        bounds = chunk_bounds(len(entries), layout)
        blocks = [entries[start : start + layout.block] for start in range(0, len(entries), layout.block)]
        for k, (start, end) in enumerate(bounds):
            chunk: dict[str, object] = {"e": _flat(ordered[start:end])}
            if k == 0 and len(bounds) > 1:
                chunk["b"] = [block[0][0] for block in blocks]
            yield _json_output(f"search/w/{number}.{k}.json", chunk)
        if len(bounds) > 1:
            for b, block in enumerate(blocks):
                gaps = [
                    (entry[0] - (block[i - 1][0] if i else 0), *entry[1:]) for i, entry in enumerate(block)
                ]
                yield _json_output(f"search/r/{number}.{b}.json", _flat(gaps))
    for number, shard in enumerate(shards):
        yield _json_output(f"search/s/{number}.json", shard)
    for start in range(0, len(documents), layout.store):
        yield _json_output(
            f"search/d/{start // layout.store}.json", document_store(documents[start : start + layout.store])
        )
    yield _json_output(TERMS_PATH, vocabulary)
    meta = {
        "version": 1,
        "papers": len(documents),
        "fields": field_names,
        "inline": layout.inline,
        "chunk": layout.chunk,
        "block": layout.block,
        "store": layout.store,
        "shards": [shard[0][0] for shard in shards],
    }
    yield _json_output(META_PATH, meta)


def _json_output(path: str, data: object) -> Output:
    text = script_safe_json(data, separators=(",", ":"))
    return Output(path, text.encode("utf-8"), "the search index")


def document_store(documents: Iterable[SearchDocument]) -> list[list[object]]:
    """What a result shows: url, title, authors, date, topics, the abstract's start."""
    return [
        [d.url, d.title, d.authors, d.date, list(d.topics), d.text[:SNIPPET_CHARACTERS]] for d in documents
    ]


def render_search(site: Site) -> list[Output]:
    return list(chunked_index(search_documents(site)))
