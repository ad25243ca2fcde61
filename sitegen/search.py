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
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from lunr.builder import Builder
from lunr.stemmer import stemmer as lunr_stemmer_label
from lunr.stop_word_filter import WORDS as STOP_WORDS

from . import urls
from .parallel import in_background
from .postings import Ints, Postings, TermCache, postings, ranks, sort_terms, stable_order
from .views import script_safe_json
from .writer import Output

if TYPE_CHECKING:
    from .site import Site

META_PATH = "search/meta.json"
TERMS_PATH = "search/terms.json"
SEARCH_PATHS = (META_PATH, TERMS_PATH)
"""The search index's fixed files; the rest are named by term and document numbers, in folders
under ``search/`` that nothing else writes to."""
SNIPPET_CHARACTERS = 400
FORK_AT_POSTINGS = 200_000
"""Below this many postings, starting a second process costs more than it saves."""
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


def _field_texts(document: SearchDocument) -> tuple[str, str, str, str]:
    """The text of each field, in ``FIELDS`` order."""
    return (document.title, document.authors, " ".join(document.topics), document.text)


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
    serialised["invertedIndex"].sort(key=lambda entry: entry[1]["_index"])  # numbered in JS order
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


def number_terms(builder: Builder) -> None:
    """Number each term by its place in JavaScript's order, as ``postings`` does, so that a
    vector's entries come in the same order in the whole index and in any part of it."""
    for number, term in enumerate(sort_terms(list(builder.inverted_index))):
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


def document_postings(documents: Sequence[SearchDocument], cache: TermCache | None = None) -> Postings:
    """Every term's postings in ``documents``, each paper's terms taken from ``cache`` where it has
    them (see ``sitegen.postings``)."""
    texts = [_field_texts(document) for document in documents]
    return postings(texts, [boost for _, boost in FIELDS], cache or TermCache(None, tokenize, token_term))


def chunk_bounds(count: int, layout: Layout) -> list[tuple[int, int]]:
    """Where a term's weight-ordered chunks start and end: ``chunk``, then doubling."""
    bounds = []
    start, size = 0, layout.chunk
    while start < count:
        bounds.append((start, min(count, start + size)))
        start, size = start + size, size * 2
    return bounds


