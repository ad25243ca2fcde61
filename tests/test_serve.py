"""``sitegen serve`` through a real HTTP client: pages, reload events, the error overlay, traversal."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitegen.build import BuildOptions, build
from sitegen.serve import PreviewServer, ServeError

from .conftest import SiteFactory, paper_text

CONFIG = "title: Preview\nbase_url: https://user.github.io/repo/\n"
PAPER = "content/papers/2024/2401.00001.md"
WAIT = 15.0


@pytest.fixture
def site(make_site: SiteFactory) -> Path:
    return make_site(
        {
            PAPER: paper_text("2401.00001", "Original title", "2024-01-15"),
            "content/papers/2024/2401.00002.md": paper_text("2401.00002", "Other", "2024-01-16"),
        },
        config=CONFIG,
    )


@pytest.fixture
def server(site: Path) -> Iterator[PreviewServer]:
    messages: list[str] = []
    preview = PreviewServer(site, BuildOptions(today=dt.date(2024, 6, 1)), port=0, log=messages.append)
    preview.start()
    yield preview
    preview.stop()


def fetch(server: PreviewServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    host, port = server.httpd.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw_request(server: PreviewServer, target: bytes) -> tuple[int, bytes]:
    """Send a request line exactly as given, bypassing any client-side normalisation."""
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as connection:
        connection.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


class EventListener:
    """Reads the server-sent event stream in a thread and queues each event's name."""

    def __init__(self, server: PreviewServer, since: int) -> None:
        host, port = server.httpd.server_address[:2]
        self.events: queue.Queue[str] = queue.Queue()
        self.connection = http.client.HTTPConnection(str(host), port, timeout=WAIT + 5)
        self.connection.request("GET", f"/__sitegen__/events?since={since}")
        self.response = self.connection.getresponse()
        assert self.response.getheader("Content-Type") == "text/event-stream"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response:
                if line.startswith(b"event: "):
                    self.events.put(line[7:].strip().decode())
        except (OSError, ValueError):
            pass

    def next_event(self) -> str:
        return self.events.get(timeout=WAIT)

    def close(self) -> None:
        self.connection.close()


def edit(site: Path, text: str) -> None:
    (site / PAPER).write_text(text, encoding="utf-8")


