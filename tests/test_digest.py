"""``sitegen digest``: the day's papers as an e-mail, sent to a real SMTP server on 127.0.0.1.

Messages are checked as a reader's mail program sees them: parsed with the ``email`` package,
the HTML part with BeautifulSoup.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import html5lib
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from bs4 import BeautifulSoup

from sitegen import mail
from sitegen.cli import main
from sitegen.config import load_config
from sitegen.digest import DIGEST_LIMIT
from sitegen.errors import InputError

from .conftest import SiteFactory, paper_text
from .helpers import soup

ROOT = Path(__file__).resolve().parent.parent
FROM = "Digest Bot <digest@example.org>"
READERS = ["ada@example.org", "alan@example.net"]
UMLAUT_TITLE = "Über Quantisierung — 量子化 ✓"
SCRIPT_TITLE = "Seeing <script>alert(1)</script> Things"
AMPERSAND_TITLE = "Plain R&D Notes"

CONFIG = """\
title: Lesegruppe Ü ✓
base_url: {base_url}
topics:
  vision: Computer vision
  language-models: Language models
"""

DAY = {
    # Two topics: listed under its first one only.
    "content/papers/2024/2403.00001.md": paper_text(
        "2403.00001", UMLAUT_TITLE, "2024-03-11", "[language-models, vision]"
    ),
    "content/papers/2024/2403.00002.md": paper_text("2403.00002", SCRIPT_TITLE, "2024-03-11", "[vision]"),
    "content/papers/2024/2403.00003.md": paper_text("2403.00003", AMPERSAND_TITLE, "2024-03-11", "[]"),
    "content/papers/2024/2403.00004.md": paper_text("2403.00004", "Another Day", "2024-03-12", "[vision]"),
}
SUBJECT = "Lesegruppe Ü ✓ — 11 March 2024: 3 papers"


@dataclass
class Recorder:
    """An SMTP handler that keeps what it is sent; subclasses refuse at one step or another."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class RefusingRecipients(Recorder):
    """Refuses some recipients, quoting the address as Postfix does."""

    refused: tuple[str, ...] = ()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class CappingRecipients(Recorder):
    """A provider's limit on recipients a message: 452 for every one past ``cap`` in a transaction."""

    cap: int = 3

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.cap:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class RefusingData(Recorder):
    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        return "550 5.7.1 Rejected as spam"


class ClosingOnQuit(Recorder):
    """Accepts the message, then answers QUIT with 421, as some servers do when busy."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Envelope) -> str:
        return "421 4.3.2 Service shutting down"


class DroppingAfterData(Recorder):
    """Takes the message's data, then drops the connection without confirming it."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        server.transport.close()
        return "250 Message accepted for delivery"


def raw(envelope: Envelope) -> bytes:
    """The message as the server received it (aiosmtpd keeps bytes unless told to decode)."""
    assert isinstance(envelope.content, bytes)
    return envelope.content


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accept_digest_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (b"digest", b"s3cret")
    return AuthResult(success=good, handled=False)  # handled=False: the server answers 535 itself


@dataclass
class MailServer:
    handler: Recorder
    port: int

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(raw(envelope), policy=email.policy.default)
            for envelope in self.handler.envelopes
        ]


@pytest.fixture
def start_server() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(handler: Recorder | None = None, **options: Any) -> MailServer:
        server = MailServer(handler or Recorder(), free_port())
        controller = Controller(server.handler, hostname="127.0.0.1", port=server.port, **options)
        controller.start()
        controllers.append(controller)
        return server

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(autouse=True)
def no_mail_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they set, never the machine's."""
    for name in (
        "SITEGEN_SMTP_HOST",
        "SITEGEN_SMTP_PORT",
        "SITEGEN_SMTP_TLS",
        "SITEGEN_SMTP_USER",
        "SITEGEN_SMTP_PASSWORD",
        "SITEGEN_DIGEST_FROM",
        "SITEGEN_DIGEST_TO",
        "SITEGEN_DIGEST_UNSUBSCRIBE",
    ):
        monkeypatch.delenv(name, raising=False)