def chunked_index(
    documents: Sequence[SearchDocument],
    layout: Layout = Layout(),
    cache_dir: Path | None = None,
    fork: bool = True,
) -> Iterator[Output]:
    """The search index as many small files; search.js fetches only those a query needs and
    assembles from them a ``lunr.Index`` of just the papers that can rank where the reader looks.
    ``cache_dir`` keeps each paper's terms, by the hash of its text, for the next build; ``fork``
    allows a second process to make part of the files (the same bytes either way).

    A posting is written as ``[paper, weight per field...]`` (see ``Postings.weights``):

    - ``meta.json``: counts, fields, the layout and the first term of each shard;
    - ``terms.json``: every term, sorted, to expand fuzzy terms and short wildcards;
    - ``s/<k>.json``: shard k of the sorted vocabulary: per term, ``[term, number, papers,
      [papers per field], postings]``, postings inline (weight-ordered) for rare terms, else null;
    - ``w/<number>.<k>.json``: a common term's weight-ordered chunk k; chunk 0 also lists the first
      paper of each of the term's paper-ordered blocks;
    - ``r/<number>.<b>.json``: block b, paper-ordered, paper numbers as gaps;
    - ``d/<k>.json``: what results display for ``store`` papers, oldest first: paper ``p``'s record
      is at ``(papers - 1 - p) % store`` in file ``(papers - 1 - p) // store``.
    """
    found = document_postings(documents, TermCache(cache_dir, tokenize, token_term))
    vocabulary, starts, papers, weights = found.vocabulary, found.starts, found.papers, found.weights
    del found  # its weights are let go as soon as both orders of them are made
    sizes = np.diff(starts)
    term_of_row = np.repeat(np.arange(len(vocabulary), dtype=np.int64), sizes)
    per_field = np.stack(
        [np.bincount(term_of_row[column != 0], minlength=len(vocabulary)) for column in weights.T], axis=1
    )
    # Strongest first, then in paper order (a stable sort keeps it): a term's weight-ordered chunks.
    total = weights.sum(axis=1, dtype=np.int64)
    most = int(total.max(initial=0))
    strongest = stable_order(term_of_row * (most + 1) + (most - total))
    del term_of_row, total
    by_weight = np.column_stack([papers[strongest], weights[strongest]])
    del strongest
    by_paper = np.column_stack([_block_gaps(papers, starts, layout), weights])
    del weights
    number_text = _NumberText(max(int(by_weight.max(initial=0)), len(vocabulary), int(sizes.max(initial=0))))

    def common_files(numbers: list[int]) -> Iterator[Output]:
        # A batch at a time, never all: they are most of the index.
        for batch in _batches(numbers, sizes, rows=1 << 18):
            yield from _common_terms(batch, starts, by_weight, by_paper, papers, layout, number_text)

    # The common terms' files are most of the work; with many, the other core makes most of them
    # while this one makes the rest of the index.
    common = np.flatnonzero(sizes > layout.inline)
    split = int(np.searchsorted(np.cumsum(sizes[common]), 0.4 * sizes[common].sum()))
    mine, theirs = common[:split].tolist(), common[split:].tolist()
    with in_background(common_files, theirs, fork=fork and len(by_weight) >= FORK_AT_POSTINGS) as other:
        shards = _vocabulary_shards(vocabulary, starts, per_field, by_weight, layout, number_text)
        for number, (_, shard) in enumerate(shards):
            yield Output(f"search/s/{number}.json", shard, SOURCE)
        yield from common_files(mine)
        # Display records are filed oldest first, so that a new day's papers leave the files of
        # older ones as they were (and unwritten).
        oldest_first = documents[::-1]
        for start in range(0, len(documents), layout.store):
            yield _json_output(
                f"search/d/{start // layout.store}.json",
                document_store(oldest_first[start : start + layout.store]),
            )
        yield from other.result()
    yield _json_output(TERMS_PATH, vocabulary)
    meta = {
        "version": 1,
        "papers": len(documents),
        "fields": [name for name, _ in FIELDS],
        "inline": layout.inline,
        "chunk": layout.chunk,
        "block": layout.block,
        "store": layout.store,
        "shards": [first for first, _ in shards],
    }
    yield _json_output(META_PATH, meta)


def _vocabulary_shards(
    vocabulary: list[str],
    starts: Ints,
    per_field: Ints,
    by_weight: Ints,
    layout: Layout,
    number_text: _NumberText,
) -> list[tuple[str, bytes]]:
    """The vocabulary cut into shards of about ``layout.shard`` bytes: each shard's first term and
    its JSON, ``[[term, number, papers, [papers per field], postings or null], ...]``."""
    sizes = np.diff(starts)
    rare = sizes <= layout.inline
    rare_sizes = sizes[rare]
    rare_text, rare_at = number_text.rows(
        by_weight[np.repeat(starts[:-1][rare], rare_sizes) + ranks(rare_sizes)]
    )
    rare_first = np.concatenate([[0], np.cumsum(rare_sizes)]).tolist()
    counts_text, counts_at = number_text.rows(np.column_stack([np.arange(len(vocabulary)), sizes]))
    fields_text, fields_at = number_text.rows(per_field)
    shards: list[tuple[str, list[bytes]]] = []
    shard_bytes = layout.shard
    rare_number = 0
    for number, (term, is_rare, size) in enumerate(
        zip(vocabulary, rare.tolist(), sizes.tolist(), strict=True)
    ):
        if is_rare:
            low, high = rare_first[rare_number], rare_first[rare_number + 1]
            inline = b"[" + rare_text[rare_at[low] : rare_at[high] - 1] + b"]"
            rare_number += 1
        else:
            inline = b"null"
        if shard_bytes >= layout.shard:
            shards.append((term, []))
            shard_bytes = 0
        shards[-1][1].append(
            b"[%b,%b[%b],%b]"
            % (
                _script_safe_string(term),
                counts_text[counts_at[number] : counts_at[number + 1]],
                fields_text[fields_at[number] : fields_at[number + 1] - 1],
                inline,
            )
        )
        shard_bytes += 24 + len(term) + (30 * size if is_rare else 0)
    return [(first, b"[" + b",".join(entries) + b"]") for first, entries in shards]


