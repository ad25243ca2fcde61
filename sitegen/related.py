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
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from lunr.stop_word_filter import WORDS as STOP_WORDS

from .cachefiles import code_fingerprint, write_atomically
from .postings import Ints, Record, TermCache, TermStore, ranks, stable_order

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
    """Each paper's terms, kept in the cache folder by the hash of its text (``_counted_text``)
    and of sitegen's code (the words, stop words and folding are code): counting them was most of
    the work, and a new paper changes every weight but no other paper's terms."""
    return TermStore(RELATED_TERMS_FILE, b"sitegen-related-terms-2" + code_fingerprint(), 1)


def _counted_text(title: str, words: str) -> str:
    """The abstract's words, then the title ``TITLE_WEIGHT`` times: counted as one text, each
    title word counts that many times over, and the terms come in the order they first occur in
    the abstract, then in the title. (``_words`` never joins words across a line break.)"""
    return "\n".join([words] + [title] * TITLE_WEIGHT)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


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
    records = cache.records((_counted_text(title, words),) for title, words in texts)
    del cache  # and with it the records file's arrays, once the records are let go too
    terms = _PaperTerms.of(records)
    del records
    return _best_matches(*_signatures(terms), terms.papers, limit)


@dataclass(frozen=True, slots=True)
class _PaperTerms:
    """Every paper's terms and how often each occurs (a title word counting ``TITLE_WEIGHT``
    times): one row per paper and term, papers in order, each paper's terms in the order they
    first occur in its abstract, then in its title. Stop words and numbers are left out, plurals
    folded to the singular (``_fold``)."""

    papers: int
    paper: Ints
    term: Ints
    """Numbers into the term cache's vocabulary."""
    count: Ints

    @classmethod
    def of(cls, records: Sequence[Record]) -> _PaperTerms:
        """From ``related_terms`` records: the text's length, its number of distinct terms, the
        terms, how often each occurs."""
        if not records:
            empty = np.zeros(0, np.int32)
            return cls(0, empty, empty, empty)
        sizes = np.array([len(record) for record in records], dtype=np.int64)
        joined = np.concatenate(records)
        starts = np.cumsum(sizes) - sizes
        distinct = joined[starts + 1].astype(np.int64)
        first_term = np.repeat(starts + 2, distinct) + ranks(distinct)
        paper = np.repeat(np.arange(len(records), dtype=np.int32), distinct)
        return cls(
            len(records), paper, joined[first_term], joined[first_term + np.repeat(distinct, distinct)]
        )


def _signatures(terms: _PaperTerms) -> tuple[_Signatures, _Signatures]:
    """Each paper's signature: its ``SIGNATURE_TERMS`` strongest terms by tf-idf, strongest first
    (ties in the order of its terms), each weight divided by the norm of the paper's whole vector;
    and each term's postings, the ``POSTINGS_LIMIT`` strongest entries of signatures with it (ties
    to the earlier paper). Every weight is the product of the same two floats as a loop over the
    terms would make, and the norm is ``math.hypot`` of them in the paper's order: the same to the
    bit on every run and machine."""
    total = terms.papers
    document_frequency = np.bincount(terms.term)
    # A word no other paper has relates nothing, and one every paper has tells nothing apart.
    frequencies = np.unique(document_frequency[(document_frequency > 1) & (document_frequency < total)])
    idf_of_frequency = np.zeros(total + 1, dtype=np.float64)
    idf_of_frequency[frequencies] = [math.log(total / df) for df in frequencies.tolist()]
    weighed = idf_of_frequency[document_frequency[terms.term]] > 0
    paper, term, count = terms.paper[weighed], terms.term[weighed], terms.count[weighed]
    most = int(count.max(initial=0))
    tf_weight = np.array([0.0] + [1.0 + math.log(tf) for tf in range(1, most + 1)], dtype=np.float64)
    weight = tf_weight[count] * idf_of_frequency[document_frequency[term]]

    per_paper = np.bincount(paper, minlength=total)
    norms = _norms(weight, per_paper)
    kept = np.flatnonzero(_may_be_strongest(weight, paper, per_paper))
    paper, term, weight = paper[kept], term[kept], weight[kept]
    # By weight, strongest first (stable: ties keep the paper's order), then by paper: a row's
    # rank within its paper is then its place among its paper's rows.
    strongest = np.argsort(-weight, kind="stable")
    strongest = strongest[stable_order(paper[strongest])]
    chosen = strongest[ranks(np.bincount(paper, minlength=total)) < SIGNATURE_TERMS]
    signatures = _Signatures(paper[chosen], term[chosen], weight[chosen] / norms[paper[chosen]])

    by_term = np.lexsort((signatures.paper, -signatures.weight, signatures.term))
    posted = by_term[ranks(np.bincount(signatures.term[by_term])) < POSTINGS_LIMIT]
    postings = _Signatures(signatures.paper[posted], signatures.term[posted], signatures.weight[posted])
    return signatures, postings


