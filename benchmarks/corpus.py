"""A deterministic synthetic corpus of N abstract files, shared by the benchmarks and the tests.

Words follow a Zipf distribution over a vocabulary of about 40,000: the common words of the field
first (`model`, `language`, ... so that `language model` matches most papers, as on a real
archive), then rarer real ones (`lora`, `antibody`, the forms of `transform`), then made-up words,
so that search meets common and rare terms, as it does on a real archive.

python benchmarks/corpus.py 10000 /tmp/corpus-10k
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import sys
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path

WORDS = [
    "model",
    "language",
    "training",
    "data",
    "learning",
    "network",
    "neural",
    "transformer",
    "attention",
    "retrieval",
    "diffusion",
    "policy",
    "reward",
    "graph",
    "protein",
    "molecule",
    "vision",
    "image",
    "token",
    "sequence",
    "benchmark",
    "evaluation",
    "scaling",
    "parameter",
    "gradient",
    "optimization",
    "loss",
    "sample",
    "inference",
    "efficient",
    "sparse",
    "dense",
    "representation",
    "embedding",
    "contrastive",
    "supervised",
    "unsupervised",
    "agent",
    "planning",
    "reasoning",
    "robust",
    "adversarial",
    "generalization",
    "fine-tuning",
    "adapter",
    "quantization",
    "distillation",
    "latent",
    "probabilistic",
    "bayesian",
    "kernel",
    "theorem",
    "bound",
    "convergence",
    "stochastic",
    "variance",
    "estimator",
]
RARER = [
    "design", "transform", "transformers", "transformation", "transformed", "transforming", "retrieve",
    "lora", "low-rank", "antibody", "antigen", "protein-protein", "docking", "survey", "key", "display",
    "diffusion-based", "pathway", "deploy", "array", "question?", "multilingual", "translation", "speech",
]  # fmt: skip
SYLLABLES = [
    "ka",
    "lo",
    "ri",
    "ten",
    "mor",
    "vex",
    "sul",
    "pa",
    "dri",
    "quo",
    "zen",
    "bal",
    "tic",
    "ner",
    "om",
]
VOCABULARY_SIZE = 40_000


def vocabulary() -> tuple[list[str], list[float]]:
    """The words, most common first, and their cumulative Zipf weights."""
    rng = random.Random(3)
    words = WORDS[:2] + RARER[:1] + WORDS[2:] + RARER[1:]
    seen = set(words)
    while len(words) < VOCABULARY_SIZE:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words, list(accumulate(1.0 / (rank + 1) for rank in range(len(words))))


MATH = ["$O(n^2)$", "$\\alpha$", "$\\sqrt{d_k}$", "$\\mathcal{L}_{\\text{KL}}$", "$x_t$", "$\\beta_t$"]
TOPICS = [f"topic-{n:02d}" for n in range(20)]


def generate(folder: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    (folder / "content").mkdir(parents=True, exist_ok=True)
    topics = "\n".join(f"  {slug}: Topic {slug[-2:]}" for slug in TOPICS)
    (folder / "sitegen.yaml").write_text(
        f"title: Benchmark\nbase_url: https://example.org/bench/\nper_page: 50\ntopics:\n{topics}\n"
    )
    vocabulary_words, weights = vocabulary()
    for number in range(count):
        date = start + dt.timedelta(days=number * 730 // count)
        paper_id = f"{date:%y%m}.{number:05d}"
        words = rng.choices(vocabulary_words, cum_weights=weights, k=rng.randint(150, 250))
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randrange(len(words)), rng.choice(MATH))
        title = " ".join(
            rng.choices(vocabulary_words, cum_weights=weights, k=rng.randint(5, 12))
        ).capitalize()
        authors = ", ".join(f"Author {rng.randint(1, 5000)}" for _ in range(rng.randint(1, 8)))
        chosen = ", ".join(rng.sample(TOPICS, rng.randint(1, 3)))
        links = f"links: {{code: https://github.com/example/repo{number}}}\n" if number % 3 == 0 else ""
        path = folder / "content" / "papers" / f"{date.year}" / f"{paper_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"---\nid: {paper_id}\ntitle: {title}\nauthors: [{authors}]\ndate: {date}\n"
            f"topics: [{chosen}]\n{links}upvotes: {rng.randint(0, 200)}\n---\n{' '.join(words)}.\n"
        )


@contextlib.contextmanager
def added_papers(site: Path, count: int, date: dt.date | str) -> Iterator[None]:
    """``count`` new papers dated ``date``, for the length of the ``with`` block."""
    files = [site / "content" / "papers" / f"added-by-benchmark-{n}.md" for n in range(count)]
    for n, path in enumerate(files):
        path.write_text(
            f"---\nid: added-by-benchmark-{n}\ntitle: One more paper, number {n}\nauthors: [Author {n}]\n"
            f"date: {date}\ntopics: [topic-0{n % 10}]\n---\nA new abstract about antibody design, {n}.\n"
        )
    try:
        yield
    finally:
        for path in files:
            path.unlink()


@contextlib.contextmanager
def edited_abstract(site: Path) -> Iterator[None]:
    """One more sentence in one paper's abstract, for the length of the ``with`` block."""
    path = min((site / "content").rglob("*.md"))
    original = path.read_bytes()
    path.write_bytes(original + b"\nOne more sentence, about retrieval.\n")
    try:
        yield
    finally:
        path.write_bytes(original)


if __name__ == "__main__":
    generate(Path(sys.argv[2]), int(sys.argv[1]))
