"""The search index's cache of each paper's terms: reusing it changes no byte of the index, only the
papers whose text changed are tokenised again, and a damaged cache is ignored."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from sitegen.build import DEFAULT_CACHE, DEFAULT_OUTPUT, BuildOptions, build, plan_site
from sitegen.postings import CACHE_FILE, PIPELINE_VERSION, TermCache
from sitegen.search import (
    SearchDocument,
    chunked_index,
    document_postings,
    search_documents,
    terms,
    token_term,
    tokenize,
)
from sitegen.writer import Output

from .helpers import snapshot
from .test_valid_output import load_corpus_generator

NEW_PAPER = """---
id: 2412.99999
title: Antibody design with one more language model
authors: [Author 1, Author 2]
date: 2025-12-31
topics: [topic-00]
---
A new abstract about antibody design and docking, with words no other paper has: zyxwvut.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    site = tmp_path / "corpus"
    load_corpus_generator()(site, 120)
    return site


def documents_of(site: Path) -> list[SearchDocument]:
    return search_documents(plan_site(site, BuildOptions()).site)


def as_files(outputs: Iterable[Output]) -> dict[str, bytes]:
    return {output.path: output.data for output in outputs}


def counting_tokenize() -> tuple[Callable[[str], list[str]], list[str]]:
    seen: list[str] = []

    def counted(text: str) -> list[str]:
        seen.append(text)
        return tokenize(text)

    return counted, seen


def tokenised(documents: list[SearchDocument], cache: Path) -> int:
    """How many field texts building the postings tokenised rather than took from the cache."""
    counted, seen = counting_tokenize()
    document_postings(documents, TermCache(cache, counted, token_term))
    return len(seen)


def change_papers(site: Path) -> None:
    """Delete one paper, edit another's abstract, add a new one."""
    first, second = sorted((site / "content").rglob("*.md"))[:2]
    first.unlink()
    second.write_text(
        second.read_text(encoding="utf-8") + "\nOne more sentence on retrieval.\n", encoding="utf-8"
    )
    (site / "content" / "papers" / "new.md").write_text(NEW_PAPER, encoding="utf-8")


