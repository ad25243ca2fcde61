"""Papers → for each paper, the papers most like it, by tf-idf cosine of title and abstract.

Comparing every pair of papers grows with the square of the archive (10^10 pairs at 100,000
papers), so each paper is reduced to its ``SIGNATURE_TERMS`` strongest terms, and candidates are
found through an inverted index of those signatures, whose postings are cut to the
``POSTINGS_LIMIT`` strongest: the score is the cosine restricted to the terms two signatures share.
A near-duplicate shares every strong term, so it comes first; a paper that shares only words
common to half the archive is not related at all.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from operator import mul
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from lunr.stop_word_filter import WORDS as STOP_WORDS

from .cachefiles import code_fingerprint, write_atomically
from .postings import Record, TermCache, TermStore, ranks

if TYPE_CHECKING:
    from .content import Paper

RELATED_LIMIT = 5
SIGNATURE_TERMS = 10
POSTINGS_LIMIT = 32
TITLE_WEIGHT = 2
"""A title word counts as this many abstract words: titles say what a paper is about."""
MIN_SCORE = 0.05
"""Below this, two papers share only a word or two of little weight: not worth a link."""

_WORD = re.compile(r"\w{3,}")
_IGNORED = frozenset(STOP_WORDS) | {"we", "our", "paper", "show", "propose", "using", "based", "approach"}


RELATED_TERMS_FILE = "related-terms.npz"


def related_terms() -> TermStore:
    """Each paper's terms, kept in the cache folder by the hash of its abstract and title, and of
    sitegen's code (the words, stop words and folding are code): counting them was half the work,
    and a new paper changes every weight but no other paper's terms."""
    return TermStore(RELATED_TERMS_FILE, b"sitegen-related-terms-1" + code_fingerprint(), 2)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def term_counts(record: Record, vocabulary: Sequence[str]) -> dict[str, int]:
    """A paper's terms and how often each occurs, from its record of abstract and title (numbers
    into ``vocabulary``, its ``TermCache``'s): in the order they first occur in the abstract, then
    in the title, a title word counting ``TITLE_WEIGHT`` times. Stop words and numbers are left
    out, plurals folded to the singular (``_fold``). The terms are the vocabulary's strings, which
    every paper shares: a dict of strings also takes a third less memory than one of numbers."""
    values = record.tolist()
    in_abstract, in_title = values[2], values[3]
    terms = list(map(vocabulary.__getitem__, values[4 : 4 + in_abstract + in_title]))
    frequencies = values[4 + in_abstract + in_title :]
    counts = dict(zip(terms[:in_abstract], frequencies[:in_abstract], strict=True))
    for term, count in zip(terms[in_abstract:], frequencies[in_abstract:], strict=True):
        counts[term] = counts.get(term, 0) + TITLE_WEIGHT * count
    return counts


def _fold(word: str) -> str:
    if word in _IGNORED or word.isdigit() or "_" in word:
        return ""
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def related_papers(papers: Sequence[Paper], limit: int = RELATED_LIMIT) -> Mapping[str, tuple[Paper, ...]]:
    """Paper id → up to ``limit`` related papers, most related first; equal scores keep the order
    of ``papers``, so every build gives the same lists."""
    return by_id(papers, related_numbers(related_texts(papers), limit))


def related_texts(papers: Sequence[Paper]) -> list[tuple[str, str]]:
    """What ``related_numbers`` reads of each paper: its title and its abstract's words."""
    return [(paper.title, paper.abstract_words) for paper in papers]


def by_id(papers: Sequence[Paper], numbers: Sequence[Sequence[int]]) -> Mapping[str, tuple[Paper, ...]]:
    """Each paper's related papers, given as their numbers in ``papers``."""
    return MappingProxyType(
        {
            paper.id: tuple(papers[other] for other in others)
            for paper, others in zip(papers, numbers, strict=True)
        }
    )


