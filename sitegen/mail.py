"""Sending the digest: settings from environment variables, recipient lists, one Bcc message per run.

Nothing about sending lives in ``sitegen.yaml``: that file is committed and published, while the
server's login and the readers' addresses are secrets a CI job passes in as environment variables.
"""

from __future__ import annotations

import email.utils
import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, cast

from .errors import DeliveryError, UsageError

ENV_HOST = "SITEGEN_SMTP_HOST"
ENV_PORT = "SITEGEN_SMTP_PORT"
ENV_TLS = "SITEGEN_SMTP_TLS"
ENV_USER = "SITEGEN_SMTP_USER"
ENV_PASSWORD = "SITEGEN_SMTP_PASSWORD"
ENV_FROM = "SITEGEN_DIGEST_FROM"
ENV_TO = "SITEGEN_DIGEST_TO"
ENV_UNSUBSCRIBE = "SITEGEN_DIGEST_UNSUBSCRIBE"

Tls = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: Mapping[Tls, int] = {"starttls": 587, "ssl": 465, "none": 25}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
TIMEOUT_SECONDS = 60.0

ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+$")
"""A bare address, ``ada@example.org``: what an SMTP envelope takes."""


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where and how to send, from the ``SITEGEN_SMTP_*`` and ``SITEGEN_DIGEST_FROM`` variables."""

    host: str
    port: int
    tls: Tls
    """``starttls`` (upgrade a plain connection), ``ssl`` (TLS from the start) or ``none``."""
    sender: str
    """The ``From:`` header: ``digest@example.org`` or ``Reading Group <digest@example.org>``."""
    user: str = ""
    """Login name; no login when empty."""
    password: str = field(default="", repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def sender_address(self) -> str:
        return email.utils.parseaddr(self.sender)[1]


def check_sender(text: str, source: str = ENV_FROM) -> str:
    """A ``From:`` value with one valid address, else ``UsageError`` saying what to write."""
    name, address = email.utils.parseaddr(text)
    if "\n" in text or "\r" in text or not ADDRESS.match(address):
        raise UsageError(
            f"{source} must be an address such as digest@example.org or "
            f"'Reading Group <digest@example.org>', got {text!r}"
        )
    return email.utils.formataddr((name, address)) if name else address


def sender_from_environment(environ: Mapping[str, str]) -> str | None:
    text = environ.get(ENV_FROM, "").strip()
    return check_sender(text) if text else None


def unsubscribe_from_environment(environ: Mapping[str, str]) -> str:
    """The optional ``List-Unsubscribe`` link: a ``mailto:`` or ``https://`` URL."""
    text = environ.get(ENV_UNSUBSCRIBE, "").strip()
    if text and (not re.match(r"^(?:mailto:\S+@|https://)\S+$", text) or re.search(r"[<>\"']", text)):
        raise UsageError(
            f"{ENV_UNSUBSCRIBE} must be a mailto: or https:// URL such as "
            f"mailto:digest@example.org?subject=unsubscribe, got {text!r}"
        )
    return text


def mail_settings(environ: Mapping[str, str]) -> MailSettings:
    """Read and check every setting, reporting every missing or wrong one at once."""
    problems: list[str] = []
    missing = [name for name in (ENV_HOST, ENV_FROM) if not environ.get(name, "").strip()]
    if missing:
        problems.append(f"set {' and '.join(missing)}")
    host = environ.get(ENV_HOST, "").strip()

    tls_text = environ.get(ENV_TLS, "").strip().lower() or "starttls"
    if tls_text not in DEFAULT_PORTS:
        problems.append(f"{ENV_TLS} must be starttls, ssl or none, got {tls_text!r}")
        tls_text = "starttls"
    tls = cast(Tls, tls_text)

    port = DEFAULT_PORTS[tls]
    port_text = environ.get(ENV_PORT, "").strip()
    if port_text:
        if port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            problems.append(f"{ENV_PORT} must be a port number from 1 to 65535, got {port_text!r}")

    user = environ.get(ENV_USER, "").strip()
    password = environ.get(ENV_PASSWORD, "")
    if bool(user) != bool(password):
        given, absent = (ENV_USER, ENV_PASSWORD) if user else (ENV_PASSWORD, ENV_USER)
        problems.append(f"{given} is set but {absent} is not; set both, or neither to send without a login")
    if user and tls == "none" and host not in LOOPBACK_HOSTS:
        problems.append(
            f"{ENV_TLS}=none would send the password to {host} unencrypted; use starttls or ssl "
            "(none is for a mail server on this machine)"
        )

    sender = ""
    if ENV_FROM not in missing:
        try:
            sender = check_sender(environ[ENV_FROM].strip())
        except UsageError as exc:
            problems.append(str(exc))
    if problems:
        raise UsageError(f"cannot send the digest: {'; '.join(problems)} (see docs/digest.md)")
    return MailSettings(host, port, tls, sender, user, password)