def _script_safe_string(text: str) -> bytes:
    """``text`` as a JSON string, as ``script_safe_json`` writes it."""
    quoted: str = encode_basestring(text)
    return quoted.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _common_terms(
    numbers: list[int],
    starts: Ints,
    by_weight: Ints,
    by_paper: Ints,
    papers: Ints,
    layout: Layout,
    number_text: _NumberText,
) -> Iterator[Output]:
    """The chunk and block files of some common terms, their numbers written as text all at once."""
    first, last = int(starts[numbers[0]]), int(starts[numbers[-1] + 1])
    weight_text, weight_at = number_text.rows(by_weight[first:last])
    paper_text, paper_at = number_text.rows(by_paper[first:last])
    for number in numbers:
        start, end = int(starts[number]) - first, int(starts[number + 1]) - first
        bounds = chunk_bounds(end - start, layout)
        for k, (low, high) in enumerate(bounds):
            entries = weight_text[weight_at[start + low] : weight_at[start + high] - 1]
            blocks = b""
            if k == 0 and len(bounds) > 1:
                block_starts = papers[first + start : first + end : layout.block].tolist()
                blocks = b',"b":' + json.dumps(block_starts, separators=(",", ":")).encode()
            yield Output(f"search/w/{number}.{k}.json", b'{"e":[' + entries + b"]" + blocks + b"}", SOURCE)
        if len(bounds) > 1:
            for b, low in enumerate(range(start, end, layout.block)):
                high = min(end, low + layout.block)
                entries = paper_text[paper_at[low] : paper_at[high] - 1]
                yield Output(f"search/r/{number}.{b}.json", b"[" + entries + b"]", SOURCE)


def _batches(numbers: list[int], sizes: Ints, rows: int) -> Iterator[list[int]]:
    """Consecutive terms in runs of about ``rows`` postings, to keep their text small."""
    batch: list[int] = []
    held = 0
    for number in numbers:
        batch.append(number)
        held += int(sizes[number])
        if held >= rows:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _block_gaps(papers: Ints, starts: Ints, layout: Layout) -> Ints:
    """Each paper number less the one before it in its paper-ordered block; a block's first as is."""
    gaps = papers.copy()
    gaps[1:] -= papers[:-1]
    block_start = ranks(np.diff(starts)) % layout.block == 0
    gaps[block_start] = papers[block_start]
    return gaps


class _NumberText:
    """Non-negative integers up to ``largest`` as JSON list items, ``"1,20,3,"``, made with numpy
    from a table of each number's text: the index holds millions of them, too many to format one
    at a time. Each table entry is zero-padded to 8 bytes (16 past 7 digits), the zeros dropped."""

    def __init__(self, largest: int) -> None:
        width = 8 if largest < 10**7 else 16
        self._table = np.array([f"{number},".encode() for number in range(largest + 1)], dtype=f"S{width}")
        if width == 8:
            self._table = self._table.view(np.uint64)  # gathers far faster than 8-byte strings
        self._lengths = (self._table.view(np.uint8).reshape(largest + 1, width) != 0).sum(axis=1)

    def rows(self, rows: Ints) -> tuple[bytes, list[int]]:
        """The rows' numbers, one row after another, and where each row's text starts (with one
        more, the end)."""
        characters = self._table[rows].view(np.uint8)
        text = characters[characters != 0].tobytes()
        row_starts = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(self._lengths[rows].sum(axis=1), out=row_starts[1:])
        return text, row_starts.tolist()


SOURCE = "the search index"


def _json_output(path: str, data: object) -> Output:
    text = script_safe_json(data, separators=(",", ":"))
    return Output(path, text.encode("utf-8"), SOURCE)


def document_store(documents: Iterable[SearchDocument]) -> list[list[object]]:
    """What a result shows: url, title, authors, date, topics, the abstract's start."""
    return [
        [d.url, d.title, d.authors, d.date, list(d.topics), d.text[:SNIPPET_CHARACTERS]] for d in documents
    ]


def render_search(site: Site, cache_dir: Path | None = None, fork: bool = True) -> Iterator[Output]:
    return chunked_index(search_documents(site), cache_dir=cache_dir, fork=fork)