def related_numbers(
    texts: Sequence[tuple[str, str]], limit: int = RELATED_LIMIT, cache_dir: Path | None = None
) -> list[list[int]]:
    """``related_papers`` from each paper's ``related_texts``, as each paper's list of the numbers
    of its related papers: what a second process hands back, and what ``related.json`` keeps.
    ``cache_dir`` keeps each paper's terms for the next build (``related_terms``)."""
    cache = TermCache(cache_dir, _words, _fold, related_terms())
    records = cache.records((words, title) for title, words in texts)
    vocabulary = cache.vocabulary
    del cache  # and with it the records file's arrays, once the records are let go too
    counts = [term_counts(record, vocabulary) for record in records]
    del records
    document_frequency: Counter[str] = Counter()
    for count in counts:
        document_frequency.update(count.keys())
    total = len(texts)
    # A word no other paper has relates nothing, and one every paper has tells nothing apart.
    idf = {term: math.log(total / df) for term, df in document_frequency.items() if 1 < df < total}

    # Papers are numbered 0, -1, -2, … so that the larger number is the earlier in ``papers``:
    # plain tuple comparisons then break ties in the site's order, at C speed.
    signatures: list[list[tuple[float, str]]] = []
    postings: dict[str, list[tuple[float, int]]] = {}
    most = max((max(count.values(), default=0) for count in counts), default=0)
    tf_weight = [0.0] + [1.0 + math.log(tf) for tf in range(1, most + 1)]
    for number, count in enumerate(counts):
        # Maps over C functions rather than a comprehension: this loop sees every term of every
        # paper. The terms keep the text's order, so the norm is summed in the same order on
        # every run and comes out bit for bit the same.
        terms = list(filter(idf.__contains__, count))
        weights = list(
            map(mul, map(tf_weight.__getitem__, map(count.__getitem__, terms)), map(idf.__getitem__, terms))
        )
        norm = math.hypot(*weights) or 1.0
        strongest = sorted(range(len(terms)), key=weights.__getitem__, reverse=True)[:SIGNATURE_TERMS]
        signature = [(weights[index] / norm, terms[index]) for index in strongest]
        signatures.append(signature)
        for weight, term in signature:
            postings.setdefault(term, []).append((weight, -number))
    for term, posting in postings.items():
        if len(posting) > POSTINGS_LIMIT:
            postings[term] = heapq.nlargest(POSTINGS_LIMIT, posting)

    return _best_matches(signatures, postings, limit)


def related_numbers_once(
    texts: Sequence[tuple[str, str]], cache_dir: Path | None = None
) -> list[list[list[int]]]:
    """``related_numbers`` as the one item of a child process's results (``parallel``)."""
    return [related_numbers(texts, cache_dir=cache_dir)]


