"""Papers → every term's postings with lunr.py's BM25 weights, in numpy arrays, with each paper's
terms remembered by the hash of its text.

Adding one paper changes every weight (they depend on the number of papers and the average field
lengths), so the weights are always computed afresh, as array arithmetic; what is remembered is the
slow part, each paper's terms (tokenising and stemming), in ``TermCache``'s file. The weights are
lunr.py's to the bit: the same IEEE operations in the same order as its ``Builder``, with ``idf``
computed by Python's ``math.log``; ``tests/test_search.py`` compares every one with lunr.py's own.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from lunr.builder import Builder

from .cachefiles import write_atomically

FIELD_COUNT = 4
CACHE_FILE = "search-terms.npz"
PIPELINE_VERSION = b"sitegen-search-terms-1"
"""Part of every paper's key: change it when the pipeline (tokenizer, trimmer, stop words, stemmer)
changes, so that terms made the old way are never reused."""


@dataclass(frozen=True, slots=True)
class TermStore:
    """Which cache file a ``TermCache`` keeps, for texts of how many fields, made how."""

    file_name: str
    version: bytes
    """Part of every key: changed when the tokenizer or the terms change."""
    fields: int


SEARCH_TERMS = TermStore(CACHE_FILE, PIPELINE_VERSION, FIELD_COUNT)

Ints = npt.NDArray[np.signedinteger[Any]]
Record = npt.NDArray[np.int32]
"""One paper's terms: the length of each field, the number of distinct terms in each, then those
terms (as numbers into the cache's vocabulary), then how often each occurs."""


@dataclass(frozen=True, slots=True)
class Postings:
    """Every term's postings, term after term in ``vocabulary`` order, each term's in paper order."""

    vocabulary: list[str]
    """Sorted as JavaScript sorts strings; a term's number is its place here."""
    starts: Ints
    """Term t's postings are rows ``starts[t]`` to ``starts[t + 1]``."""
    papers: Ints
    weights: Ints
    """Per posting and field (in ``FIELDS`` order): lunr's weight times 1000, plus one; 0 where the
    field lacks the term. Lunr rounds weights to 3 decimals, so the integers are exact."""


def js_order(term: str) -> bytes:
    """Sort key giving JavaScript's string order (UTF-16 code units)."""
    return term.encode("utf-16-be")


def sort_terms(terms: list[str]) -> list[str]:
    """``terms`` in JavaScript's order. Python compares code points and JavaScript UTF-16 code
    units, which differ only past U+FFFF, so the cheaper Python order serves when no term goes there."""
    if max("".join(terms), default="\0") <= "\uffff":
        return sorted(terms)
    return sorted(terms, key=js_order)


class TermCache:
    """Each paper's terms per field, keyed by a hash of the texts they come from. Kept in one file
    in the cache folder; a missing, unreadable or foreign file is an empty cache, and the file is
    rewritten (whole, then renamed into place) only when a paper's terms were not in it."""

    def __init__(
        self,
        folder: Path | None,
        tokenize: Callable[[str], list[str]],
        token_term: Callable[[str], str],
        store: TermStore = SEARCH_TERMS,
    ) -> None:
        self._store = store
        self._path = folder / store.file_name if folder is not None else None
        self._tokenize = tokenize
        self._vocabulary: list[str] = []
        self._number: dict[str, int] = {}
        self._cached: dict[bytes, Record] = {}
        self._misses = 0
        if self._path is not None:
            self._load(self._path)
        self._token_numbers = _TokenNumbers(token_term, self._vocabulary, self._number)

    def record(self, texts: Sequence[str]) -> tuple[bytes, Record]:
        key = _key(texts, self._store.version)
        found = self._cached.get(key)
        if found is not None:
            return key, found
        self._misses += 1
        lengths: list[int] = []
        counts: list[int] = []
        ids: list[int] = []
        frequencies: list[int] = []
        for text in texts:
            # Token → term number, a dict lookup per token: each distinct token is trimmed,
            # checked against the stop words and stemmed once per build.
            numbers = list(map(self._token_numbers.__getitem__, self._tokenize(text)))
            occurrences = Counter(numbers)  # in order of first occurrence, as lunr.js meets them
            lengths.append(len(numbers) - occurrences.pop(_DROPPED, 0))
            counts.append(len(occurrences))
            ids += occurrences.keys()
            frequencies += occurrences.values()
        return key, np.array(lengths + counts + ids + frequencies, dtype=np.int32)

    def records(self, field_texts: Iterable[Sequence[str]]) -> list[Record]:
        """Each paper's record (``record``), then the cache saved with exactly these papers."""
        keys, records = [], []
        for texts in field_texts:
            key, record = self.record(texts)
            keys.append(key)
            records.append(record)
        self.save(keys, records)
        return records

    @property
    def vocabulary(self) -> list[str]:
        return self._vocabulary

    def save(self, keys: list[bytes], records: list[Record]) -> None:
        """Keep exactly these papers' records, and the terms they use: those of papers gone are
        dropped."""
        if self._path is None or (not self._misses and set(keys) == self._cached.keys()):
            return
        sizes = np.array([len(record) for record in records], dtype=np.int64)
        joined = np.concatenate(records) if records else np.zeros(0, np.int32)
        fields = self._store.fields
        ids = _term_positions(*_record_starts(sizes, joined, fields), len(joined), fields)
        # The terms still used, renumbered in their order: np.unique's answer, counted rather than
        # sorted (a sort of every term of every paper was most of the time here).
        numbers = joined[ids]
        in_use = np.bincount(numbers, minlength=len(self._vocabulary)) > 0
        used = np.flatnonzero(in_use)
        joined[ids] = (np.cumsum(in_use) - 1)[numbers]
        vocabulary = "\n".join(self._vocabulary[i] for i in used.tolist()).encode("utf-8", "surrogatepass")

        def write(file: BinaryIO) -> None:
            np.savez(
                file,
                vocabulary=np.frombuffer(vocabulary, dtype=np.uint8),
                keys=np.frombuffer(b"".join(keys), dtype=np.uint8),
                sizes=sizes,
                records=joined,
            )

        write_atomically(self._path, write)

    def _load(self, path: Path) -> None:
        """Take the file's records if it is a cache file as ``save`` writes them; anything else
        (missing, cut short, another format, inconsistent) is an empty cache."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                if not isinstance(stored, np.lib.npyio.NpzFile):
                    return
                arrays = {name: stored[name] for name in ("vocabulary", "keys", "sizes", "records")}
            blob = arrays["vocabulary"].tobytes().decode("utf-8", "surrogatepass")
            vocabulary = blob.split("\n") if blob else []
            keys, sizes, records = arrays["keys"].tobytes(), arrays["sizes"], arrays["records"]
            if not _well_formed(arrays, vocabulary, self._store.fields):
                return
        except Exception:  # noqa: BLE001 - whatever is wrong with a cache file, it is only a cache
            return
        starts = (np.cumsum(sizes) - sizes).tolist()
        self._cached = {
            keys[16 * number : 16 * number + 16]: records[start : start + size]
            for number, (start, size) in enumerate(zip(starts, sizes.tolist(), strict=True))
        }
        self._vocabulary = vocabulary
        self._number = {term: number for number, term in enumerate(vocabulary)}


_DROPPED = -1
"""The number of a token the pipeline drops (a stop word, nothing left once trimmed)."""


class _TokenNumbers(dict[str, int]):
    """Token → the number of its term in ``vocabulary``, or ``_DROPPED``; worked out the first time
    it is asked, a new term added to ``vocabulary`` and ``numbers``. (It holds those, not its
    cache: a cycle would keep the cache's arrays until the collector next runs.)"""

    def __init__(
        self, token_term: Callable[[str], str], vocabulary: list[str], numbers: dict[str, int]
    ) -> None:
        super().__init__()
        self._token_term = token_term
        self._vocabulary = vocabulary
        self._numbers = numbers

    def __missing__(self, token: str) -> int:
        term = self._token_term(token)
        if not term:
            number = _DROPPED
        else:
            number = self._numbers.get(term, -1)
            if number < 0:
                number = self._numbers[term] = len(self._vocabulary)
                self._vocabulary.append(term)
        self[token] = number
        return number


def _record_starts(sizes: Ints, records: Record, fields: int) -> tuple[Ints, Ints]:
    """Where each of records laid end to end (``sizes`` long each) starts, and how many distinct
    terms it has."""
    starts = np.cumsum(sizes) - sizes
    distinct = records[starts[:, None] + np.arange(fields, 2 * fields)].sum(axis=1, dtype=np.int64)
    return starts, distinct


def _term_positions(starts: Ints, distinct: Ints, length: int, fields: int) -> npt.NDArray[np.bool_]:
    """Which places of records laid end to end hold term numbers (see ``_record_starts``)."""
    # +1 where each record's term numbers start, -1 where they end.
    marks = np.zeros(length + 1, np.int64)
    np.add.at(marks, starts + 2 * fields, 1)
    np.add.at(marks, starts + 2 * fields + distinct, -1)
    return np.cumsum(marks[:-1]) > 0


def _well_formed(arrays: dict[str, npt.NDArray[Any]], vocabulary: list[str], fields: int) -> bool:
    """Whether a cache file's arrays hold records exactly as ``TermCache.record`` makes them:
    checked, because a wrong number here would silently become a wrong index."""
    expected = {"vocabulary": np.uint8, "keys": np.uint8, "sizes": np.int64, "records": np.int32}
    keys, sizes, records = arrays["keys"], arrays["sizes"], arrays["records"]
    return (
        all(arrays[name].ndim == 1 and arrays[name].dtype == dtype for name, dtype in expected.items())
        and len(keys) == 16 * len(sizes)
        and len(set(vocabulary)) == len(vocabulary)
        and "" not in vocabulary
        and not (sizes < 2 * fields).any()
        and not (sizes > len(records)).any()
        and sum(sizes.tolist()) == len(records)
        and _records_fit(sizes, records, len(vocabulary), fields)
    )


def _records_fit(sizes: Ints, records: Record, vocabulary: int, fields: int) -> bool:
    """Each record's counts add up, its term numbers are in the vocabulary, its terms occur."""
    if not len(sizes):
        return True
    starts, per_record = _record_starts(sizes, records, fields)
    heads = records[starts[:, None] + np.arange(2 * fields)].astype(np.int64)
    distinct = heads[:, fields:]
    if (heads < 0).any() or (sizes != 2 * fields + 2 * per_record).any():
        return False
    ids = _term_positions(starts, per_record, len(records), fields)
    counts = records[np.flatnonzero(ids) + np.repeat(per_record, per_record)].astype(np.int64)
    term_numbers = records[ids]
    if len(counts) and (counts.min() < 1 or term_numbers.min() < 0 or term_numbers.max() >= vocabulary):
        return False
    # Each field's length is the sum of its terms' counts.
    running = np.concatenate([[0], np.cumsum(counts)])
    field_ends = np.cumsum(distinct.ravel())
    return bool(
        (running[field_ends] - running[field_ends - distinct.ravel()] == heads[:, :fields].ravel()).all()
    )


def _key(texts: Sequence[str], version: bytes) -> bytes:
    digest = hashlib.blake2b(version, digest_size=16)
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.digest()


def postings(field_texts: Sequence[Sequence[str]], boosts: Sequence[int], cache: TermCache) -> Postings:
    """The postings of papers given as their fields' texts, with the weights lunr.py's ``Builder``
    gives (BM25 with its k1 and b, the field's boost, rounded to 3 decimals)."""
    return _weigh(cache.records(field_texts), cache.vocabulary, boosts)


def _weigh(records: list[Record], vocabulary: list[str], boosts: Sequence[int]) -> Postings:
    count = len(records)
    if not count:
        return Postings(
            [], np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros((0, FIELD_COUNT), np.int32)
        )
    heads = np.stack([record[: 2 * FIELD_COUNT] for record in records])
    lengths, distinct = heads[:, :FIELD_COUNT].astype(np.int64), heads[:, FIELD_COUNT:].ravel()
    local_ids = np.concatenate([record[2 * FIELD_COUNT :].reshape(2, -1)[0] for record in records])
    # One row per (paper, field, term), papers in order.
    paper = np.repeat(np.arange(count, dtype=np.int32).repeat(FIELD_COUNT), distinct)
    field = np.repeat(np.tile(np.arange(FIELD_COUNT, dtype=np.int8), count), distinct)

    present = np.flatnonzero(np.bincount(local_ids, minlength=len(vocabulary)))
    terms = sort_terms([vocabulary[i] for i in present.tolist()])
    number_of = dict(zip(terms, range(len(terms)), strict=True))
    renumber = np.zeros(len(vocabulary), np.int32)
    renumber[present] = [number_of[vocabulary[i]] for i in present.tolist()]
    term = renumber[local_ids]
    del local_ids

    # lunr.py's arithmetic, operation for operation (a * b and b * a are the same in IEEE 754):
    # idf * ((k1 + 1) * tf) / (k1 * (1 - b + b * (length / average)) + tf) * boost
    document_frequency = np.bincount(term, minlength=len(terms))  # once per field holding the term
    idf = np.array([math.log(1 + abs((count - df + 0.5) / (df + 0.5))) for df in document_frequency.tolist()])
    defaults = Builder()
    k1, b = defaults._k1, defaults._b
    averages = np.array([total / count for total in lengths.sum(axis=0).tolist()])
    base = np.repeat(lengths.ravel(), distinct) / averages[field]
    base *= b
    base += 1 - b
    base *= k1
    tf = np.concatenate([record[2 * FIELD_COUNT :].reshape(2, -1)[1] for record in records]).astype(
        np.float64
    )
    base += tf
    score = tf
    score *= k1 + 1
    score *= idf[term]
    score /= base
    del base
    score *= np.array(boosts, dtype=np.float64)[field]
    thousandths = _thousandths(score)
    del score

    order = stable_order(term)  # by term, then still by paper
    sorted_paper = paper[order]
    sorted_term = term[order]
    del paper, term
    first = np.ones(len(order), dtype=bool)
    first[1:] = (sorted_term[1:] != sorted_term[:-1]) | (sorted_paper[1:] != sorted_paper[:-1])
    row = np.cumsum(first) - 1
    weights = np.zeros((int(row[-1]) + 1 if len(row) else 0, FIELD_COUNT), np.int32)
    weights[row, field[order]] = thousandths[order] + 1
    return Postings(
        vocabulary=terms,
        starts=np.concatenate([[0], np.cumsum(np.bincount(sorted_term[first], minlength=len(terms)))]),
        papers=sorted_paper[first],
        weights=weights,
    )


def ranks(sizes: Ints) -> Ints:
    """0, 1, … size - 1 for each size, one after another."""
    return np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def stable_order(keys: Ints) -> Ints:
    """``np.argsort(keys, kind="stable")`` for non-negative integers, several times faster: numpy
    sorts 16-bit keys by radix, so this sorts by each 16 bits in turn, lowest first."""
    order = np.arange(len(keys))
    largest = int(keys.max(initial=0))
    shift = 0
    while shift == 0 or largest >> shift:
        digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
    return order


def _thousandths(score: npt.NDArray[np.float64]) -> Ints:
    """``round(score, 3) * 1000`` as integers. Python's ``round`` to 3 digits goes through decimal
    digits, so float arithmetic is used except near a tie, where it could round the other way."""
    scaled = score * 1000 + 0.5
    whole = np.floor(scaled)
    near = (scaled - whole < 1e-6) | (whole + 1 - scaled < 1e-6)
    result = whole.astype(np.int32)
    for index in np.flatnonzero(near).tolist():
        result[index] = round(round(float(score[index]), 3) * 1000)
    return result
