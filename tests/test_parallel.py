"""The search index and the papers' pages made on a second core: the same bytes as one process,
and no stray child."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sitegen.garbage import BUILD_THRESHOLDS

from .helpers import snapshot

REPO = Path(__file__).resolve().parent.parent


def python(code: str) -> str:
    """Run ``code`` in a fresh interpreter: one thread, so forking is allowed (pytest may run others)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sitegen_build(*arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sitegen", "build", *arguments], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_two_cores_and_one_process_build_the_same_bytes(tmp_path: Path) -> None:
    for jobs in ("1", "2"):
        sitegen_build(str(REPO), "-o", str(tmp_path / f"out{jobs}"), "-j", jobs, "--no-cache")
    assert snapshot(tmp_path / "out1") == snapshot(tmp_path / "out2")


def test_related_papers_computed_in_a_spawned_process_are_the_same(tmp_path: Path) -> None:
    """The example site is below the size from which related papers go to a process of their
    own; lowered, the same site comes out, and the work did run in a new interpreter."""
    sitegen_build(str(REPO), "-o", str(tmp_path / "out1"), "-j", "1", "--no-cache")
    out = python(
        f"""
        from pathlib import Path
        from sitegen import build, parallel

        build.RELATED_ELSEWHERE_FROM = 0
        spawned = []
        real = parallel.Background._spawn
        def spawn(self):
            spawned.append(self._function.__name__)
            real(self)
        parallel.Background._spawn = spawn
        build.build(Path("."), build.BuildOptions(output=Path({str(tmp_path / "out2")!r}), cache=False))
        print(sorted(spawned))
        """
    )
    assert out == "['chunked_index', 'related_numbers_once']\n"
    assert snapshot(tmp_path / "out1") == snapshot(tmp_path / "out2")


def test_what_the_second_process_rendered_is_in_the_page_cache(tmp_path: Path) -> None:
    build = [str(REPO), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "-j", "2"]
    first = sitegen_build(*build, "--profile").splitlines()[-1]
    again = sitegen_build(*build, "--profile").splitlines()[-1]
    pages = re.fullmatch(r"  parsed \d+ abstract files and rendered (\d+) of \1 pages; .*", first)
    assert pages is not None, first
    assert again.startswith(f"  parsed 0 abstract files and rendered 0 of {pages[1]} pages"), again


def test_the_work_runs_in_a_child_and_comes_back_whole() -> None:
    out = python(
        """
        import os
        from sitegen.parallel import Background
        from sitegen.writer import Output

        parent = os.getpid()
        def work(n):
            return [Output(f"f{i}", bytes([i % 256]) * 100_000, str(os.getpid() != parent)) for i in range(n)]

        job = Background(work, 300)
        assert job.forked
        outputs = list(job.result())
        assert [o.path for o in outputs] == [f"f{i}" for i in range(300)]
        assert outputs[7].data == bytes([7]) * 100_000
        assert {o.source for o in outputs} == {"True"}  # computed in the child
        print("ok")
        """
    )
    assert out == "ok\n"


SPAWNED_WORK = """
import os

inherited = "only what the module itself sets"


def work(n, parent):
    return [(i, os.getpid() != parent, inherited) for i in range(n)]


def fail_in_a_child(parent):
    if os.getpid() != parent:
        raise MemoryError("only in the child")
    return ["from the parent"]


def collector_threshold():
    import gc

    return [gc.get_threshold()[0]]


def slow():
    import time

    time.sleep(60)
    return []


def stops_part_way(parent):
    print("noise on standard output", flush=True)
    yield "first"
    if os.getpid() != parent:
        os._exit(0)  # an exit status of 0, but not finished
    yield "second"
"""


def test_spawned_work_runs_in_a_new_interpreter_and_comes_back_whole(tmp_path: Path) -> None:
    """A spawned child is given the function and its arguments, nothing else of the parent's."""
    (tmp_path / "spawned_work.py").write_text(SPAWNED_WORK)
    out = python(
        f"""
        import os, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import spawned_work
        from sitegen.parallel import Background

        spawned_work.inherited = "changed in the parent, after the import"
        job = Background(spawned_work.work, 1000, os.getpid(), spawn=True)
        assert job.forked
        slow = Background(spawned_work.slow, spawn=True)
        import time
        deadline = time.monotonic() + 60
        while not job.done():  # its items all written, the child can be read without a wait
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not slow.done()
        slow.cancel()
        assert Background(spawned_work.work, 1, os.getpid(), fork=False).done()  # no child to wait for
        items = list(job.result())
        assert [i for i, _, _ in items] == list(range(1000))
        print({{(in_child, seen) for _, in_child, seen in items}})
        """
    )
    assert out == "{(True, 'only what the module itself sets')}\n"


def test_a_spawned_child_collects_cycles_as_a_build_does(tmp_path: Path) -> None:
    (tmp_path / "spawned_work.py").write_text(SPAWNED_WORK)
    out = python(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import spawned_work
        from sitegen.parallel import Background

        job = Background(spawned_work.collector_threshold, spawn=True)
        assert job.forked
        print(list(job.result()))
        """
    )
    assert out == f"[{BUILD_THRESHOLDS[0]}]\n"


@pytest.mark.parametrize("spawn", [False, True], ids=["forked", "spawned"])
def test_a_failing_child_is_redone_here_and_a_cancelled_one_is_reaped(tmp_path: Path, spawn: bool) -> None:
    (tmp_path / "spawned_work.py").write_text(SPAWNED_WORK)
    out = python(
        f"""
        import os, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import spawned_work
        from sitegen.parallel import Background, in_background

        job = Background(spawned_work.fail_in_a_child, os.getpid(), spawn={spawn})
        assert job.forked
        print(list(job.result()))
        job = Background(spawned_work.stops_part_way, os.getpid(), spawn={spawn})
        assert job.forked
        assert list(job.result()) == ["first", "second"]
        try:
            with in_background(spawned_work.slow, spawn={spawn}) as job:
                assert job.forked
                raise KeyError("a template error, say")
        except KeyError:
            pass
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            print("no child left")
        """
    )
    # The noise is the parent's, when it does the work again; the child's output goes nowhere.
    assert out == "['from the parent']\nnoise on standard output\nno child left\n"


def test_abstract_files_parsed_in_two_processes_give_the_same_papers_and_problems(tmp_path: Path) -> None:
    """The second process parses half the files; papers and messages keep the files' order."""
    content = tmp_path / "content"
    content.mkdir()
    for number in range(300):
        text = (
            f"---\nid: p{number:03}\ntitle: Paper {number}\nauthors: [A. Author]\ndate: 2024-01-01\n---\n"
            f"Abstract {number} with $x^{number}$.\n"
        )
        if number % 97 == 5:
            text = text.replace("date: 2024-01-01", "date: someday")  # an error, in both halves
        (content / f"p{number:03}.md").write_text(text)
    out = python(
        f"""
        from pathlib import Path
        from sitegen.content import find_abstract_files, load_papers
        from sitegen import parallel

        files = list(find_abstract_files(Path({str(content)!r})))
        one = load_papers(files, fork=False)
        started = []
        real = parallel.Background._start
        def start(self):
            started.append(True)
            real(self)
        parallel.Background._start = start
        two = load_papers(files, fork=True)
        assert started == [True]
        assert one == two, "different papers or problems"
        print(len(two.papers), len(two.problems), two.parsed)
        """
    )
    assert out == "296 4 300\n"


def test_no_fork_while_other_threads_run() -> None:
    out = python(
        """
        import threading
        from sitegen.parallel import Background

        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        job = Background(lambda: [])
        print(job.forked, list(job.result()))
        stop.set()
        """
    )
    assert out == "False []\n"


def test_a_refused_fork_means_the_work_is_done_here() -> None:
    out = python(
        """
        import errno, os
        from sitegen.parallel import Background
        from sitegen.writer import Output

        def refuse():
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        os.fork = refuse
        job = Background(lambda: [Output("a", b"here", "here")])
        print(job.forked, next(job.result()).data)
        """
    )
    assert out == "False b'here'\n"


def test_ctrl_c_while_waiting_stops_the_child_and_stays_an_interrupt() -> None:
    out = python(
        """
        import os, signal, threading, time
        from sitegen.parallel import in_background

        def slow():
            time.sleep(60)
            return []
        try:
            with in_background(slow) as job:
                assert job.forked
                threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
                job.result()
        except KeyboardInterrupt:
            print("interrupted")
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            print("no child left")
        """
    )
    assert out == "interrupted\nno child left\n"


def test_the_search_index_made_partly_in_a_second_process_has_the_same_bytes() -> None:
    out = python(
        """
        import contextlib, hashlib
        from pathlib import Path
        import sitegen.search as search
        from sitegen.build import BuildOptions, plan_site

        documents = search.search_documents(plan_site(Path("."), BuildOptions()).site)
        search.FORK_AT_POSTINGS = 0  # the example site is far below it
        forked = []
        start = search.in_background

        @contextlib.contextmanager
        def watched(*args, **options):
            with start(*args, **options) as job:
                forked.append(job.forked)
                yield job

        search.in_background = watched
        tiny = search.Layout(inline=2, chunk=8, block=8, store=3, shard=400)

        def files(fork):
            outputs = search.chunked_index(documents, tiny, fork=fork)
            return sorted((output.path, hashlib.sha256(output.data).digest()) for output in outputs)

        two, one = files(True), files(False)
        assert two == one and len(one) > 500, len(one)
        print(forked)
        """
    )
    assert out == "[True, False]\n"