def _norms(weight: npt.NDArray[np.float64], per_paper: Ints) -> npt.NDArray[np.float64]:
    """Each paper's norm: ``math.hypot`` of its weights (1 for none), a few thousand papers' at
    a time, as Python floats are three times the size of numpy's."""
    norms: list[float] = []
    ends = np.cumsum(per_paper)
    for first in range(0, len(per_paper), _PAPERS_AT_ONCE):
        sizes = per_paper[first : first + _PAPERS_AT_ONCE].tolist()
        offset = int(ends[first] - per_paper[first])
        listed = weight[offset : int(ends[first + len(sizes) - 1])].tolist()
        at = 0
        for size in sizes:
            norms.append(math.hypot(*listed[at : at + size]) or 1.0)
            at += size
    return np.array(norms, dtype=np.float64)


def _may_be_strongest(weight: npt.NDArray[np.float64], paper: Ints, per_paper: Ints) -> npt.NDArray[np.bool_]:
    """Which rows may be among their paper's ``SIGNATURE_TERMS`` strongest: cut into that many
    runs, a paper has that many rows at least as strong as the weakest run's strongest, so a
    weaker row is not. Only these are sorted: a fifth of the rows on the benchmark corpus."""
    runs = SIGNATURE_TERMS
    cut = np.flatnonzero(per_paper > runs)
    bound = np.zeros(len(per_paper), dtype=np.float64)  # every weight is above 0
    if len(cut):
        sizes = per_paper[cut]
        firsts = np.cumsum(per_paper)[cut] - sizes
        # Each paper's run starts, then its end, so that its last run stops there (one row more
        # at the end makes the last paper's end a valid place).
        marks = firsts[:, None] + (np.arange(runs + 1) * sizes[:, None]) // runs
        strongest = np.maximum.reduceat(np.append(weight, 0.0), marks.ravel()).reshape(-1, runs + 1)
        bound[cut] = strongest[:, :runs].min(axis=1)
    return weight >= bound[paper]


@dataclass(frozen=True, slots=True)
class _Signatures:
    """Entries of signatures (or of postings, cut from them): whose, which term, what weight."""

    paper: Ints
    term: Ints
    weight: npt.NDArray[np.float64]


def related_numbers_once(
    texts: Sequence[tuple[str, str]], cache_dir: Path | None = None
) -> list[list[list[int]]]:
    """``related_numbers`` as the one item of a child process's results (``parallel``)."""
    return [related_numbers(texts, cache_dir=cache_dir)]


def _best_matches(signatures: _Signatures, postings: _Signatures, count: int, limit: int) -> list[list[int]]:
    """For each of ``count`` papers, the numbers of the ``limit`` papers scoring highest against it
    (at least ``MIN_SCORE``; ties to the earlier paper). A paper's score against another is the
    sum, over the terms of its signature in signature order, of its weight times the other's in
    the term's postings (grouped by term): added in that order, as floats, so that the scores are
    the same to the bit on every machine. Some thousands of papers at a time: at 100,000 papers
    the pairs do not fit in memory at once."""
    # 64 bits: a pair's number (``mine * count + theirs``) passes 2**31 at 46,341 papers.
    entry_paper, posted_paper = signatures.paper.astype(np.int64), postings.paper.astype(np.int64)
    sizes = np.bincount(postings.term, minlength=int(signatures.term.max(initial=-1)) + 1)
    starts = np.cumsum(sizes) - sizes
    entry_starts = np.searchsorted(signatures.paper, np.arange(count + 1))

    best: list[list[int]] = [[] for _ in range(count)]
    for first in range(0, count, _PAPERS_AT_ONCE):
        low, high = int(entry_starts[first]), int(entry_starts[min(count, first + _PAPERS_AT_ONCE)])
        terms = signatures.term[low:high]
        pairs = sizes[terms]
        # One row per (paper, signature term, paper in that term's postings), in signature order.
        entry = np.repeat(np.arange(low, high), pairs)
        posting = np.repeat(starts[terms], pairs) + ranks(pairs)
        mine, theirs = entry_paper[entry], posted_paper[posting]
        score = signatures.weight[entry] * postings.weight[posting]
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
        self._keyed: tuple[Sequence[Paper], str] | None = None

    def __call__(self, papers: Sequence[Paper]) -> Mapping[str, tuple[Paper, ...]]:
        lists = self.lookup(papers)
        if lists is None:
            lists = self._compute(related_texts(papers))
            self.remember(papers, lists)
        return by_id(papers, lists)

    def lookup(self, papers: Sequence[Paper]) -> list[list[int]] | None:
        """The related papers' numbers (``related_numbers``) kept for these very papers, if any."""
        return self._load(self._key(papers), len(papers))

    def remember(self, papers: Sequence[Paper], lists: list[list[int]]) -> None:
        data = {"format": RELATED_FORMAT, "key": self._key(papers), "related": lists}
        encoded = json.dumps(data, separators=(",", ":")).encode()
        write_atomically(self._path, lambda file: file.write(encoded))

    def _key(self, papers: Sequence[Paper]) -> str:
        """``_related_key``, worked out once for the papers that ``lookup`` and then ``remember``
        are given (every paper's text: 0.3 s at 100,000 papers)."""
        if self._keyed is None or self._keyed[0] is not papers or not isinstance(papers, tuple):
            self._keyed = (papers, _related_key(papers))
        return self._keyed[1]

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
