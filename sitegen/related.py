"""Papers → for each paper, the papers most like it, by tf-idf cosine of title and abstract.

Comparing every pair of papers grows with the square of the archive (10^10 pairs at 100,000
papers), so each paper is reduced to its ``SIGNATURE_TERMS`` strongest terms, and candidates are
found through an inverted index of those signatures, whose postings are cut to the
``POSTINGS_LIMIT`` strongest: the score is the cosine restricted to the terms two signatures share.
A near-duplicate shares every strong term, so it comes first; a paper that shares only words
common to half the archive is not related at all.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType

from lunr.stop_word_filter import WORDS as STOP_WORDS

from .content import Paper

RELATED_LIMIT = 5
SIGNATURE_TERMS = 12
POSTINGS_LIMIT = 32
TITLE_WEIGHT = 2
"""A title word counts as this many abstract words: titles say what a paper is about."""
MIN_SCORE = 0.05
"""Below this, two papers share only a word or two of little weight: not worth a link."""

_WORD = re.compile(r"\w{3,}")
_IGNORED = frozenset(STOP_WORDS) | {"we", "our", "paper", "show", "propose", "using", "based", "approach"}


def term_counts(title: str, abstract: str) -> dict[str, int]:
    """Words folded to lower case, plurals to the singular, stop words and numbers left out; a
    title word counts ``TITLE_WEIGHT`` times."""
    words = Counter(_WORD.findall(abstract.casefold()))
    for word in _WORD.findall(title.casefold()):
        words[word] += TITLE_WEIGHT
    counts: dict[str, int] = {}
    for word, count in words.items():
        term = _FOLDED.get(word)
        if term is None:
            term = _FOLDED[word] = _fold(word)
        if term:
            counts[term] = counts.get(term, 0) + count
    return counts


_FOLDED: dict[str, str] = {}
"""Word → term, shared by every paper: an archive has far fewer distinct words than words."""


def _fold(word: str) -> str:
    if word in _IGNORED or word.isdigit() or "_" in word:
        return ""
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def related_papers(papers: Sequence[Paper], limit: int = RELATED_LIMIT) -> Mapping[str, tuple[Paper, ...]]:
    """Paper id → up to ``limit`` related papers, most related first (ties by id)."""
    counts = [term_counts(paper.title, paper.abstract_words) for paper in papers]
    document_frequency: Counter[str] = Counter()
    for count in counts:
        document_frequency.update(count.keys())
    total = len(papers)
    # A word no other paper has relates nothing: it gets no weight.
    idf = {term: math.log(total / df) for term, df in document_frequency.items() if df > 1}

    signatures: list[list[tuple[str, float]]] = []
    postings: dict[str, list[tuple[float, int]]] = {}
    for number, count in enumerate(counts):
        weights = {
            term: (1.0 + math.log(frequency)) * idf[term] for term, frequency in count.items() if term in idf
        }
        norm = math.sqrt(sum(weight * weight for weight in weights.values())) or 1.0
        strongest = heapq.nlargest(SIGNATURE_TERMS, weights.items(), key=lambda item: (item[1], item[0]))
        signature = [(term, weight / norm) for term, weight in strongest if weight > 0]
        signatures.append(signature)
        for term, weight in signature:
            postings.setdefault(term, []).append((weight, number))
    for term, posting in postings.items():
        if len(posting) > POSTINGS_LIMIT:
            postings[term] = heapq.nlargest(POSTINGS_LIMIT, posting)

    related: dict[str, tuple[Paper, ...]] = {}
    for number, signature in enumerate(signatures):
        scores: dict[int, float] = {}
        score_of = scores.get
        for term, weight in signature:
            for other_weight, other in postings[term]:
                scores[other] = score_of(other, 0.0) + weight * other_weight
        scores.pop(number, None)
        # Stable: equal scores keep the site's order, so output is the same on every build.
        best = heapq.nlargest(limit, scores.items(), key=itemgetter(1))
        related[papers[number].id] = tuple(papers[other] for other, score in best if score >= MIN_SCORE)
    return MappingProxyType(related)