def _best_matches(
    signatures: list[list[tuple[float, str]]], postings: dict[str, list[tuple[float, int]]], limit: int
) -> list[list[int]]:
    """For each paper, the numbers of the ``limit`` papers scoring highest against it (at least
    ``MIN_SCORE``; ties to the earlier paper). A paper's score against another is the sum, over the
    terms of its signature in signature order, of its weight times the other's in the term's
    postings: added in that order, as floats, so that the scores are the same to the bit on every
    machine. Made with numpy, some thousands of papers at a time: at 100,000 papers the pairs do
    not fit in memory at once, and as Python objects they took 30 s."""
    number_of_term = {term: number for number, term in enumerate(postings)}
    sizes = np.array([len(posting) for posting in postings.values()], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    posted = [entry for posting in postings.values() for entry in posting]
    posted_weight = np.array([weight for weight, _ in posted], dtype=np.float64)
    posted_paper = np.array([-other for _, other in posted], dtype=np.int64)
    lengths = np.array([len(signature) for signature in signatures], dtype=np.int64)
    entry_paper = np.repeat(np.arange(len(signatures), dtype=np.int64), lengths)
    entry_term = np.array(
        [number_of_term[term] for signature in signatures for _, term in signature], dtype=np.int64
    )
    entry_weight = np.array([weight for signature in signatures for weight, _ in signature], dtype=np.float64)
    entry_starts = np.concatenate([[0], np.cumsum(lengths)])

    best: list[list[int]] = [[] for _ in signatures]
    count = len(signatures)
    for first in range(0, count, _PAPERS_AT_ONCE):
        low, high = int(entry_starts[first]), int(entry_starts[min(count, first + _PAPERS_AT_ONCE)])
        terms = entry_term[low:high]
        pairs = sizes[terms]
        # One row per (paper, signature term, paper in that term's postings), in signature order.
        entry = np.repeat(np.arange(low, high), pairs)
        posting = np.repeat(starts[terms], pairs) + ranks(pairs)
        mine, theirs = entry_paper[entry], posted_paper[posting]
        score = entry_weight[entry] * posted_weight[posting]
        keep = mine != theirs
        pair, score = (mine * count + theirs)[keep], score[keep]
        order = np.argsort(pair, kind="stable")  # stable: signature order kept
        pair, score = pair[order], score[order]
        pair_starts, pair_sizes = _runs(pair)
        total = score[pair_starts].copy()
        for term_number in range(1, int(pair_sizes.max(initial=1))):
            more = pair_sizes > term_number
            total[more] += score[pair_starts[more] + term_number]
        mine, theirs = np.divmod(pair[pair_starts], count)
        strong = total >= MIN_SCORE
        mine, theirs, total = mine[strong], theirs[strong], total[strong]
        ranked = np.lexsort((theirs, -total, mine))
        mine, theirs = mine[ranked], theirs[ranked]
        rank = ranks(_runs(mine)[1])
        for paper, other in zip(mine[rank < limit].tolist(), theirs[rank < limit].tolist(), strict=True):
            best[paper].append(other)
    return best


_PAPERS_AT_ONCE = 4096


def _runs(values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For sorted ``values``: where each run of equal values starts, and how long it is."""
    new_run = np.ones(len(values), dtype=bool)
    new_run[1:] = values[1:] != values[:-1]
    run_starts = np.flatnonzero(new_run)
    return run_starts, np.diff(np.append(run_starts, len(values)))


NumbersFinder = Callable[[Sequence[tuple[str, str]]], list[list[int]]]
RELATED_FILE = "related.json"
RELATED_FORMAT = "sitegen-related-1"


class RememberedRelated:
    """``related_papers``, remembered in the cache folder for the papers it was last asked about:
    a build whose papers' ids, titles and texts are all as before (a template, the configuration
    or a date changed) takes the lists from ``related.json`` instead of computing them again. Any
    change to any of them computes everything: one paper's words change every other's weights."""

    def __init__(self, folder: Path, compute: NumbersFinder = related_numbers) -> None:
        """``compute`` is ``related_numbers``, or the same run elsewhere (another process)."""
        self._path = folder / RELATED_FILE
        self._compute = compute

    def __call__(self, papers: Sequence[Paper]) -> Mapping[str, tuple[Paper, ...]]:
        lists = self.lookup(papers)
        if lists is None:
            lists = self._compute(related_texts(papers))
            self.remember(papers, lists)
        return by_id(papers, lists)

    def lookup(self, papers: Sequence[Paper]) -> list[list[int]] | None:
        """The related papers' numbers (``related_numbers``) kept for these very papers, if any."""
        return self._load(_related_key(papers), len(papers))

    def remember(self, papers: Sequence[Paper], lists: list[list[int]]) -> None:
        data = {"format": RELATED_FORMAT, "key": _related_key(papers), "related": lists}
        encoded = json.dumps(data, separators=(",", ":")).encode()
        write_atomically(self._path, lambda file: file.write(encoded))

    def _load(self, key: str, count: int) -> list[list[int]] | None:
        try:
            data = json.loads(self._path.read_bytes())
            if data["format"] != RELATED_FORMAT or data["key"] != key:
                return None
            lists: list[list[int]] = data["related"]
            if len(lists) != count or not all(
                type(other) is int and 0 <= other < count for others in lists for other in others
            ):
                return None
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            return None
        return lists


def _related_key(papers: Sequence[Paper]) -> str:
    """Everything ``related_papers`` reads: each paper's id, title and text, in order."""
    digest = hashlib.sha256(code_fingerprint())
    for paper in papers:
        digest.update(f"{paper.id}\0{paper.title}\0{paper.abstract_words}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
