"""Related-papers benchmark on a corpus with a realistic vocabulary: prints seconds, not asserted.

The build benchmark's corpus draws its abstracts from 60 words, which makes every paper share
every term; real abstracts draw from tens of thousands of words with a Zipf-like distribution.
This script makes such a corpus in memory (no files) and times ``related_papers`` on it:

python benchmarks/related_bench.py --papers 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sitegen.content import Author, Paper
from sitegen.related import related_papers


def zipf_corpus(count: int, vocabulary: int = 60_000, seed: int = 11) -> list[Paper]:
    rng = random.Random(seed)
    words = [f"w{number}x" for number in range(vocabulary)]
    cumulative = list(accumulate(1.0 / rank for rank in range(1, vocabulary + 1)))
    papers = []
    for number in range(count):
        abstract = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(150, 250)))
        title = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 12)))
        papers.append(
            Paper(
                id=f"p{number:06d}",
                title=title,
                authors=(Author("A. Author"),),
                date=dt.date(2024, 1, 1),
                topics=(),
                abstract=abstract,
                abstract_html="",
                abstract_text=abstract,
                abstract_words=abstract,
                links=(),
                source=Path("x.md"),
                body_line=1,
            )
        )
    return papers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    papers = zipf_corpus(args.papers)
    seconds = []
    for _ in range(args.runs):
        started = time.perf_counter()
        related = related_papers(papers)
        seconds.append(time.perf_counter() - started)
    with_related = sum(1 for others in related.values() if others)
    print(
        f"{args.papers} papers, Zipf vocabulary of 60,000 words: related papers in "
        f"{statistics.median(seconds):.2f} s (median of {args.runs}); {with_related} papers have some"
    )


if __name__ == "__main__":
    main()