def mail_settings_for(monkeypatch: pytest.MonkeyPatch, port: int, **more: str) -> None:
    settings = {
        "SITEGEN_SMTP_HOST": "127.0.0.1",
        "SITEGEN_SMTP_PORT": str(port),
        "SITEGEN_SMTP_TLS": "none",
        "SITEGEN_DIGEST_FROM": FROM,
        **more,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def make_day_site(make_site: SiteFactory, base_url: str = "https://example.org/", **files: str) -> Path:
    return make_site({**DAY, **files}, config=CONFIG.format(base_url=base_url))


def recipients_file(tmp_path: Path) -> Path:
    path = tmp_path / "readers.txt"
    path.write_text(
        "# The reading group\n\nada@example.org\n   # lapsed: bob@example.org\nalan@example.net\nADA@example.org\n",
        encoding="utf-8",
    )
    return path


def many_readers(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    readers = [f"reader{number}@example.org" for number in range(1, count + 1)]
    path = tmp_path / "many.txt"
    path.write_text("".join(f"{address}\n" for address in readers), encoding="utf-8")
    return path, readers


def sitegen(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def send(capsys: pytest.CaptureFixture[str], site: Path, tmp_path: Path, *more: str) -> tuple[int, str, str]:
    return sitegen(
        capsys,
        "digest", str(site), "--date", "2024-03-11", "--send", "--recipients", str(recipients_file(tmp_path)),
        *more,
    )  # fmt: skip


def send_to(capsys: pytest.CaptureFixture[str], site: Path, readers: Path) -> tuple[int, str, str]:
    return sitegen(
        capsys, "digest", str(site), "--date", "2024-03-11", "--send", "--recipients", str(readers)
    )


def html_of(message: EmailMessage) -> BeautifulSoup:
    part = message.get_body(("html",))
    assert part is not None
    return BeautifulSoup(part.get_content(), "html.parser")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def groups_of(document: BeautifulSoup) -> dict[str, list[str]]:
    """Group heading → the titles under it, in the order a reader sees them."""
    groups: dict[str, list[str]] = {}
    for heading in document.find_all(["h2", "h3"]):
        if heading.name == "h2":
            current = groups.setdefault(heading.get_text(strip=True), [])
        else:
            current.append(heading.get_text(strip=True))
    return groups


# --- sending ----------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["https://example.org/", "https://user.github.io/repo/"])
def test_one_message_to_every_recipient_as_bcc(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    base_url: str,
) -> None:
    server = start_server()
    mail_settings_for(monkeypatch, server.port)
    code, out, err = send(capsys, make_day_site(make_site, base_url), tmp_path)

    assert (code, err) == (0, "")
    assert out == f"Sent the digest of 11 March 2024 (3 papers) to 2 recipients via 127.0.0.1:{server.port}\n"
    (envelope,) = server.handler.envelopes
    assert envelope.mail_from == "digest@example.org"
    assert envelope.rcpt_tos == READERS
    (message,) = server.messages
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == SUBJECT
    assert message["From"] == FROM
    assert message["To"] == "undisclosed-recipients:;"
    assert message["Date"] and message["Message-ID"]
    assert "Bcc" not in message
    raw_headers = raw(envelope).split(b"\r\n\r\n", 1)[0].lower()
    for reader in READERS:
        assert reader.encode() not in raw_headers

    paper_urls = {f"{base_url}papers/2403.0000{n}/" for n in (1, 2, 3)}
    links = {str(a["href"]) for a in html_of(message).find_all("a")}
    assert paper_urls <= links
    assert f"{base_url}papers/2403.00004/" not in links, "another day's paper"
    assert all(link.startswith(("https://", "mailto:")) for link in links)
    text = text_of(message)
    for url in paper_urls:
        assert url in text
    assert f"{base_url}2024/03/11/" in text


@pytest.fixture
def day_server(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Any:
    """The day site's digest sent to a local server: the server, holding what it received."""
    server = start_server()
    mail_settings_for(monkeypatch, server.port)
    assert send(capsys, make_day_site(make_site), tmp_path)[0] == 0
    return server


def test_papers_are_grouped_by_first_topic_with_other_last(day_server: Any) -> None:
    (message,) = day_server.messages

    assert groups_of(html_of(message)) == {
        "Computer vision": [SCRIPT_TITLE],
        "Language models": [UMLAUT_TITLE],
        "Other": [AMPERSAND_TITLE],
    }
    text = text_of(message)
    assert text.index("COMPUTER VISION") < text.index("LANGUAGE MODELS") < text.index("OTHER")
    assert text.count(UMLAUT_TITLE) == 1


def test_non_ascii_survives_in_the_subject_and_both_parts_of_a_7_bit_message(day_server: Any) -> None:
    (envelope,) = day_server.handler.envelopes
    raw(envelope).decode("ascii")  # raises on any 8-bit byte
    (message,) = day_server.messages

    assert message["Subject"] == SUBJECT
    assert UMLAUT_TITLE in text_of(message)
    assert UMLAUT_TITLE in [h3.get_text(strip=True) for h3 in html_of(message).find_all("h3")]
    for part in message.iter_parts():
        assert part.get_content_charset() == "utf-8"


def test_user_text_is_escaped_in_html_and_left_alone_in_plain_text(day_server: Any) -> None:
    (message,) = day_server.messages

    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    document = html_of(message)
    assert document.find("script") is None
    assert SCRIPT_TITLE in [h3.get_text(strip=True) for h3 in document.find_all("h3")]
    text = text_of(message)
    assert SCRIPT_TITLE in text
    assert AMPERSAND_TITLE in text
    assert "&amp;" not in text and "&lt;" not in text


def test_the_html_part_is_valid_and_styled_inline_only(day_server: Any) -> None:
    (message,) = day_server.messages
    html_part = message.get_body(("html",))
    assert html_part is not None
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html_part.get_content())

    document = html_of(message)
    assert document.find_all(["style", "script", "link", "img", "iframe"]) == []
    assert [tag.name for tag in document.find_all(class_=True)] == []
    assert [tag.name for tag in document.find_all(["h1", "h2", "h3", "p", "a"]) if not tag.get("style")] == []
    assert [
        name for tag in document.find_all(True) for name in tag.attrs if name.lower().startswith("on")
    ] == []


def test_a_day_without_papers_sends_nothing(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server()
    mail_settings_for(monkeypatch, server.port)
    code, out, err = sitegen(
        capsys, "digest", str(make_day_site(make_site)), "--date", "2024-03-13", "--send",
        "--recipients", str(recipients_file(tmp_path)),
    )  # fmt: skip
    assert (code, out, err) == (0, "No papers on 13 March 2024 (2024-03-13); nothing sent.\n", "")
    assert server.handler.envelopes == []


def test_recipients_can_come_from_the_environment(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = start_server()
    mail_settings_for(monkeypatch, server.port, SITEGEN_DIGEST_TO=" ada@example.org,alan@example.net, ")
    code, _, err = sitegen(capsys, "digest", str(make_day_site(make_site)), "--date", "2024-03-11", "--send")
    assert (code, err) == (0, "")
    assert server.handler.envelopes[0].rcpt_tos == READERS


def test_a_login_is_used_when_given(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server(authenticator=accept_digest_login, auth_require_tls=False)
    mail_settings_for(monkeypatch, server.port, SITEGEN_SMTP_USER="digest", SITEGEN_SMTP_PASSWORD="s3cret")
    assert send(capsys, make_day_site(make_site), tmp_path)[0] == 0
    assert len(server.handler.envelopes) == 1


# --- failures: exit 1, one clear line, no traceback -----------------------------------------


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (
            RefusingRecipients(refused=tuple(READERS)),
            "refused every recipient: 550 5.1.1 <…>: Recipient address rejected: User unknown "
            "({readers}:3, {readers}:5); nothing was sent",
        ),
        (RefusingData(), "refused the message: 550 5.7.1 Rejected as spam; nothing was sent"),
    ],
    ids=["550 on RCPT", "550 on DATA"],
)
def test_a_refusing_server_is_a_clear_error(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    handler: Recorder,
    message: str,
) -> None:
    server = start_server(handler)
    mail_settings_for(monkeypatch, server.port)
    code, out, err = send(capsys, make_day_site(make_site), tmp_path)
    assert (code, out) == (1, "")
    readers = tmp_path / "readers.txt"
    assert err == f"sitegen: the mail server 127.0.0.1:{server.port} {message.format(readers=readers)}\n"
    assert server.handler.envelopes == []


def test_some_refused_recipients_are_named_and_fail_the_run(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server(RefusingRecipients(refused=("alan@example.net",)))
    mail_settings_for(monkeypatch, server.port)
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 1
    assert err == (
        f"sitegen: the mail server 127.0.0.1:{server.port} refused 1 of 2 recipients: "
        f"550 5.1.1 <…>: Recipient address rejected: User unknown ({tmp_path / 'readers.txt'}:5); "
        "the other 1 were sent the digest\n"
    )
    assert server.handler.envelopes[0].rcpt_tos == ["ada@example.org"]


def test_a_refused_login_is_a_clear_error(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server(authenticator=accept_digest_login, auth_require_tls=False)
    mail_settings_for(monkeypatch, server.port, SITEGEN_SMTP_USER="digest", SITEGEN_SMTP_PASSWORD="wrong")
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 1
    assert err == (
        f"sitegen: the mail server 127.0.0.1:{server.port} refused the login of 'digest': "
        "535 5.7.8 Authentication credentials invalid; "
        "check SITEGEN_SMTP_USER and SITEGEN_SMTP_PASSWORD; nothing was sent\n"
    )
    assert "wrong" not in err


def test_no_server_listening_is_a_clear_error(
    make_site: SiteFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    port = free_port()
    mail_settings_for(monkeypatch, port)
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 1
    assert err == (
        f"sitegen: cannot connect to the mail server 127.0.0.1:{port}: Connection refused; "
        "check SITEGEN_SMTP_HOST and SITEGEN_SMTP_PORT; nothing was sent\n"
    )


def test_starttls_is_required_unless_turned_off(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server()
    mail_settings_for(monkeypatch, server.port, SITEGEN_SMTP_TLS="starttls")
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 1
    assert err.startswith(
        f"sitegen: cannot start TLS with the mail server 127.0.0.1:{server.port}: it does not offer STARTTLS; "
    )
    assert server.handler.envelopes == []


def test_missing_settings_are_listed_at_once(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 2
    assert err == (
        "sitegen: cannot send the digest: set SITEGEN_SMTP_HOST and SITEGEN_DIGEST_FROM (see docs/digest.md)\n"
    )


def test_bad_settings_recipients_and_unsubscribe_link_are_listed_at_once(
    make_site: SiteFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    mail_settings_for(
        monkeypatch, 25, SITEGEN_SMTP_HOST="smtp.example.org", SITEGEN_SMTP_PORT="smtp",
        SITEGEN_SMTP_USER="digest", SITEGEN_SMTP_PASSWORD="x", SITEGEN_SMTP_BATCH="0",
        SITEGEN_DIGEST_FROM="nobody", SITEGEN_DIGEST_UNSUBSCRIBE="http://example.org/unsubscribe",
    )  # fmt: skip
    readers = tmp_path / "readers.txt"
    readers.write_text("ada@example.org\nAlan <alan@example.net>\n", encoding="utf-8")
    code, out, err = sitegen(
        capsys, "digest", str(make_day_site(make_site)), "--send", "--recipients", str(readers)
    )
    assert (code, out) == (2, "")
    assert err == (
        "sitegen: cannot send the digest (see docs/digest.md):\n"
        "SITEGEN_SMTP_PORT must be a port number from 1 to 65535, got 'smtp'\n"
        "SITEGEN_SMTP_TLS=none would send the readers' addresses and the password to smtp.example.org "
        "unencrypted; use starttls or ssl (none is only for a mail server on this machine: localhost, "
        "127.0.0.0/8 or ::1)\n"
        "SITEGEN_SMTP_BATCH must be a whole number of recipients from 1 up, got '0'\n"
        "SITEGEN_DIGEST_FROM must be an address such as digest@example.org or "
        "'Reading Group <digest@example.org>', got 'nobody'\n"
        f"{readers}:2: not a bare e-mail address; write addresses such as a@b.org, one address a line\n"
        "SITEGEN_DIGEST_UNSUBSCRIBE must be a mailto: or https:// URL such as "
        "mailto:digest@example.org?subject=unsubscribe, got 'http://example.org/unsubscribe'\n"
    )
    assert "alan@example.net" not in err


@pytest.mark.parametrize("login", [False, True], ids=["no login", "login"])
def test_no_tls_is_refused_for_a_host_on_another_machine(
    make_site: SiteFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    login: bool,
) -> None:
    credentials = {"SITEGEN_SMTP_USER": "digest", "SITEGEN_SMTP_PASSWORD": "x"} if login else {}
    mail_settings_for(monkeypatch, 25, SITEGEN_SMTP_HOST="smtp.example.org", **credentials)
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 2
    password = " and the password" if login else ""
    assert err == (
        f"sitegen: cannot send the digest: SITEGEN_SMTP_TLS=none would send the readers' addresses{password} "
        "to smtp.example.org unencrypted; use starttls or ssl (none is only for a mail server on this "
        "machine: localhost, 127.0.0.0/8 or ::1) (see docs/digest.md)\n"
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("smtp.example.org", False),
        ("localhost.example.org", False),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("::2", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert mail.is_loopback(host) is loopback


@pytest.mark.parametrize("batch", ["none", "-5", "1.5", "0"])
def test_the_batch_size_must_be_a_positive_whole_number(
    make_site: SiteFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    batch: str,
) -> None:
    mail_settings_for(monkeypatch, 25, SITEGEN_SMTP_BATCH=batch)
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert (code, err) == (
        2,
        f"sitegen: cannot send the digest: SITEGEN_SMTP_BATCH must be a whole number of recipients "
        f"from 1 up, got '{batch}' (see docs/digest.md)\n",
    )


def test_bad_recipient_lines_are_named_and_nothing_is_sent(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server()
    mail_settings_for(monkeypatch, server.port)
    readers = tmp_path / "readers.txt"
    readers.write_text("ada@example.org\nAlan Turing <alan@example.net>\n\nnobody\n", encoding="utf-8")
    code, _, err = sitegen(
        capsys, "digest", str(make_day_site(make_site)), "--date", "2024-03-11", "--send",
        "--recipients", str(readers),
    )  # fmt: skip
    assert code == 2
    assert err == (
        "sitegen: cannot send the digest (see docs/digest.md):\n"
        f"{readers}:2: not a bare e-mail address; write addresses such as a@b.org, one address a line\n"
        f"{readers}:4: not a bare e-mail address; write addresses such as a@b.org, one address a line\n"
    )
    assert "alan@example.net" not in err
    assert server.handler.envelopes == []


def test_bad_recipients_in_the_variable_are_named_by_position(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mail_settings_for(monkeypatch, 25, SITEGEN_DIGEST_TO="ada@example.org, Alan <alan@example.net>")
    code, _, err = sitegen(capsys, "digest", str(make_day_site(make_site)), "--send")
    assert (code, err) == (
        2,
        "sitegen: cannot send the digest: SITEGEN_DIGEST_TO:2: not a bare e-mail address; "
        "write addresses such as a@b.org, separated by commas (see docs/digest.md)\n",
    )


# --- batches, retries and what was accepted ---------------------------------------------------


def delivered(server: MailServer) -> Counter[str]:
    """How many times each address was in a transaction whose message the server took."""
    return Counter(address for envelope in server.handler.envelopes for address in envelope.rcpt_tos)


@pytest.mark.parametrize(
    ("batch", "cap", "transactions"),
    [
        # Batches of 4 against a limit of 3: each batch's fourth reader is retried on their own.
        ("4", 3, [3, 1, 3, 1, 2]),
        # The default batch of 50 against a limit of 6: the 4 refused with 452 are retried together.
        ("", 6, [6, 4]),
    ],
    ids=["batches of 4, limit 3", "default batch, limit 6"],
)
def test_recipients_go_in_batches_and_452s_are_retried_so_each_gets_one_copy(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    batch: str,
    cap: int,
    transactions: list[int],
) -> None:
    server = start_server(CappingRecipients(cap=cap))
    mail_settings_for(monkeypatch, server.port, SITEGEN_SMTP_BATCH=batch)
    path, readers = many_readers(tmp_path, 10)
    code, out, err = send_to(capsys, make_day_site(make_site), path)
    assert (code, err) == (0, "")
    assert (
        out == f"Sent the digest of 11 March 2024 (3 papers) to 10 recipients via 127.0.0.1:{server.port}\n"
    )
    assert delivered(server) == Counter(readers)
    assert [len(envelope.rcpt_tos) for envelope in server.handler.envelopes] == transactions
    assert len({raw(envelope) for envelope in server.handler.envelopes}) == 1, "the same message every time"


def test_recipients_refused_again_after_the_retry_fail_the_run_without_their_addresses(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server(CappingRecipients(cap=2))
    mail_settings_for(monkeypatch, server.port)
    path, readers = many_readers(tmp_path, 7)
    code, out, err = send_to(capsys, make_day_site(make_site), path)
    assert (code, out) == (1, "")
    assert delivered(server) == Counter(readers[:4])
    assert err == (
        f"sitegen: the mail server 127.0.0.1:{server.port} refused 3 of 7 recipients: "
        f"452 4.5.3 Too many recipients ({path}:5, {path}:6, {path}:7); the other 4 were sent the digest "
        "(SITEGEN_SMTP_BATCH=50 may be above the server's limit on recipients a message)\n"
    )


def test_no_recipient_address_is_printed_when_recipients_are_refused(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path, readers = many_readers(tmp_path, 12)
    server = start_server(RefusingRecipients(refused=tuple(readers[::2])))
    mail_settings_for(monkeypatch, server.port, SITEGEN_SMTP_BATCH="5")
    code, out, err = send_to(capsys, make_day_site(make_site), path)
    assert code == 1
    assert re.search(r"[\w.]+@example\.org", out + err) is None, "an address in the output"
    assert "refused 6 of 12 recipients: 550 5.1.1 <…>: Recipient address rejected: User unknown (" in err
    assert f"{path}:1, {path}:3, {path}:5, {path}:7, {path}:9 and 1 more); the other 6 were sent" in err


def test_addresses_in_other_server_replies_are_masked() -> None:
    assert mail.mask("ada@example.org") == "a***@example.org"
    assert mail._text(b"550 5.7.1 <ada@example.org>: Sender address rejected") == (
        "550 5.7.1 <a***@example.org>: Sender address rejected"
    )


def test_a_421_reply_to_quit_after_the_message_was_accepted_is_only_a_warning(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server(ClosingOnQuit())
    mail_settings_for(monkeypatch, server.port)
    code, out, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 0
    assert out == f"Sent the digest of 11 March 2024 (3 papers) to 2 recipients via 127.0.0.1:{server.port}\n"
    assert err == (
        f"sitegen: warning: the mail server 127.0.0.1:{server.port} accepted the digest, then answered QUIT "
        "with 421 4.3.2 Service shutting down; the digest was sent all the same\n"
    )
    assert "nothing was sent" not in err
    assert len(server.handler.envelopes) == 1


def test_a_connection_lost_during_data_may_have_sent_the_message(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = start_server(DroppingAfterData())
    mail_settings_for(monkeypatch, server.port)
    code, _, err = send(capsys, make_day_site(make_site), tmp_path)
    assert code == 1
    assert err == (
        f"sitegen: cannot send through the mail server 127.0.0.1:{server.port}: Connection unexpectedly "
        "closed; the digest may have been sent to 2 of 2 recipients: the connection failed before the "
        "server confirmed it\n"
    )


def test_a_failure_after_some_batches_says_how_many_were_sent(
    make_site: SiteFactory,
    start_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    @dataclass
    class SpamAfterOne(Recorder):
        async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
            if self.envelopes:
                return "554 5.7.1 Too much mail"
            self.envelopes.append(envelope)
            return "250 OK"

    server = start_server(SpamAfterOne())
    mail_settings_for(monkeypatch, server.port, SITEGEN_SMTP_BATCH="2")
    path, _ = many_readers(tmp_path, 5)
    code, _, err = send_to(capsys, make_day_site(make_site), path)
    assert code == 1
    assert err == (
        f"sitegen: the mail server 127.0.0.1:{server.port} refused the message: 554 5.7.1 Too much mail; "
        "the digest was sent to 2 of 5 recipients; the other 3 were not sent it\n"
    )


# --- the size cap -------------------------------------------------------------------------------


def test_a_long_day_is_capped_and_links_to_the_day_page(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = {
        f"content/papers/2024/2403.{n:05d}.md": paper_text(
            f"2403.{n:05d}", f"Paper {n:03d}", "2024-03-11", "[vision]" if n % 2 else "[language-models]",
            extra=f"upvotes: {n}\n",
        )
        for n in range(1, 121)
    }  # fmt: skip
    site = make_site(files, config=CONFIG.format(base_url="https://example.org/"))
    code, out, _ = sitegen(capsys, "digest", str(site), "--date", "2024-03-11")
    assert code == 0
    message = email.message_from_string(out, policy=email.policy.default)
    assert message["Subject"] == "Lesegruppe Ü ✓ — 11 March 2024: 120 papers"

    # The day's listing order is most upvoted first: papers 120 down to 71, then grouped.
    first = {f"Paper {n:03d}" for n in range(71, 121)}
    groups = groups_of(html_of(message))
    assert list(groups) == ["Computer vision", "Language models"]
    assert groups["Computer vision"] == [f"Paper {n:03d}" for n in range(119, 70, -2)]
    assert sum(len(titles) for titles in groups.values()) == DIGEST_LIMIT
    assert {title for titles in groups.values() for title in titles} == first

    document = html_of(message)
    more = document.find("a", string="All 120 papers of 11 March 2024 →")
    assert more is not None and more["href"] == "https://example.org/2024/03/11/"
    assert [tag.name for tag in document.find_all(["h1", "h2", "h3", "p", "a"]) if not tag.get("style")] == []
    html_part = message.get_body(("html",))
    assert html_part is not None
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html_part.get_content())
    text = text_of(message)
    assert "All 120 papers of 11 March 2024 →\nhttps://example.org/2024/03/11/\n" in text
    assert "Paper 070" not in text and "Paper 071" in text

    out_file = tmp_path / "digest.eml"
    code, out, _ = sitegen(capsys, "digest", str(site), "--date", "2024-03-11", "-o", str(out_file))
    assert (code, out) == (
        0,
        f"Wrote the digest of 11 March 2024 (the first 50 of 120 papers) to {out_file}\n",
    )


def test_a_short_day_has_no_all_papers_link(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = sitegen(capsys, "digest", str(make_day_site(make_site)), "--date", "2024-03-11")
    assert code == 0
    message = email.message_from_string(out, policy=email.policy.default)
    assert "All 3 papers" not in text_of(message)
    assert html_of(message).find("a", string=re.compile("^All ")) is None


def test_the_text_part_lists_each_papers_links(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_day_site(
        make_site,
        **{
            "content/papers/2024/2403.00002.md": paper_text(
                "2403.00002", SCRIPT_TITLE, "2024-03-11", "[vision]",
                extra="links: {code: https://github.com/example/seeing}\n",
            )
        },
    )  # fmt: skip
    code, out, _ = sitegen(capsys, "digest", str(site), "--date", "2024-03-11")
    assert code == 0
    text = text_of(email.message_from_string(out, policy=email.policy.default))
    entry = text[text.index(SCRIPT_TITLE) :].split("\n\n")[0].splitlines()
    assert entry[2:] == [
        "  https://example.org/papers/2403.00002/",
        "  arXiv: https://arxiv.org/abs/2403.00002",
        "  PDF: https://arxiv.org/pdf/2403.00002",
        "  Code: https://github.com/example/seeing",
    ]


# --- docs and the daily workflow ----------------------------------------------------------------


def test_every_mail_variable_is_documented_and_passed_by_the_workflow() -> None:
    names = {value for name, value in vars(mail).items() if name.startswith("ENV_")}
    doc = (ROOT / "docs/digest.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(SITEGEN_[A-Z_]+)`", doc, flags=re.MULTILINE))
    assert documented == names
    workflow = yaml.safe_load((ROOT / ".github/workflows/daily.yml").read_text(encoding="utf-8"))
    assert set(workflow["jobs"]["digest"]["env"]) == names


def test_the_workflow_sends_the_day_it_fetched_with_read_only_permissions() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/daily.yml").read_text(encoding="utf-8"))
    fetch_build, digest = workflow["jobs"]["fetch-build"], workflow["jobs"]["digest"]
    assert digest["permissions"] == {"contents": "read"}
    assert fetch_build["outputs"]["date"] == "${{ steps.day.outputs.date }}"
    (day,) = [step for step in fetch_build["steps"] if step.get("id") == "day"]
    assert "date -u +%F" in day["run"]
    (fetch,) = [step for step in fetch_build["steps"] if "sitegen fetch" in step.get("run", "")]
    assert '--date "$DAY"' in fetch["run"] and fetch["env"]["DAY"] == "${{ steps.day.outputs.date }}"
    (send_step,) = [step for step in digest["steps"] if "sitegen digest" in step.get("run", "")]
    assert '--date "$DAY"' in send_step["run"]
    assert send_step["env"]["DAY"] == "${{ needs.fetch-build.outputs.date }}"


# --- preview ----------------------------------------------------------------------------------


def test_preview_prints_the_message_and_latest_is_the_newest_day(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SITEGEN_DIGEST_FROM", FROM)
    monkeypatch.setenv("SITEGEN_DIGEST_UNSUBSCRIBE", "mailto:digest@example.org?subject=unsubscribe")
    code, out, err = sitegen(capsys, "digest", str(make_day_site(make_site)), "--date", "latest")
    assert (code, err) == (0, "")
    message = email.message_from_string(out, policy=email.policy.default)
    assert message["Subject"] == "Lesegruppe Ü ✓ — 12 March 2024: 1 paper"
    assert message["From"] == FROM
    assert message["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe>"
    assert "Unsubscribe: mailto:digest@example.org?subject=unsubscribe" in text_of(message)


def test_preview_to_a_file_and_without_a_sender(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "digest.eml"
    site = make_day_site(make_site)
    code, out, err = sitegen(capsys, "digest", str(site), "--date", "2024-03-11", "-o", str(out_file))
    assert (code, out, err) == (0, f"Wrote the digest of 11 March 2024 (3 papers) to {out_file}\n", "")
    message = email.message_from_bytes(out_file.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == SUBJECT
    assert "From" not in message

    code, out, err = sitegen(capsys, "digest", str(site), "--date", "2024-03-13")
    assert (code, out) == (0, "")
    assert err == "No papers on 13 March 2024 (2024-03-13); no digest.\n"


def test_the_default_day_is_today_in_the_sites_time_zone(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    config = CONFIG.format(base_url="https://example.org/") + "timezone: Pacific/Kiritimati\n"
    site = make_site(
        {"content/papers/today.md": paper_text("2499.00001", "Today", today.isoformat())}, config=config
    )
    code, out, _ = sitegen(capsys, "digest", str(site))
    assert code == 0
    message = email.message_from_string(out, policy=email.policy.default)
    assert message["Subject"].endswith(f"{today.day} {today.strftime('%B')} {today.year}: 1 paper")


def test_a_site_can_override_the_digest_templates(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_day_site(
        make_site,
        **{
            "templates/email/digest.txt": "{% for g in groups %}{{ g.name }}: {{ g.papers|length }}\n{% endfor %}"
        },
    )
    code, out, _ = sitegen(capsys, "digest", str(site), "--date", "2024-03-11")
    assert code == 0
    message = email.message_from_string(out, policy=email.policy.default)
    assert text_of(message) == "Computer vision: 1\nLanguage models: 1\nOther: 1\n"


def test_a_theme_without_email_templates_falls_back_to_the_default_ones(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(
        {**DAY, "themes/plain/templates/base.html": "{% block main %}{% endblock %}"},
        config=CONFIG.format(base_url="https://example.org/") + "theme: plain\n",
    )
    code, out, _ = sitegen(capsys, "digest", str(site), "--date", "2024-03-11")
    assert code == 0
    assert email.message_from_string(out, policy=email.policy.default)["Subject"] == SUBJECT


def test_recipients_without_send_is_a_usage_error(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    site = make_day_site(make_site)
    code, _, err = sitegen(capsys, "digest", str(site), "--recipients", str(recipients_file(tmp_path)))
    assert (code, err) == (2, "sitegen: --recipients is for --send; without it the message is only printed\n")


# --- the subscribe form -------------------------------------------------------------------------


def build_home(make_site: SiteFactory, config: str) -> BeautifulSoup:
    site = make_site({"content/papers/2024/a.md": paper_text()}, config=config)
    assert main(["build", str(site)]) == 0
    return soup(site / "_site/index.html")


def test_no_subscribe_form_by_default(make_site: SiteFactory) -> None:
    home = build_home(make_site, "base_url: https://example.org/\n")
    assert home.find("form", method="post") is None


def test_the_subscribe_form_posts_to_the_configured_provider(make_site: SiteFactory) -> None:
    config = textwrap.dedent("""\
        base_url: https://example.org/
        subscribe:
          action: https://lists.example.com/subscribe?u=1&id=2
          email_field: EMAIL
          label: Papers by e-mail
    """)
    form = build_home(make_site, config).find("footer").find("form")
    assert (form["method"], form["action"]) == ("post", "https://lists.example.com/subscribe?u=1&id=2")
    field_ = form.find("input")
    assert (field_["type"], field_["name"], field_.has_attr("required")) == ("email", "EMAIL", True)
    label = form.find("label")
    assert (label["for"], label.get_text()) == (field_["id"], "Papers by e-mail")
    assert form.find("button").get_text() == "Subscribe"
    assert form.find("script") is None


@pytest.mark.parametrize(
    ("subscribe", "messages"),
    [
        (
            "subscribe:\n  action: http://lists.example.com/\n",
            [
                "4: 'subscribe' 'action' must be an absolute https:// URL such as "
                "https://lists.example.com/subscribe, got 'http://lists.example.com/'"
            ],
        ),
        (
            "subscribe:\n  label: Join\n",
            ["3: 'subscribe' needs 'action': the https:// URL of your list provider's sign-up form"],
        ),
        (
            "subscribe:\n  action: https://lists.example.com/\n  buton: Go\n  email_field: e mail\n",
            [
                "5: 'subscribe' has an unknown key 'buton' (did you mean 'button'?)",
                "6: 'subscribe' 'email_field' must be a form field name "
                "(letters, digits, '_', '-', '.', '[', ']'), got 'e mail'",
            ],
        ),
        (
            "subscribe: https://lists.example.com/\n",
            [
                "3: 'subscribe' must be a mapping such as {action: https://lists.example.com/subscribe}, "
                "got 'https://lists.example.com/'"
            ],
        ),
    ],
    ids=["not https", "no action", "unknown key and bad field", "not a mapping"],
)
def test_bad_subscribe_settings_are_config_errors(
    tmp_path: Path, subscribe: str, messages: list[str]
) -> None:
    (tmp_path / "sitegen.yaml").write_text("title: T\nbase_url: https://example.org/\n" + subscribe)
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    assert [f"{problem.line}: {problem.message}" for problem in caught.value.problems] == messages