def test_cached_terms_make_the_index_a_clean_build_makes(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = documents_of(corpus)
    assert tokenised(before, cache) == 4 * len(before)
    assert (cache / CACHE_FILE).is_file()
    assert tokenised(before, cache) == 0

    change_papers(corpus)
    after = documents_of(corpus)
    assert tokenised(after, cache) == 2 * 4  # the edited paper and the new one
    assert as_files(chunked_index(after, cache_dir=cache)) == as_files(chunked_index(after))
    # The deleted paper's terms were dropped from the cache with it.
    assert tokenised(before, cache) == 4 * 2


def stored_arrays(cache: Path) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    with np.load(cache / CACHE_FILE) as stored:
        return {name: stored[name] for name in stored.files}


def store_arrays(cache: Path, arrays: dict[str, np.ndarray]) -> None:  # type: ignore[type-arg]
    with open(cache / CACHE_FILE, "wb") as file:
        np.savez(file, **arrays)


def write_npy(path: Path, array: np.ndarray) -> None:  # type: ignore[type-arg]
    with path.open("wb") as file:
        np.save(file, array)


def test_a_damaged_cache_is_ignored_and_replaced(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    documents = documents_of(corpus)
    clean = as_files(chunked_index(documents))
    assert as_files(chunked_index(documents, cache_dir=cache)) == clean
    good = (cache / CACHE_FILE).read_bytes()
    arrays = stored_arrays(cache)
    distinct = int(arrays["records"][4:8].sum())
    wrong_term = dict(arrays, records=arrays["records"].copy())
    wrong_term["records"][8] = 10**9  # the first paper's first term, past the vocabulary
    wrong_count = dict(arrays, records=arrays["records"].copy())
    wrong_count["records"][8 + distinct] = -3  # how often that term occurs
    damaged: list[Callable[[], None]] = [
        lambda: (cache / CACHE_FILE).write_bytes(b"not a cache at all"),
        lambda: (cache / CACHE_FILE).write_bytes(b""),
        lambda: (cache / CACHE_FILE).write_bytes(good[: len(good) // 2]),
        lambda: write_npy(cache / CACHE_FILE, arrays["records"]),
        lambda: store_arrays(cache, wrong_term),
        lambda: store_arrays(cache, wrong_count),
        lambda: store_arrays(cache, dict(arrays, sizes=arrays["sizes"].reshape(-1, 1))),
    ]
    for damage in damaged:
        damage()
        assert tokenised(documents, cache) == 4 * len(documents)
        assert as_files(chunked_index(documents, cache_dir=cache)) == clean
        assert tokenised(documents, cache) == 0  # rewritten whole
    assert [path.name for path in cache.iterdir()] == [CACHE_FILE]


def test_a_save_killed_midway_leaves_nothing_for_long(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    abandoned, recent = cache / f".{CACHE_FILE}.killed.tmp", cache / f".{CACHE_FILE}.writing.tmp"
    abandoned.write_bytes(b"half a cache")
    os.utime(abandoned, (time.time() - 2 * 3600,) * 2)
    recent.write_bytes(b"another build, still writing")
    list(chunked_index(documents_of(corpus), cache_dir=cache))
    assert sorted(path.name for path in cache.iterdir()) == sorted([CACHE_FILE, recent.name])


def test_the_cache_keeps_only_the_terms_of_current_papers(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    list(chunked_index(documents_of(corpus), cache_dir=cache))
    for path in sorted((corpus / "content").rglob("*.md"))[:60]:
        path.unlink()
    documents = documents_of(corpus)
    list(chunked_index(documents, cache_dir=cache))
    vocabulary = stored_arrays(cache)["vocabulary"].tobytes().decode().split("\n")
    assert sorted(vocabulary) == document_postings(documents).vocabulary


def test_a_build_keeps_its_cache_in_the_site_and_writes_what_a_clean_build_writes(
    corpus: Path, tmp_path: Path
) -> None:
    build(corpus)
    assert (corpus / DEFAULT_CACHE / CACHE_FILE).is_file()
    change_papers(corpus)
    build(corpus)
    clean = tmp_path / "clean"
    build(corpus, BuildOptions(output=clean, cache=False))
    assert snapshot(corpus / DEFAULT_OUTPUT) == snapshot(clean)


def test_a_build_without_the_cache_leaves_none(corpus: Path, tmp_path: Path) -> None:
    build(corpus, BuildOptions(output=tmp_path / "out", cache=False))
    assert not (corpus / DEFAULT_CACHE).exists()
    build(corpus, BuildOptions(output=tmp_path / "out", cache_dir=tmp_path / "elsewhere"))
    assert (tmp_path / "elsewhere" / CACHE_FILE).is_file() and not (corpus / DEFAULT_CACHE).exists()


PIPELINE_SAMPLE = """
caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled sized
hopping tanned falling hissing fizzed failing filing happy sky relational conditional rational
valenci hesitanci digitizer conformabli radicalli differentli vileli analogousli vietnamization
predication operator feudalism decisiveness hopefulness callousness formaliti sensitiviti
sensibiliti triplicate formative formalize electriciti electrical hopeful goodness revival
allowance inference airliner gyroscopic adjustable defensible irritant replacement adjustment
dependent adoption homologou communism activate angulariti homologous effective bowdlerize probate
rate cease controll roll key survey display array deploy pathway day play yield yearly
the and of to in is with a an «quoted» $x^2$ co-operation naïve straße 日本語 emoji😀 question?
it's don't U.S.A. 3.14 x_1 — \u2013dash (parenthesised) [bracketed] Transformer-based LoRA GPT-4
"""
PIPELINE_FINGERPRINT = (
    b"sitegen-search-terms-1",
    "eea9bdbca33d10132cdf7dcd0218da1e1c03940315aa26e30f443c1ae3489b8a",
)


def test_changing_the_pipeline_means_a_new_cache_version() -> None:
    """Cached terms are found by the hash of their text and ``PIPELINE_VERSION``: if the tokenizer,
    trimmer, stop words or stemmer change, so must the version, or old terms would be reused."""
    made = hashlib.sha256("\n".join(" ".join(terms(line)) for line in PIPELINE_SAMPLE.splitlines()).encode())
    assert (PIPELINE_VERSION, made.hexdigest()) == PIPELINE_FINGERPRINT, (
        "the search pipeline makes other terms now: change PIPELINE_VERSION in sitegen/postings.py "
        "and put the new pair here"
    )
