"""``sitegen serve``: build, serve on 127.0.0.1, rebuild on change, reload open pages.

Each build goes into a new generation folder in a private temporary directory; the server switches
to it only once it is complete, so a request never sees a half-built site, and a failed build keeps
the last good generation served with the error shown over it. The reload script and the error
overlay are added to HTML responses as they are served: they never exist in the built files, and
``sitegen build`` output never contains them.
"""

from __future__ import annotations

import gc
import html
import mimetypes
import os
import posixpath
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote

import watchfiles

from .build import DEFAULT_OUTPUT, BuildOptions, build
from .config import load_config
from .errors import InputError, SitegenError
from .themes import find_theme

EVENTS_PATH = "/__sitegen__/events"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_PORT = 8000
PORT_TRIES = 20
KEEPALIVE_SECONDS = 10.0

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the server shows right now; replaced whole, never changed in place."""

    root: Path | None
    """The last complete generation, or None before the first good build."""
    version: int
    """Bumped after every build attempt, good or bad; pages reload when it moves past theirs."""
    error: str | None
    """The last build's error, shown over every page until a build succeeds."""


class PreviewState:
    """Shared between the builder thread and the request threads."""

    def __init__(self) -> None:
        self._snapshot = Snapshot(None, 0, None)
        self._changed = threading.Condition()
        self.stopping = False

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def publish(self, root: Path | None, error: str | None) -> None:
        with self._changed:
            current = self._snapshot
            self._snapshot = Snapshot(root or current.root, current.version + 1, error)
            self._changed.notify_all()

    def wait_past(self, version: int, timeout: float) -> Snapshot:
        with self._changed:
            self._changed.wait_for(lambda: self.stopping or self._snapshot.version > version, timeout)
            return self._snapshot

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._changed.notify_all()


def reload_snippet(version: int, error: str | None) -> bytes:
    """The script (and, after a failed build, the overlay) added before ``</body>`` while serving."""
    overlay = ""
    if error:
        overlay = (
            '<div id="sitegen-error" role="alert" style="position:fixed;inset:auto 0 0 0;z-index:2147483647;'
            "max-height:60vh;overflow:auto;margin:0;padding:1rem 1.25rem;background:#2b0d0d;color:#ffe3e3;"
            'font:14px/1.5 ui-monospace,monospace;border-top:4px solid #e5484d">'
            "<strong>sitegen: the last build failed; this is the previous version.</strong>"
            f'<pre style="white-space:pre-wrap;margin:.5rem 0 0">{html.escape(error)}</pre></div>'
        )
    script = (
        "<script>(function(){"
        f'var source=new EventSource("{EVENTS_PATH}?since={version}");'
        'source.addEventListener("reload",function(){source.close();location.reload();});'
        "})();</script>"
    )
    return (overlay + script).encode("utf-8")


def inject(page: bytes, snippet: bytes) -> bytes:
    marker = page.rfind(b"</body>")
    return page[:marker] + snippet + page[marker:] if marker >= 0 else page + snippet


def split_target(target: str) -> tuple[str, str]:
    """A request target's path and query. Not ``urlsplit``: a path such as ``//[`` would be read
    as a malformed host; absolute-form targets (``http://host/path``) keep only their path."""
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    path, _, query = target.partition("?")
    return path.partition("#")[0], query


class UnsafePath(Exception):
    """A request path that tries to leave the site."""


def resolve_request_path(root: Path, base_path: str, raw_path: str) -> Path | None:
    """The file a request path names inside ``root``; None when there is none.

    Raises ``UnsafePath`` for anything that tries to climb out: ``..`` in any spelling,
    backslashes, NUL bytes, or a symlink that points outside the site.
    """
    path = unquote(split_target(raw_path)[0], errors="strict")
    if "\\" in path or any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise UnsafePath(raw_path)  # NUL, CR/LF (header injection in redirects), backslashes
    if "%" in path and unquote(path) != path:
        raise UnsafePath(raw_path)  # double-encoded: %252e%252e
    segments = path.split("/")
    if any(segment in ("..", ".") for segment in segments):
        raise UnsafePath(raw_path)
    base_path = unquote(base_path)  # compared with the decoded request path: "/my%20site/"
    if not path.startswith(base_path):
        return None
    relative = posixpath.normpath(path[len(base_path) :] or ".")
    if relative.startswith(("/", "..")):
        raise UnsafePath(raw_path)
    candidate = root / relative
    real_root = os.path.realpath(root)
    real = os.path.realpath(candidate)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise UnsafePath(raw_path)
    if os.path.isdir(real):
        real = os.path.join(real, "index.html")
    return Path(real) if os.path.isfile(real) else None


