"""Build benchmark: a synthetic corpus of N papers, timed stage by stage, with peak memory.

    python benchmarks/build_bench.py --papers 10000 --runs 3

The corpus is generated into benchmarks/corpus/N/ (ignored by git) once and reused; the output
goes to a temporary folder. Figures are printed, never asserted: speed is measured here, not in
unit tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sitegen.build import BuildOptions, build
from sitegen.config import load_config
from sitegen.content import find_abstract_files, load_papers
from sitegen.pages import plan_pages
from sitegen.render import make_environment, render_pages
from sitegen.site import index_site
from sitegen.themes import find_theme

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
    for number in range(count):
        date = start + dt.timedelta(days=number * 730 // count)
        paper_id = f"{date:%y%m}.{number:05d}"
        words = [rng.choice(WORDS) for _ in range(rng.randint(150, 250))]
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randrange(len(words)), rng.choice(MATH))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))).capitalize()
        authors = ", ".join(f"Author {rng.randint(1, 5000)}" for _ in range(rng.randint(1, 8)))
        chosen = ", ".join(rng.sample(TOPICS, rng.randint(1, 3)))
        links = f"links: {{code: https://github.com/example/repo{number}}}\n" if number % 3 == 0 else ""
        path = folder / "content" / "papers" / f"{date.year}" / f"{paper_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"---\nid: {paper_id}\ntitle: {title}\nauthors: [{authors}]\ndate: {date}\n"
            f"topics: [{chosen}]\n{links}upvotes: {rng.randint(0, 200)}\n---\n{' '.join(words)}.\n"
        )


def timed(label: str, results: dict[str, list[float]], function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    results.setdefault(label, []).append(time.perf_counter() - started)
    return value


def rendered_bytes(pages, env) -> int:
    return sum(len(output.data) for output in render_pages(pages, env))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    site = HERE / "corpus" / str(args.papers)
    if not (site / "sitegen.yaml").exists():
        print(f"generating {args.papers} papers into {site} ...", flush=True)
        generate(site, args.papers)

    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.runs):
            # Stage by stage, as build() runs them (rendering without writing).
            config = load_config(site)
            files = list(find_abstract_files(site / "content"))
            loaded = timed("load (read, YAML, validate, Markdown)", results, load_papers, files)
            built_site = timed("index", results, index_site, config, loaded.papers)
            pages = timed("plan", results, plan_pages, built_site)
            theme = find_theme(site, config.theme)
            env = make_environment(config, [site / "templates", theme / "templates"])
            timed("render (Jinja2, no writing)", results, rendered_bytes, pages, env)
            # The whole thing, end to end, as `sitegen build` runs it.
            report = timed(
                "build, end to end", results, build, site, BuildOptions(output=Path(scratch) / "out")
            )

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{args.papers} papers → {report.written.files} files, {report.written.bytes / 2**20:.1f} MiB; "
        f"median of {args.runs} runs"
    )
    for label, seconds in results.items():
        print(f"  {label:40s} {statistics.median(seconds):7.2f} s")
    print(f"  {'peak memory (RSS, whole process)':40s} {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