def test_serves_under_the_base_path_and_redirects_the_root(server: PreviewServer) -> None:
    assert server.url.endswith("/repo/") and server.url.startswith("http://127.0.0.1:")
    status, headers, _ = fetch(server, "/")
    assert (status, headers["Location"]) == (302, "/repo/")
    status, headers, body = fetch(server, "/repo/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"Papers of" in body and b"/__sitegen__/events" in body
    status, headers, _ = fetch(server, "/repo/papers/2401.00001")
    assert (status, headers["Location"]) == (302, "/repo/papers/2401.00001/")


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/repo/assets/style.css", "text/css; charset=utf-8"),
        ("/repo/feed.xml", "application/xml; charset=utf-8"),
        ("/repo/feed.atom", "application/atom+xml; charset=utf-8"),
        ("/repo/feed.json", "application/feed+json; charset=utf-8"),
        ("/repo/robots.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_types(server: PreviewServer, path: str, kind: str) -> None:
    status, headers, body = fetch(server, path)
    assert status == 200 and headers["Content-Type"] == kind
    assert b"EventSource" not in body  # only HTML gets the reload script


def test_missing_pages_get_the_sites_404_with_status_404(server: PreviewServer) -> None:
    status, _, body = fetch(server, "/repo/no/such/page/")
    assert status == 404
    assert b"Page not found" in body
    assert fetch(server, "/elsewhere/")[0] == 404


def test_an_edit_sends_a_reload_event_then_serves_the_new_content(site: Path, server: PreviewServer) -> None:
    listener = EventListener(server, server.state.snapshot.version)
    try:
        started = time.monotonic()
        edit(site, paper_text("2401.00001", "Changed title", "2024-01-15"))
        assert listener.next_event() == "reload"
        assert time.monotonic() - started < WAIT
        _, _, body = fetch(server, "/repo/papers/2401.00001/")
        assert b"<h1>Changed title</h1>" in body
    finally:
        listener.close()


def test_a_broken_edit_shows_the_error_and_keeps_the_last_good_page(
    site: Path, server: PreviewServer
) -> None:
    listener = EventListener(server, server.state.snapshot.version)
    try:
        edit(site, paper_text("2401.00001", "Broken title", "2024-02-30"))
        assert listener.next_event() == "reload"
        status, _, body = fetch(server, "/repo/papers/2401.00001/")
        assert status == 200
        assert b"<h1>Original title</h1>" in body
        assert b'id="sitegen-error"' in body
        assert (
            b"2401.00001.md:5: &#x27;date&#x27; must be a date written YYYY-MM-DD, got &#x27;2024-02-30&#x27;"
            in body
        )

        edit(site, paper_text("2401.00001", "Fixed title", "2024-01-15"))
        assert listener.next_event() == "reload"
        _, _, body = fetch(server, "/repo/papers/2401.00001/")
        assert b"<h1>Fixed title</h1>" in body
        assert b"sitegen-error" not in body
    finally:
        listener.close()


TRAVERSALS = [
    b"/repo/../secret.txt",
    b"/repo/../../secret.txt",
    b"/repo/%2e%2e/secret.txt",
    b"/repo/%2E%2E/%2E%2E/secret.txt",
    b"/repo/..%2fsecret.txt",
    b"/repo/%2e%2e%2fsecret.txt",
    b"/repo/..\\secret.txt",
    b"/repo/%5c..%5csecret.txt",
    b"/repo/papers/../../secret.txt",
    b"/repo/./../secret.txt",
    b"/repo/%252e%252e/secret.txt",
    b"/repo/%00/../secret.txt",
    b"/repo/index.html%00.txt",
    b"/repo/%c0%ae%c0%ae/secret.txt",
    b"//secret.txt",
    b"/repo//etc/passwd",
    b"/etc/passwd",
    b"http://127.0.0.1/repo/../secret.txt",
    b"/repo/escape/secret.txt",
    b"/repo/escape-file",
    b"//[",
    b"/repo/%ff%fe",
]


def test_nothing_outside_the_output_folder_is_ever_served(server: PreviewServer) -> None:
    root = server.state.snapshot.root
    assert root is not None
    secret = b"TOP SECRET - never served"
    (root.parent / "secret.txt").write_bytes(secret)
    (root / "escape").symlink_to(root.parent, target_is_directory=True)
    (root / "escape-file").symlink_to(root.parent / "secret.txt")
    assert len(TRAVERSALS) >= 10
    for target in TRAVERSALS:
        status, body = raw_request(server, target)
        assert status in (400, 404), target
        assert secret not in body, target
        assert b"root:" not in body, target


def test_binds_to_loopback_by_default_and_reports_a_busy_port(site: Path, server: PreviewServer) -> None:
    host, port = server.httpd.server_address[:2]
    assert host == "127.0.0.1"
    with pytest.raises(ServeError, match=f"port {port} on 127.0.0.1 is in use .*; pass another --port"):
        PreviewServer(site, BuildOptions(), port=port)


def test_build_output_never_contains_the_reload_script(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    build(repo, BuildOptions(output=tmp_path / "out"))
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"__sitegen__" not in data and b"EventSource" not in data, path


def test_the_command_starts_and_stops_cleanly_on_ctrl_c(site: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "sitegen", "serve", str(site), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + WAIT
        while "Serving" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/repo/" in line
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "stopped" in stdout
    assert "Traceback" not in stderr


def test_binding_elsewhere_warns(site: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-c", (
            "import sys; from sitegen.cli import main; from sitegen import serve;"
            "serve.PreviewServer.start = lambda self: (_ for _ in ()).throw(KeyboardInterrupt);"
            f"sys.exit(main(['serve', {str(site)!r}, '--host', '0.0.0.0', '--port', '0']))"
        )],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ},
    )  # fmt: skip
    assert "warning: serving on 0.0.0.0 makes the preview reachable from other machines" in process.stderr
    assert process.returncode == 0


def test_a_percent_encoded_base_path_is_served(make_site: SiteFactory) -> None:
    site = make_site(
        {PAPER: paper_text()}, config="base_url: https://example.org/my%20site/\n", name="spaced"
    )
    preview = PreviewServer(site, BuildOptions(today=dt.date(2024, 6, 1)), port=0, log=lambda _: None)
    preview.start()
    try:
        status, headers, _ = fetch(preview, "/")
        assert (status, headers["Location"]) == (302, "/my%20site/")
        assert fetch(preview, "/my%20site/")[0] == 200
        assert fetch(preview, "/my%20site/papers/2401.00001/")[0] == 200
    finally:
        preview.stop()


def test_a_page_from_before_a_restart_reloads(server: PreviewServer) -> None:
    listener = EventListener(server, server.state.snapshot.version + 50)
    try:
        assert listener.next_event() == "reload"
    finally:
        listener.close()
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as connection:
        connection.sendall(b"GET /__sitegen__/events?since=%C2%B2 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(64).startswith(b"HTTP/1.1 200 OK")


def test_a_busy_port_leaves_no_temporary_folder(site: Path, server: PreviewServer) -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("sitegen-serve-*"))
    with pytest.raises(ServeError):
        PreviewServer(site, BuildOptions(), port=server.httpd.server_address[1])
    assert set(Path(tempfile.gettempdir()).glob("sitegen-serve-*")) == before


def test_rebuilds_leave_no_garbage_behind(server: PreviewServer) -> None:
    """A build keeps what it planned out of the collector's sight until it ends (``settled``),
    garbage made before then included; the server, which builds again and again, collects it."""
    import gc

    for _ in range(3):
        assert server.rebuild()
        assert gc.collect() < 100  # 779 at the first rebuild when the server does not collect
    assert gc.get_freeze_count() == 0
