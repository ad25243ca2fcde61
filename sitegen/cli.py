"""The ``sitegen`` command: ``init``, ``new``, ``build``, ``check``, ``serve``, ``import``, ``fetch``,
``digest``.

Exit codes: 0 success, 1 content, config or output errors, 2 usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .build import DEFAULT_CACHE, DEFAULT_OUTPUT, BuildOptions, Plan, build, check_site, plan_site
from .config import TOPIC_SLUG, parse_base_url
from .digest import digest_message, make_digest
from .errors import InputError, Problem, SitegenError, UsageError
from .fetch import ARXIV_API, ArxivClient, fetch_arxiv
from .importers import READERS
from .importing import ImportProblem, Record, SourceError, import_records
from .mail import mailing_from_environment, send_digest, sender_from_environment, unsubscribe_from_environment
from .pages import long_date
from .scaffold import init_site, new_paper
from .serve import serve

FOLD_AFTER = 5
"""Warnings with the same message beyond this many are summarised in one line."""


def _date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be YYYY-MM-DD, got {text!r}") from None


LATEST = "latest"


def _digest_date_argument(text: str) -> dt.date | str:
    if text == LATEST:
        return LATEST
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be YYYY-MM-DD or {LATEST}, got {text!r}") from None


def _base_url_argument(text: str) -> str:
    try:
        return parse_base_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _site_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "site", nargs="?", type=Path, default=Path("."), metavar="SITE",
        help="the site folder, holding sitegen.yaml (default: .)",
    )  # fmt: skip


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitegen", description="Build a static website from a folder of paper abstracts."
    )
    parser.add_argument("--version", action="version", version=f"sitegen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser(
        "init", help="create a new site", description="Create a working starter site in DIR."
    )
    init.add_argument("dir", type=Path, metavar="DIR")

    new = commands.add_parser(
        "new",
        help="create a new abstract file",
        description="Write content/papers/YYYY/ID.md for a new paper.",
    )
    _site_argument(new)
    new.add_argument("--id", required=True, help="arXiv id or another slug-safe id")
    new.add_argument("--title", required=True)
    new.add_argument("--author", action="append", default=[], help="an author (repeat for each)")
    new.add_argument("--topic", action="append", default=[], help="a topic slug (repeat for each)")
    new.add_argument("--date", type=_date_argument, help="listing date, YYYY-MM-DD (default: today)")

    preview = commands.add_parser(
        "serve",
        help="preview the site, rebuilding on change",
        description="Build, serve on this machine, rebuild on every change and reload open pages.",
    )
    _site_argument(preview)
    preview.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    preview.add_argument("--port", type=int, help="port (default: the first free one from 8000)")
    preview.add_argument("--open", action="store_true", help="open the site in a web browser")
    preview.add_argument("--drafts", action="store_true", help="include papers marked draft: true")
    preview.add_argument(
        "--no-future", dest="future", action="store_false", help="leave out papers dated after today"
    )

    importer = commands.add_parser(
        "import",
        help="turn papers from another format into abstract files",
        description="Write one abstract file per paper of SOURCE (a file, or - for standard input).",
    )
    importer.add_argument(
        "format", choices=sorted(READERS), metavar="FORMAT", help=", ".join(sorted(READERS))
    )
    importer.add_argument("source", metavar="SOURCE", help="a file, or - for standard input")
    fetch = commands.add_parser(
        "fetch",
        help="fetch new papers from the arXiv API and import them",
        description="Page through the arXiv API, newest first, and import what it returns.",
    )
    fetch.add_argument("service", choices=["arxiv"], metavar="SERVICE", help="arxiv")
    fetch.add_argument(
        "--query", required=True, help="arXiv search query, e.g. 'cat:cs.CL AND abs:\"language model\"'"
    )
    fetch.add_argument("--since", type=_date_argument, help="stop at papers submitted before YYYY-MM-DD")
    fetch.add_argument("--max", type=int, default=1000, help="at most this many papers (default 1000)")
    fetch.add_argument("--api-url", default=ARXIV_API, help=argparse.SUPPRESS)
    for sub in (importer, fetch):
        sub.add_argument("--site", type=Path, default=Path("."), help="the site folder (default: .)")
        sub.add_argument("--topic", action="append", default=[], help="add this topic slug (repeat for more)")
        sub.add_argument(
            "--date", type=_date_argument, help="listing date when the source has none (default: today)"
        )
        sub.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")

    for name, help_text in (("build", "build the site"), ("check", "validate the site without writing")):
        sub = commands.add_parser(
            name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        _site_argument(sub)
        if name == "build":
            sub.add_argument(
                "-o",
                "--output",
                type=Path,
                metavar="OUT",
                help=f"output folder (default: SITE/{DEFAULT_OUTPUT})",
            )
            sub.add_argument("-q", "--quiet", action="store_true", help="print only problems")
            sub.add_argument("--profile", action="store_true", help="print the seconds each stage took")
            sub.add_argument(
                "-j", "--jobs", type=int, choices=(1, 2), default=2,
                help="2 (default): build the search index on a second core when there is one; 1: one process",
            )  # fmt: skip
            sub.add_argument(
                "--cache-dir", type=Path, metavar="DIR",
                help=f"where to keep what speeds up the next build (default: SITE/{DEFAULT_CACHE})",
            )  # fmt: skip
            sub.add_argument(
                "--no-cache", dest="cache", action="store_false", help="neither read nor write the cache"
            )
        sub.add_argument("--base-url", type=_base_url_argument, metavar="URL", help="override base_url")
        sub.add_argument("--drafts", action="store_true", help="include papers marked draft: true")
        sub.add_argument(
            "--no-future", dest="future", action="store_false", help="leave out papers dated after today"
        )
        sub.add_argument("--strict", action="store_true", help="fail on warnings too")

    digest = commands.add_parser(
        "digest",
        help="render one day's papers as an e-mail, or send it",
        description=(
            "Render one day's papers as an e-mail (HTML and plain text) and print it, "
            "or send it over SMTP with --send (settings from SITEGEN_SMTP_* variables)."
        ),
    )
    _site_argument(digest)
    digest.add_argument(
        "--date",
        type=_digest_date_argument,
        metavar="YYYY-MM-DD",
        help=f"the listing day, or '{LATEST}' for the newest (default: today in the site's time zone)",
    )
    digest.add_argument("--base-url", type=_base_url_argument, metavar="URL", help="override base_url")
    digest.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write the message to FILE, not standard output"
    )
    digest.add_argument("--send", action="store_true", help="send the message over SMTP")
    digest.add_argument(
        "--recipients",
        type=Path,
        metavar="FILE",
        help="with --send: addresses, one a line (default: SITEGEN_DIGEST_TO)",
    )
    return parser


def print_problems(problems: Sequence[Problem]) -> None:
    """Every error; warnings folded once one message repeats more than ``FOLD_AFTER`` times."""
    seen: Counter[str] = Counter()
    for problem in problems:
        seen[problem.message] += 1
        if problem.is_error or seen[problem.message] <= FOLD_AFTER:
            print(problem, file=sys.stderr)
    for message, count in seen.items():
        if count > FOLD_AFTER and not any(p.is_error and p.message == message for p in problems):
            print(f"… and {count - FOLD_AFTER} more like this: {message}", file=sys.stderr)


def _summary(plan: Plan) -> str:
    selection = plan.selection
    notes = []
    if selection.future_included:
        notes.append(f"{selection.future_included} dated after today")
    if selection.future_skipped:
        notes.append(f"{selection.future_skipped} future-dated left out (--no-future)")
    if selection.drafts_skipped:
        drafts = "draft" if selection.drafts_skipped == 1 else "drafts"
        notes.append(f"{selection.drafts_skipped} {drafts} left out (use --drafts)")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return f"{len(plan.site.papers)} papers, {len(plan.site.topics)} topics, {len(plan.pages)} pages{extra}"


def run(args: argparse.Namespace) -> int:
    if args.command == "init":
        for path in init_site(args.dir, dt.date.today()):
            print(f"created {path}")
        print(f"Now run: sitegen build {args.dir}")
        return 0
    if args.command == "new":
        path = new_paper(
            args.site, args.id, args.title, args.date or dt.date.today(), args.author, args.topic
        )
        print(f"created {path}")
        return 0

    if args.command in ("import", "fetch", "digest"):
        return run_digest(args) if args.command == "digest" else run_import(args)
    if args.command == "serve":
        options = BuildOptions(drafts=args.drafts, future=args.future)
        return serve(args.site, options, args.host, args.port, args.open)

    options = BuildOptions(
        output=getattr(args, "output", None),
        base_url=args.base_url,
        drafts=args.drafts,
        future=args.future,
        strict=args.strict,
        jobs=getattr(args, "jobs", 0),
        cache_dir=getattr(args, "cache_dir", None),
        cache=getattr(args, "cache", True),
    )
    started = time.perf_counter()
    if args.command == "check":
        plan = check_site(args.site, options)
        print_problems(plan.warnings)
        print(f"OK: {_summary(plan)}")
        return 0
    # A running count on a terminal only: in CI logs and pipes it would be noise.
    progress = Progress() if sys.stderr is not None and sys.stderr.isatty() and not args.quiet else None
    # SIGTERM (a CI job cancelled, `kill`) stops a build like Ctrl-C: the staging folder and any
    # helper process are cleaned up, and the previous output stays.
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = build(args.site, options, progress)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if progress is not None:
            progress.clear()
    print_problems(report.plan.warnings)
    seconds = time.perf_counter() - started
    written = report.written
    if not args.quiet:
        print(
            f"Built {_summary(report.plan)} into {report.output} in {seconds:.2f} s "
            f"({written.written} files written, {written.files - written.written} unchanged)"
        )
    if args.profile:
        for stage, stage_seconds in report.seconds.items():
            print(f"  {stage:14s} {stage_seconds:7.2f} s")
        plan = report.plan
        if options.cache:
            files = "file" if plan.papers_parsed == 1 else "files"
            print(
                f"  parsed {plan.papers_parsed:,} abstract {files} and rendered"
                f" {len(plan.pages) - report.pages_reused:,} of {len(plan.pages):,} pages; the rest came"
                " from the cache"
            )
    return 0


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


class Progress:
    """``  12,345 files`` on one terminal line, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self._shown_at = 0.0

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if now - self._shown_at >= 0.1:
            self._shown_at = now
            print(f"\r  {done:,} files", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self._shown_at:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def run_import(args: argparse.Namespace) -> int:
    for topic in args.topic:
        if not TOPIC_SLUG.match(topic):
            raise UsageError(f"--topic {topic!r} must be lowercase letters, digits and single hyphens")
    reference = args.date or dt.date.today()
    if args.command == "fetch":
        client = ArxivClient(api_url=args.api_url, log=lambda line: print(line, file=sys.stderr))
        records: Iterable[Record | ImportProblem] = fetch_arxiv(
            args.query, client, since=args.since, limit=args.max
        )
        source = "arXiv API"
    else:
        source = args.source
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {source}: {exc}") from None
        try:
            records = list(READERS[args.format](text, reference))
        except SourceError as exc:
            print(f"{source}:{exc}", file=sys.stderr)
            return 1
    report = import_records(
        records, args.site, default_date=reference, topics=args.topic, dry_run=args.dry_run
    )
    for problem in report.problems:
        print(f"{source}: {problem}", file=sys.stderr)
    verb = "would " if args.dry_run else ""
    done = {
        "create": "create" if args.dry_run else "created",
        "update": "update" if args.dry_run else "updated",
    }
    for change in report.changes:
        if change.action != "unchanged":
            print(f"{verb}{done[change.action]} {change.path} ({', '.join(change.positions)})")
    print(
        f"{source}: {report.count('create')} new, {report.count('update')} updated, "
        f"{report.count('unchanged')} unchanged, {len(report.problems)} problems"
        + (" (dry run: nothing written)" if args.dry_run else "")
    )
    return 0


def run_digest(args: argparse.Namespace) -> int:
    """Print or write the day's digest, or send it; a day without papers makes no message."""
    if args.recipients and not args.send:
        raise UsageError("--recipients is for --send; without it the message is only printed")
    # Settings and recipients are checked before the site is loaded, so a misconfigured job fails
    # every day, not only on days with papers.
    mailing = mailing_from_environment(os.environ, args.recipients) if args.send else None
    unsubscribe = mailing.unsubscribe if mailing else unsubscribe_from_environment(os.environ)

    plan = plan_site(args.site, BuildOptions(base_url=args.base_url))
    print_problems(plan.warnings)
    zone = plan.config.zone
    # The status line goes to standard error only when standard output carries the message.
    status = sys.stderr if not (args.send or args.output) else sys.stdout
    day = plan.site.newest_day if args.date == LATEST else args.date or dt.datetime.now(zone).date()
    outcome = "nothing sent" if args.send else "no digest"
    if day is None:
        print(f"The site has no papers yet; {outcome}.", file=status)
        return 0
    if not plan.site.days.get(day):
        print(f"No papers on {long_date(day)} ({day.isoformat()}); {outcome}.", file=status)
        return 0

    digest = make_digest(plan, day, unsubscribe)
    sender = mailing.settings.sender if mailing else sender_from_environment(os.environ)
    message = digest_message(
        digest,
        sender=sender,
        base_url=plan.config.base_url,
        now=dt.datetime.now(zone),
        unsubscribe=unsubscribe,
    )
    papers = f"{digest.total} paper{'s' if digest.total != 1 else ''}"
    if len(digest.papers) < digest.total:
        papers = f"the first {len(digest.papers)} of {papers}"
    if args.output:
        args.output.write_bytes(message.as_bytes())
        print(f"Wrote the digest of {long_date(day)} ({papers}) to {args.output}", file=status)
    if mailing:
        delivery = send_digest(
            message,
            mailing.recipients,
            mailing.settings,
            warn=lambda line: print(f"sitegen: warning: {line}", file=sys.stderr),
        )
        sent = len(delivery.sent)
        people = f"{sent} recipient{'s' if sent != 1 else ''}"
        print(f"Sent the digest of {long_date(day)} ({papers}) to {people} via {mailing.settings.server}")
    elif not args.output:
        if sender is None:
            print("(no SITEGEN_DIGEST_FROM set: the preview has no From: header)", file=sys.stderr)
        text = message.as_string()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return run(args)
    except InputError as exc:
        print_problems(exc.problems)
        errors = sum(1 for p in exc.problems if p.is_error)
        what = f"{errors} error{'s' if errors != 1 else ''}" if errors else "warnings (--strict)"
        print(f"sitegen: stopped with {what}; nothing was written", file=sys.stderr)
        return exc.exit_code
    except SitegenError as exc:
        print(f"sitegen: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"sitegen:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sitegen: interrupted; the previous output is unchanged", file=sys.stderr)
        return 130


def command() -> NoReturn:
    """The ``sitegen`` command: ``main``, then out without tearing the interpreter down. Freeing
    a built site's objects one by one took 0.3 to 1 s of CPU at 10,000 papers, for nothing: every
    file sitegen writes is closed by then, and its children have ended. Under a profiler or a
    coverage tracer, which write their results at exit, it exits as usual."""
    code = main()
    if _measured():
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: started with that descriptor closed
            try:
                stream.flush()
            except (OSError, ValueError):  # the reader went away (`sitegen build | head`)
                code = code or 1
    os._exit(code)


def _measured() -> bool:
    """Whether a profiler or tracer runs: through sys.setprofile or sys.settrace, or (Python
    3.12 on) sys.monitoring, which cProfile and coverage's newer core use."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6)):
        return True
    return any(name in sys.modules for name in ("cProfile", "profile", "coverage"))


if __name__ == "__main__":
    command()
