"""The one writer: nothing lands outside the output folder, clashes name both sources, swaps are whole."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitegen.errors import OutputError
from sitegen.writer import (
    Output,
    _FileMaker,
    _FileMakerProcess,
    _umask,
    file_identity,
    safe_relative_path,
    write_site,
)

from .helpers import snapshot


@pytest.mark.parametrize(
    "path",
    ["../escape.html", "/etc/passwd", "a/../../b", "a\\..\\b", "a//b", "./a", "nul\0byte", "C:/x", ""],
)
def test_paths_that_could_escape_are_refused(path: str) -> None:
    with pytest.raises(OutputError, match="outside the output folder"):
        safe_relative_path(path)


def test_ordinary_paths_pass() -> None:
    assert str(safe_relative_path("papers/2401.00001/index.html")) == "papers/2401.00001/index.html"


SEPARATE = pytest.mark.parametrize("separate", [False, True], ids=["here", "in a process of its own"])


@SEPARATE
def test_a_clash_names_both_sources_and_keeps_the_old_output(tmp_path: Path, separate: bool) -> None:
    out = tmp_path / "_site"
    write_site([Output("index.html", b"old", "first build")], out, separate)
    before = snapshot(out)
    clash = [Output("a/index.html", b"1", "paper A"), Output("A/index.html", b"2", "paper B")]
    with pytest.raises(OutputError, match=r"two items claim 'A/index\.html': paper A and paper B"):
        write_site(clash, out, separate)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_site"]


@SEPARATE
def test_an_exception_mid_write_keeps_the_old_output(tmp_path: Path, separate: bool) -> None:
    out = tmp_path / "_site"
    write_site([Output("index.html", b"old", "first build")], out, separate)

    def outputs():
        yield Output("index.html", b"new", "second build")
        yield from (Output(f"many/{number}.html", bytes(50_000), "a page") for number in range(100))
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        write_site(outputs(), out, separate)
    assert (out / "index.html").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_site"]


def test_a_process_of_its_own_makes_the_same_files_and_links_the_unchanged_ones(tmp_path: Path) -> None:
    outputs = [
        Output(f"d{number % 7}/f{number}.html", bytes([number]) * 30_000, "x") for number in range(200)
    ]
    for separate in (False, True):
        out = tmp_path / f"out-{separate}"
        first = write_site(outputs, out, separate)
        inode = (out / "d3/f3.html").stat().st_ino
        again = write_site([*outputs[:-1], Output("d0/new.html", b"new", "x")], out, separate)
        assert (first.written, again.written, again.files) == (200, 1, 200)
        assert (out / "d3/f3.html").stat().st_ino == inode  # linked, not written
    assert snapshot(tmp_path / "out-False") == snapshot(tmp_path / "out-True")


@SEPARATE
def test_a_file_known_unchanged_is_linked_and_its_loss_stops_the_build(
    tmp_path: Path, separate: bool
) -> None:
    out = tmp_path / "_site"
    write_site([Output("a/kept.html", b"kept", "first"), Output("gone.html", b"x", "first")], out, separate)
    inode = (out / "a/kept.html").stat().st_ino
    kept = Output("a/kept.html", b"", "second", unchanged=file_identity(out / "a/kept.html"))
    report = write_site([kept], out, separate)
    assert (report.files, report.bytes, report.written) == (1, 4, 0)
    assert (out / "a/kept.html").stat().st_ino == inode
    assert snapshot(out) == {"a/kept.html": b"kept"}
    kept = Output("a/kept.html", b"", "third", unchanged=file_identity(out / "a/kept.html"))
    (out / "a/kept.html").write_bytes(b"edit")  # between the page cache's look and the writer's
    with pytest.raises(OutputError, match=r"a/kept\.html changed in the output folder"):
        write_site([kept], out, separate)
    assert snapshot(out) == {"a/kept.html": b"edit"}


def test_the_file_making_process_reports_its_error_and_its_death(tmp_path: Path) -> None:
    from sitegen.writer import _FileMakerProcess

    blocked = tmp_path / "staging-is-a-file"
    blocked.write_bytes(b"")
    with _FileMakerProcess(blocked, None) as maker, pytest.raises(OSError):
        maker.make("a/b.html", b"x")
        maker.finish()
    staging = tmp_path / "staging"
    staging.mkdir()
    with _FileMakerProcess(staging, None) as maker, pytest.raises(OutputError, match="stopped"):
        maker._process.kill()
        maker.make("a.html", b"x")
        maker.finish()


def test_the_new_output_replaces_the_old_whole(tmp_path: Path) -> None:
    out = tmp_path / "_site"
    write_site([Output("gone.html", b"x", "first"), Output("kept.html", b"1", "first")], out)
    report = write_site([Output("kept.html", b"2", "second")], out)
    assert snapshot(out) == {"kept.html": b"2"}
    assert (report.files, report.bytes) == (1, 1)


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "_site"
    first = write_site([Output("a.html", b"same", "a"), Output("b/c.html", b"old", "c")], out)
    assert (first.files, first.written) == (2, 2)
    inode_a = (out / "a.html").stat().st_ino
    mtime_a = (out / "a.html").stat().st_mtime_ns
    second = write_site(
        [Output("a.html", b"same", "a"), Output("b/c.html", b"new", "c"), Output("d.html", b"d", "d")], out
    )
    assert (second.files, second.written) == (3, 2)
    assert (out / "a.html").stat().st_ino == inode_a
    assert (out / "a.html").stat().st_mtime_ns == mtime_a
    assert snapshot(out) == {"a.html": b"same", "b/c.html": b"new", "d.html": b"d"}
    # Same size, other bytes: rewritten.
    third = write_site([Output("a.html", b"SAME", "a")], out)
    assert third.written == 1
    assert snapshot(out) == {"a.html": b"SAME"}


def test_a_symlink_in_the_old_output_is_never_linked_into_the_new(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"same")
    out = tmp_path / "_site"
    out.mkdir()
    (out / "a.html").symlink_to(secret)
    report = write_site([Output("a.html", b"same", "a")], out)
    assert report.written == 1
    assert not (out / "a.html").is_symlink()
    assert (out / "a.html").stat().st_ino != secret.stat().st_ino


def test_a_file_not_as_a_build_writes_it_is_written_afresh(tmp_path: Path) -> None:
    out = tmp_path / "_site"
    write_site([Output("a.html", b"same", "a"), Output("b.html", b"same", "b")], out)
    (out / "a.html").chmod(0o600)  # someone chmod-ed it
    os.link(out / "b.html", tmp_path / "elsewhere.html")  # or linked it elsewhere
    report = write_site([Output("a.html", b"same", "a"), Output("b.html", b"same", "b")], out)
    assert report.written == 2
    assert (out / "a.html").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert (out / "b.html").stat().st_ino != (tmp_path / "elsewhere.html").stat().st_ino


def test_a_symlinked_folder_in_the_old_output_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "style.css").write_bytes(b"body{}")
    out = tmp_path / "_site"
    out.mkdir()
    (out / "assets").symlink_to(outside)
    report = write_site([Output("assets/style.css", b"body{}", "css")], out)
    assert report.written == 1
    assert (out / "assets/style.css").stat().st_ino != (outside / "style.css").stat().st_ino
    assert not (out / "assets").is_symlink()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@SEPARATE
def test_a_spare_output_is_brought_up_to_date_and_nothing_of_it_leaks(tmp_path: Path, separate: bool) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    first = [
        Output("kept.html", b"kept", "x"),
        Output("old/gone.html", b"gone", "x"),
        Output("a/b.html", b"1", "x"),
    ]
    write_site(first, out, separate, spare)
    assert not spare.exists()  # no previous output to keep
    second = [
        Output("kept.html", b"kept", "x"),
        Output("a/b.html", b"2", "x"),
        Output("new/c.html", b"c", "x"),
    ]
    write_site(second, out, separate, spare)
    assert snapshot(spare) == {"kept.html": b"kept", "old/gone.html": b"gone", "a/b.html": b"1"}
    # What a spare should not hold: a stray file and folder, and a link out of it.
    (spare / "stray.html").write_bytes(b"stray")
    (spare / "stray/deep").mkdir(parents=True)
    outside = tmp_path / "outside.html"
    outside.write_bytes(b"outside")
    (spare / "new").mkdir()
    (spare / "new/c.html").symlink_to(outside)
    inode = (out / "kept.html").stat().st_ino

    def third() -> list[Output]:
        return [
            Output("kept.html", b"", "x", unchanged=file_identity(out / "kept.html")),
            Output("a/b.html", b"3", "x"),
            Output("new/c.html", b"c", "x"),
            Output("old/gone.html", b"back", "x"),
        ]

    expected = {"kept.html": b"kept", "a/b.html": b"3", "new/c.html": b"c", "old/gone.html": b"back"}
    report = write_site(third(), out, separate, spare)
    assert snapshot(out) == expected
    assert not (out / "stray").exists() and not (out / "new/c.html").is_symlink()
    assert outside.read_bytes() == b"outside"
    assert (out / "kept.html").stat().st_ino == inode and report.written == 2  # a/b.html, old/gone.html
    assert snapshot(spare) == {"kept.html": b"kept", "a/b.html": b"2", "new/c.html": b"c"}
    again = write_site(third(), out, separate, spare)
    assert snapshot(out) == expected
    assert again.written == 0


def test_a_build_that_fails_keeps_the_output_and_the_spare(tmp_path: Path) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    for data in (b"1", b"2"):
        write_site([Output("a.html", data, "x")], out, spare=spare)

    def outputs() -> Iterator[Output]:
        yield Output("a.html", b"3", "x")
        raise RuntimeError("a template error")

    with pytest.raises(RuntimeError):
        write_site(outputs(), out, spare=spare)
    assert snapshot(out) == {"a.html": b"2"}
    assert not spare.exists()  # whatever failed in it could fail again: the next build starts afresh
    assert sorted(path.name for path in tmp_path.iterdir()) == ["_site", "cache"]
    write_site([Output("b.html", b"b", "x")], out, spare=spare)
    assert snapshot(out) == {"b.html": b"b"}


def test_a_spare_s_folders_get_the_mode_a_new_folder_gets(tmp_path: Path) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    outputs = [Output("a/b/c.html", b"c", "x")]
    mask = os.umask(0o022)
    try:
        write_site(outputs, out, spare=spare)
        (out / "a").chmod(0o700)
        for _ in range(3):
            write_site(outputs, out, spare=spare)
            assert [(out / name).stat().st_mode & 0o777 for name in ("a", "a/b")] == [0o755, 0o755]
    finally:
        os.umask(mask)


def test_a_file_known_unchanged_but_linked_elsewhere_is_copied(tmp_path: Path) -> None:
    out = tmp_path / "_site"
    write_site([Output("a.html", b"same", "x")], out)
    os.link(out / "a.html", tmp_path / "elsewhere.html")
    write_site([Output("a.html", b"", "x", unchanged=file_identity(out / "a.html"))], out)
    assert snapshot(out) == {"a.html": b"same"}
    assert (out / "a.html").stat().st_ino != (tmp_path / "elsewhere.html").stat().st_ino


def test_a_spare_whose_files_became_folders_and_folders_files_is_brought_up_to_date(tmp_path: Path) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    shapes = [
        [Output("a", b"file a", "x"), Output("b/c.html", b"c", "x"), Output("b/d/e.html", b"e", "x")],
        [Output("a/index.html", b"folder a", "x"), Output("b", b"file b", "x")],
        [Output("a", b"file a again", "x"), Output("b/d/e.html", b"e again", "x")],
    ]
    for outputs in (*shapes, *shapes):
        write_site(outputs, out, True, spare)
        assert snapshot(out) == {output.path: output.data for output in outputs}


def test_a_process_forked_while_files_are_made_does_not_keep_the_file_maker_waiting(tmp_path: Path) -> None:
    # The file maker reads its pipe to the end: a fork holding a copy of the pipe (the papers'
    # pages process) would keep it from ever seeing the end while the fork runs.
    staging = tmp_path / "staging"
    staging.mkdir()
    with _FileMakerProcess(staging, None) as maker:
        maker.make("a.html", b"x")
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        try:
            started = time.monotonic()
            assert maker.finish() == 1
            assert time.monotonic() - started < 30
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert (staging / "a.html").read_bytes() == b"x"


def test_a_spare_s_own_changed_file_is_rewritten_in_place_and_the_last_output_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    write_site([Output("changes.html", b"11111", "x"), Output("later.html", b"1", "x")], out, spare=spare)
    write_site([Output("changes.html", b"2", "x"), Output("later.html", b"1", "x")], out, spare=spare)
    # The spare is the first output: its changes.html is its own (the output has another),
    # its later.html is the output's too (linked, unchanged).
    assert (spare / "later.html").stat().st_ino == (out / "later.html").stat().st_ino
    unlinked: list[str] = []
    unlink = os.unlink
    monkeypatch.setattr(
        os, "unlink", lambda path, *a, **k: (unlinked.append(str(path)), unlink(path, *a, **k))
    )
    report = write_site(
        [Output("changes.html", b"3", "x"), Output("later.html", b"3", "x")], out, spare=spare
    )
    assert snapshot(out) == {"changes.html": b"3", "later.html": b"3"}  # shorter: truncated first
    assert [Path(path).name for path in unlinked] == ["later.html"]  # changes.html written over
    assert report.written == 2
    # The output replaced is the spare now, exactly as it was: later.html was not written through.
    assert snapshot(spare) == {"changes.html": b"2", "later.html": b"1"}
    assert stat.S_IMODE((out / "changes.html").stat().st_mode) == 0o666 & ~_umask()


@pytest.mark.skipif(sys.platform != "linux", reason="files are written over in place only on Linux")
def test_a_spare_s_file_someone_reads_is_replaced_not_written_over(tmp_path: Path) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    write_site([Output("a.html", b"1", "x")], out, spare=spare)
    write_site([Output("a.html", b"2", "x")], out, spare=spare)
    with open(spare / "a.html", "rb") as reader:  # a download of the output before last, still going
        write_site([Output("a.html", b"3", "x")], out, spare=spare)
        assert reader.read() == b"1"
    assert (out / "a.html").read_bytes() == b"3"


def test_a_spare_s_file_with_another_mode_is_replaced_not_rewritten(tmp_path: Path) -> None:
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    write_site([Output("a.html", b"1", "x")], out, spare=spare)
    write_site([Output("a.html", b"2", "x")], out, spare=spare)
    (spare / "a.html").chmod(0o600)
    with open(spare / "a.html", "rb") as own:
        write_site([Output("a.html", b"3", "x")], out, spare=spare)
        assert own.read() == b"1"
    assert (out / "a.html").read_bytes() == b"3"
    assert stat.S_IMODE((out / "a.html").stat().st_mode) == 0o666 & ~_umask()


def test_a_folder_under_a_symlinked_folder_of_the_old_output_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "css").mkdir(parents=True)
    (outside / "css/x.css").write_bytes(b"x")
    out = tmp_path / "_site"
    write_site([Output("index.html", b"i", "x")], out)
    (out / "assets").symlink_to(outside)
    write_site([Output("index.html", b"i", "x"), Output("assets/css/x.css", b"x", "x")], out)
    assert not (out / "assets").is_symlink()
    assert (out / "assets/css/x.css").read_bytes() == b"x"
    assert (out / "assets/css/x.css").stat().st_ino != (outside / "css/x.css").stat().st_ino


def test_files_made_by_several_threads_from_small_batches_are_each_made_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many small batches: the file maker's threads take turns, on files that share folders, and
    # on a spare whose files must become folders and folders files.
    monkeypatch.setattr(_FileMakerProcess, "BATCH_BYTES", 2048)
    out, spare = tmp_path / "_site", tmp_path / "cache/spare"
    first = [
        Output(f"{folder}/{number}.html", b"%d" % number * 100, "x")
        for folder in "abc"
        for number in range(300)
    ]
    first += [Output(f"d{number}", b"file", "x") for number in range(50)]
    second = [Output(f"{folder}", b"now a file", "x") for folder in "ab"]
    second += [
        Output(f"d{number}/{page}.html", b"%d" % page * 100, "x") for number in range(50) for page in range(6)
    ]
    second += first[600:900]  # c/ as it was, linked
    for outputs in (first, second, first, second):
        report = write_site(outputs, out, True, spare)
        assert snapshot(out) == {output.path: output.data for output in outputs}
        assert report.files == len(outputs)
    assert report.written == len(outputs) - 300  # c/'s 300 files linked from the previous output


def test_the_file_maker_stops_at_its_first_error_and_still_reads_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_FileMakerProcess, "BATCH_BYTES", 2048)
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "blocker").write_bytes(b"a file where a folder is wanted")

    def hung(*_: object) -> None:
        raise TimeoutError("the parent waits on a full pipe: the file maker stopped reading")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with _FileMakerProcess(staging, None) as maker, pytest.raises(FileExistsError):
            for number in range(300):
                maker.make(f"before/{number}.html", b"x" * 1000)
            maker.make("blocker/page.html", b"x")
            for number in range(4000):  # 4 MB: more than the pipe and the threads' queue hold
                maker.make(f"after/{number}.html", b"x" * 1000)
            maker.finish()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(list((staging / "before").iterdir())) == 300


def test_threads_making_files_in_a_folder_that_was_a_file_wait_for_the_file_to_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A recycled staging folder has a file "a" where this build needs the folder "a/": the thread
    # that removes it holds the others back, or they would find "a" still a file.
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "a").write_bytes(b"a file, to become a folder")
    maker = _FileMaker(staging, None, recycled=True)
    unlink = os.unlink

    def slow_unlink(path: str) -> None:
        time.sleep(0.3)
        unlink(path)

    monkeypatch.setattr(os, "unlink", slow_unlink)
    start = threading.Barrier(2)
    failures: list[OSError] = []

    def make(name: str) -> None:
        start.wait()
        try:
            maker.make(f"a/{name}.html", name.encode())
        except OSError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=make, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert snapshot(staging) == {"a/one.html": b"one", "a/two.html": b"two"}