def read_recipients(path: Path) -> tuple[str, ...]:
    """One address a line; blank lines and lines starting with ``#`` are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read the recipients file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"the recipients file {path} is not UTF-8 text ({exc.reason})") from None
    entries = [
        (f"{path}:{number}", line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    return _recipients(entries, f"the recipients file {path}")


def recipients_from_environment(environ: Mapping[str, str]) -> tuple[str, ...]:
    """``SITEGEN_DIGEST_TO``: addresses separated by commas."""
    entries = [(ENV_TO, part.strip()) for part in environ.get(ENV_TO, "").split(",") if part.strip()]
    return _recipients(entries, f"{ENV_TO} (or give --recipients FILE)")


def _recipients(entries: Iterable[tuple[str, str]], source: str) -> tuple[str, ...]:
    """Valid addresses, each once (compared without case), in the order given."""
    unique: dict[str, str] = {}
    bad: list[str] = []
    for where, address in entries:
        if ADDRESS.match(address):
            unique.setdefault(address.casefold(), address)
        else:
            bad.append(f"{where}: {address!r} is not an e-mail address; write one bare address, a@b.org")
    if bad:
        raise UsageError("bad recipients; nothing was sent:\n" + "\n".join(bad))
    if not unique:
        raise UsageError(f"no recipients in {source}; nothing was sent")
    return tuple(unique.values())


def send_digest(message: EmailMessage, recipients: Sequence[str], settings: MailSettings) -> None:
    """Send ``message`` once, in one SMTP transaction. The recipients go in the envelope only, as
    Bcc: no header names them, so no reader learns another's address.

    Raises ``DeliveryError`` naming the step and the server's answer when anything fails, and also
    when the server refused some recipients but took the others.
    """
    server = settings.server
    step = "connect to"
    try:
        with _connect(settings) as smtp:
            if settings.tls == "starttls":
                step = "start TLS with"
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                step = "log in to"
                smtp.login(settings.user, settings.password)
            step = "send through"
            refused = smtp.send_message(message, from_addr=settings.sender_address, to_addrs=list(recipients))
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"the mail server {server} refused the login of {settings.user!r}: {_reply(exc)}; "
            f"check {ENV_USER} and {ENV_PASSWORD}; nothing was sent"
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(
            f"the mail server {server} refused the sender {settings.sender_address}: {_reply(exc)}; "
            f"check {ENV_FROM}; nothing was sent"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"the mail server {server} refused every recipient: {_refusals(exc.recipients)}; nothing was sent"
        ) from None
    except smtplib.SMTPDataError as exc:
        raise DeliveryError(
            f"the mail server {server} refused the message: {_reply(exc)}; nothing was sent"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        hints = {
            "start TLS with": f"it does not offer STARTTLS; set {ENV_TLS}=ssl for a server that wants "
            "TLS from the start (usually port 465)",
            "log in to": f"it does not offer a login here; unset {ENV_USER} and {ENV_PASSWORD}, or use TLS",
        }
        raise DeliveryError(
            f"cannot {step} the mail server {server}: {hints.get(step, str(exc))}; nothing was sent"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"cannot {step} the mail server {server}: it answered {_reply(exc)}; nothing was sent"
        ) from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"cannot {step} the mail server {server}: {exc}; nothing was sent") from None
    except ssl.SSLError as exc:
        raise DeliveryError(
            f"cannot {step} the mail server {server}: TLS failed ({exc.reason or exc}); "
            f"check {ENV_TLS} and {ENV_PORT} (starttls with 587, ssl with 465); nothing was sent"
        ) from None
    except OSError as exc:
        raise DeliveryError(
            f"cannot {step} the mail server {server}: {exc.strerror or exc}; "
            f"check {ENV_HOST} and {ENV_PORT}; nothing was sent"
        ) from None
    if refused:
        raise DeliveryError(
            f"the mail server {server} refused {len(refused)} of {len(recipients)} recipients: "
            f"{_refusals(refused)}; the other {len(recipients) - len(refused)} were sent the digest"
        )


def _connect(settings: MailSettings) -> smtplib.SMTP:
    if settings.tls == "ssl":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    return f"{exc.smtp_code} {text}"


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace')})" for address, (code, reply) in refused.items()
    )