def make_handler(state: PreviewState, base_path: str) -> type[BaseHTTPRequestHandler]:
    class PreviewHandler(BaseHTTPRequestHandler):
        server_version = "sitegen-preview"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the terminal shows builds, not every request

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            raw = self.path
            if split_target(raw)[0] == EVENTS_PATH:
                self.stream_events()
                return
            if raw.split("?", 1)[0] == "/" and base_path != "/":
                self.redirect(base_path)
                return
            snapshot = state.snapshot
            if snapshot.root is None:
                page = b"<!DOCTYPE html><html><head><title>Build failed</title></head><body></body></html>"
                self.send_bytes(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    "text/html; charset=utf-8",
                    inject(page, reload_snippet(snapshot.version, snapshot.error)),
                    head,
                )
                return
            try:
                file = resolve_request_path(snapshot.root, base_path, raw)
            except (UnsafePath, UnicodeDecodeError):
                self.send_text(HTTPStatus.BAD_REQUEST, "bad request path")
                return
            decoded = unquote(split_target(raw)[0])
            if file is not None and file.name == "index.html" and not decoded.endswith(("/", ".html")):
                self.redirect(quote(decoded + "/"))
                return
            status = HTTPStatus.OK
            if file is None:
                status = HTTPStatus.NOT_FOUND
                file = snapshot.root / "404.html"
                if not file.is_file():
                    self.send_text(status, "not found")
                    return
            self.send_file(status, file, snapshot, head)

        def send_file(self, status: HTTPStatus, file: Path, snapshot: Snapshot, head: bool) -> None:
            try:
                data = file.read_bytes()
            except OSError:
                self.send_text(HTTPStatus.NOT_FOUND, "not found")
                return
            kind = content_type(file)
            if kind.startswith("text/html"):
                data = inject(data, reload_snippet(snapshot.version, snapshot.error))
            self.send_bytes(status, kind, data, head)

        def send_bytes(self, status: HTTPStatus, kind: str, data: bytes, head: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def send_text(self, status: HTTPStatus, text: str) -> None:
            self.send_bytes(status, "text/plain; charset=utf-8", (text + "\n").encode("utf-8"))

        def redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def stream_events(self) -> None:
            since_values = parse_qs(split_target(self.path)[1]).get("since", ["0"])
            since = int(since_values[0]) if since_values[0].isascii() and since_values[0].isdigit() else 0
            if since > state.snapshot.version:
                since = 0  # a page from before the server restarted: it is out of date
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(b"retry: 500\n\n")
                self.wfile.flush()
                while not state.stopping:
                    snapshot = state.wait_past(since, KEEPALIVE_SECONDS)
                    if state.stopping:
                        return
                    if snapshot.version > since:
                        self.wfile.write(f"event: reload\ndata: {snapshot.version}\n\n".encode())
                        self.wfile.flush()
                        since = snapshot.version
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return PreviewHandler


class PreviewServer:
    """Builds ``site_dir`` into generations and serves the newest good one."""

    def __init__(
        self,
        site_dir: Path,
        options: BuildOptions,
        host: str = "127.0.0.1",
        port: int | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.site_dir = site_dir
        self.options = options
        self.log = log
        self.state = PreviewState()
        self.generation = 0
        self._stop = threading.Event()
        self._build_lock = threading.Lock()
        self._serving = False
        self._watching = threading.Event()
        self.base_path = self._base_path()
        self.httpd = bind(host, port, make_handler(self.state, self.base_path))
        self.workdir = Path(tempfile.mkdtemp(prefix="sitegen-serve-"))  # once the port is ours

    def _base_path(self) -> str:
        try:
            overrides = {"base_url": self.options.base_url} if self.options.base_url else None
            return load_config(self.site_dir, overrides).base_path
        except InputError:
            return "/"  # the first build reports the problem

    @property
    def url(self) -> str:
        host, port = str(self.httpd.server_address[0]), self.httpd.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{self.base_path}"

    def rebuild(self) -> bool:
        """One build into a new generation; publish it, or publish the error and keep the old one."""
        try:
            return self._build_and_publish()
        finally:
            # What a build kept out of the collector's sight (``garbage.settled``) and gave back
            # at its end sits in the oldest generation, which is seldom collected; and this
            # process builds again and again. Collected once the new generation is published.
            gc.collect()

    def _build_and_publish(self) -> bool:
        with self._build_lock:
            if self._stop.is_set():
                return False
            self.generation += 1
            target = self.workdir / f"generation-{self.generation}"
            started = time.perf_counter()
            try:
                report = build(self.site_dir, replace(self.options, output=target))
            except InputError as exc:
                message = "\n".join(str(problem) for problem in exc.problems)
                self.state.publish(None, message)
                self.log(f"build failed:\n{message}")
                return False
            except SitegenError as exc:
                self.state.publish(None, str(exc))
                self.log(f"build failed: {exc}")
                return False
            previous = self.state.snapshot.root
            self.base_path = report.plan.config.base_path
            self.httpd.RequestHandlerClass = make_handler(self.state, self.base_path)
            self.state.publish(target, None)
            for warning in report.plan.warnings:
                self.log(str(warning))
            self.log(f"built {len(report.plan.pages)} pages in {time.perf_counter() - started:.2f} s")
            if previous is not None:
                # Requests still reading the previous generation finish before the one before it goes.
                self._discard_older_than(previous)
            return True

    def _discard_older_than(self, keep: Path) -> None:
        current = {keep, self.state.snapshot.root}
        for folder in self.workdir.iterdir():
            if folder.name.startswith("generation-") and folder not in current:
                shutil.rmtree(folder, ignore_errors=True)

    def watched_paths(self) -> list[Path]:
        paths = [self.site_dir]
        try:
            theme = find_theme(self.site_dir, load_config(self.site_dir).theme)
            if self.site_dir.resolve() not in theme.resolve().parents:
                paths.append(theme)
        except SitegenError:
            pass
        return paths

    def watch(self) -> None:
        roots = [path.resolve() for path in self.watched_paths()]
        output = (self.site_dir / DEFAULT_OUTPUT).resolve()
        default_filter = watchfiles.DefaultFilter()

        def relevant(change: watchfiles.Change, path: str) -> bool:
            resolved = Path(path).resolve()
            if resolved == output or output in resolved.parents:
                return False
            root = next((r for r in roots if r == resolved or r in resolved.parents), None)
            inside = resolved.relative_to(root).parts if root else resolved.parts
            # Hidden files and folders (editor swap files, .git, build staging) are not the site.
            return not any(part.startswith(".") for part in inside) and default_filter(change, path)

        for changes in watchfiles.watch(
            *roots,
            watch_filter=relevant,
            debounce=200,
            step=50,
            stop_event=self._stop,
            raise_interrupt=False,
            rust_timeout=100,
            yield_on_timeout=True,
        ):
            self._watching.set()  # the first (empty) yield comes once the watcher is in place
            if not changes:
                continue
            names = sorted({Path(path).name for _, path in changes})
            self.log(f"changed: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}")
            self.rebuild()

    def start(self) -> None:
        """Build once, then serve and watch in background threads; returns once both are ready."""
        self.rebuild()
        self._serving = True
        threading.Thread(target=self.httpd.serve_forever, name="sitegen-http", daemon=True).start()
        threading.Thread(target=self.watch, name="sitegen-watch", daemon=True).start()
        self._watching.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        self.state.stop()
        if self._serving:
            self.httpd.shutdown()  # waits for serve_forever, so only once it has started
        self.httpd.server_close()
        with self._build_lock:  # a build under way finishes before its folder is removed
            shutil.rmtree(self.workdir, ignore_errors=True)


def bind(host: str, port: int | None, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Bind ``port``, or the first free one from 8000 when no port was asked for."""
    candidates = [port] if port is not None else range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES)
    server_class = _server_class(host)
    last_error: OSError | None = None
    for candidate in candidates:
        try:
            return server_class((host, candidate), handler)
        except OSError as exc:
            last_error = exc
    if port is not None:
        raise ServeError(f"port {port} on {host} is in use ({last_error}); pass another --port") from None
    raise ServeError(
        f"ports {DEFAULT_PORT}-{DEFAULT_PORT + PORT_TRIES - 1} on {host} are all in use; pass --port"
    ) from None


class ServeError(SitegenError):
    """The preview server cannot start."""


def _server_class(host: str) -> type[ThreadingHTTPServer]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True
        allow_reuse_address = sys.platform != "win32"

    return Server


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(site_dir: Path, options: BuildOptions, host: str, port: int | None, open_browser: bool) -> int:
    """Run the preview until Ctrl-C."""
    if host not in LOCAL_HOSTS:
        print(
            f"warning: serving on {host} makes the preview reachable from other machines; "
            "the default 127.0.0.1 keeps it on this one",
            file=sys.stderr,
        )
    server = PreviewServer(site_dir, options, host, port)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
        print(f"Serving {site_dir} at {server.url} (Ctrl-C to stop)", flush=True)
        if open_browser:
            webbrowser.open(server.url)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
        return 0
    finally:
        server.stop()
