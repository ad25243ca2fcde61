"""Sending the digest: settings from environment variables, recipient lists, Bcc messages in batches.

Nothing about sending lives in ``sitegen.yaml``: that file is committed and published, while the
server's login and the readers' addresses are secrets a CI job passes in as environment variables.
For the same reason no message names a reader's address: the daily job's log may be public, so a
reader is named by where the address was given (``readers.txt:4``) and a server's reply has every
address in it masked (``a***@example.org``).
"""

from __future__ import annotations

import email.generator
import email.policy
import email.utils
import io
import ipaddress
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
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
ENV_BATCH = "SITEGEN_SMTP_BATCH"
ENV_FROM = "SITEGEN_DIGEST_FROM"
ENV_TO = "SITEGEN_DIGEST_TO"
ENV_UNSUBSCRIBE = "SITEGEN_DIGEST_UNSUBSCRIBE"

Tls = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: Mapping[Tls, int] = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_BATCH = 50
"""Recipients per message: Amazon SES takes at most 50 a message, Gmail about 100."""
TIMEOUT_SECONDS = 60.0
PLACES_SHOWN = 5
"""Refused recipients named in one message; the rest are counted."""

ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+$")
"""A bare address, ``ada@example.org``: what an SMTP envelope takes."""
ADDRESS_IN_TEXT = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+")

Reply = tuple[int, str]
"""A server's reply code and its text, addresses masked."""
Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where and how to send, from the ``SITEGEN_SMTP_*`` and ``SITEGEN_DIGEST_FROM`` variables."""

    host: str
    port: int
    tls: Tls
    """``starttls`` (upgrade a plain connection), ``ssl`` (TLS from the start) or ``none`` (loopback only)."""
    sender: str
    """The ``From:`` header: ``digest@example.org`` or ``Reading Group <digest@example.org>``."""
    user: str = ""
    """Login name; no login when empty."""
    password: str = field(default="", repr=False)
    batch: int = DEFAULT_BATCH
    """Recipients per SMTP transaction: providers refuse (452) recipients past their own limit."""

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def sender_address(self) -> str:
        return email.utils.parseaddr(self.sender)[1]


@dataclass(frozen=True, slots=True)
class Recipient:
    """A reader's address and where it was given, so that a message can name the reader without it."""

    address: str
    where: str
    """``readers.txt:4`` (the file and line) or ``SITEGEN_DIGEST_TO:2`` (the second address there)."""


@dataclass(frozen=True, slots=True)
class Mailing:
    """Everything ``--send`` needs besides the message, checked together."""

    settings: MailSettings
    recipients: tuple[Recipient, ...]
    unsubscribe: str
    """The ``List-Unsubscribe`` link, or empty."""


@dataclass(slots=True)
class Delivery:
    """What one run of ``send_digest`` did for each recipient."""

    total: int
    sent: list[Recipient] = field(default_factory=list)
    """In a transaction whose message the server accepted."""
    unconfirmed: list[Recipient] = field(default_factory=list)
    """In the transaction during whose DATA the connection failed: the message may have been sent."""
    refused: dict[Recipient, Reply] = field(default_factory=dict)
    """Refused for good: a 5xx reply to RCPT, or a 4xx one again when retried."""

    def outcome(self) -> str:
        """``nothing was sent``, or whom the digest reached before things went wrong."""
        sent, unsure = len(self.sent), len(self.unconfirmed)
        if not sent and not unsure:
            told = "nothing was sent"
        elif not unsure:
            told = f"the digest was sent to {sent} of {self.total} recipients"
        else:
            before = f"was sent to {sent} of {self.total} recipients and " if sent else ""
            count = f"{unsure} more" if sent else f"{unsure} of {self.total} recipients"
            told = (
                f"the digest {before}may have been sent to {count}: the connection failed "
                "before the server confirmed it"
            )
        rest = self.total - sent - unsure
        if told != "nothing was sent" and rest:
            told += f"; the other {rest} were not sent it"
        if self.refused:
            told += f"; {len(self.refused)} had been refused: {_refusals(self.refused)}"
        return told


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
    problems: list[str] = []
    text = _unsubscribe(environ, problems)
    if problems:
        raise UsageError(problems[0])
    return text


def mailing_from_environment(environ: Mapping[str, str], recipients_file: Path | None) -> Mailing:
    """Settings, recipients (from ``recipients_file``, else ``SITEGEN_DIGEST_TO``) and the
    unsubscribe link, every missing or wrong one reported at once in one ``UsageError``."""
    problems: list[str] = []
    settings = _settings(environ, problems)
    if recipients_file is not None:
        recipients = _recipients_file(recipients_file, problems)
    else:
        recipients = _recipients_variable(environ, problems)
    unsubscribe = _unsubscribe(environ, problems)
    if len(problems) == 1:
        raise UsageError(f"cannot send the digest: {problems[0]} (see docs/digest.md)")
    if problems:
        raise UsageError("cannot send the digest (see docs/digest.md):\n" + "\n".join(problems))
    return Mailing(settings, recipients, unsubscribe)


def is_loopback(host: str) -> bool:
    """``localhost``, an address in 127.0.0.0/8, or ``::1``: a server on this machine."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def mask(address: str) -> str:
    """``ada@example.org`` → ``a***@example.org``: enough to tell readers apart, not to write to one."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _settings(environ: Mapping[str, str], problems: list[str]) -> MailSettings:
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
    if tls == "none" and host and not is_loopback(host):
        problems.append(
            f"{ENV_TLS}=none would send the readers' addresses"
            + (" and the password" if user else "")
            + f" to {host} unencrypted; use starttls or ssl "
            "(none is only for a mail server on this machine: localhost, 127.0.0.0/8 or ::1)"
        )

    batch = DEFAULT_BATCH
    batch_text = environ.get(ENV_BATCH, "").strip()
    if batch_text:
        if batch_text.isdigit() and int(batch_text) > 0:
            batch = int(batch_text)
        else:
            problems.append(f"{ENV_BATCH} must be a whole number of recipients from 1 up, got {batch_text!r}")

    sender = ""
    if ENV_FROM not in missing:
        try:
            sender = check_sender(environ[ENV_FROM].strip())
        except UsageError as exc:
            problems.append(str(exc))
    return MailSettings(host, port, tls, sender, user, password, batch)


def _recipients_file(path: Path, problems: list[str]) -> tuple[Recipient, ...]:
    """One address a line; blank lines and lines starting with ``#`` are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        problems.append(f"cannot read the recipients file {path}: {exc.strerror or exc}")
        return ()
    except UnicodeDecodeError as exc:
        problems.append(f"the recipients file {path} is not UTF-8 text ({exc.reason})")
        return ()
    entries = [
        (f"{path}:{number}", line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    return _recipients(entries, f"the recipients file {path}", "one address a line", problems)


def _recipients_variable(environ: Mapping[str, str], problems: list[str]) -> tuple[Recipient, ...]:
    """``SITEGEN_DIGEST_TO``: addresses separated by commas."""
    parts = [part.strip() for part in environ.get(ENV_TO, "").split(",") if part.strip()]
    entries = [(f"{ENV_TO}:{number}", part) for number, part in enumerate(parts, start=1)]
    return _recipients(entries, f"{ENV_TO} (or give --recipients FILE)", "separated by commas", problems)


def _recipients(
    entries: Iterable[tuple[str, str]], source: str, layout: str, problems: list[str]
) -> tuple[Recipient, ...]:
    """Valid addresses, each once (compared without case), in the order given. A bad entry is
    named by its place only: it may hold an address."""
    unique: dict[str, Recipient] = {}
    bad = False
    for where, address in entries:
        if ADDRESS.match(address):
            unique.setdefault(address.casefold(), Recipient(address, where))
        else:
            bad = True
            problems.append(f"{where}: not a bare e-mail address; write addresses such as a@b.org, {layout}")
    if not unique and not bad:
        problems.append(f"no recipients in {source}")
    return tuple(unique.values())


def _unsubscribe(environ: Mapping[str, str], problems: list[str]) -> str:
    text = environ.get(ENV_UNSUBSCRIBE, "").strip()
    if text and (not re.match(r"^(?:mailto:\S+@|https://)\S+$", text) or re.search(r"[<>\"']", text)):
        problems.append(
            f"{ENV_UNSUBSCRIBE} must be a mailto: or https:// URL such as "
            f"mailto:digest@example.org?subject=unsubscribe, got {text!r}"
        )
        return ""
    return text


def send_digest(
    message: EmailMessage,
    recipients: Sequence[Recipient],
    settings: MailSettings,
    warn: Warn = lambda line: None,
) -> Delivery:
    """Send ``message`` over one connection, in one transaction per ``settings.batch`` recipients.

    The recipients go in the envelope only, as Bcc: no header names them, so no reader learns
    another's address. Recipients refused with a 4xx reply (such as 452, too many recipients)
    are tried once more in a transaction of their own. Raises ``DeliveryError`` naming the step,
    the server's answer and what had been sent when anything fails, and when the server refused
    some recipients for good. A failure after every message was accepted (a 421 reply to QUIT) is
    only a warning, passed to ``warn``.
    """
    delivery = Delivery(total=len(recipients))
    addresses = [settings.sender_address, *(recipient.address for recipient in recipients)]
    international = not all(address.isascii() for address in addresses)
    content = _flatten(message, international)
    options = ("SMTPUTF8", "BODY=8BITMIME") if international else ()
    step = "connect to"
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _connect(settings)
        smtp.ehlo_or_helo_if_needed()
        if settings.tls == "starttls":
            step = "start TLS with"
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            step = "log in to"
            smtp.login(settings.user, settings.password)
        step = "send through"
        smtp.ehlo_or_helo_if_needed()
        if international and not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "it does not take addresses with non-ASCII letters (no SMTPUTF8)"
            )
        for start in range(0, len(recipients), settings.batch):
            batch = recipients[start : start + settings.batch]
            again = _transaction(
                smtp, settings.sender_address, batch, content, options, delivery, retry=False
            )
            if again:
                _transaction(smtp, settings.sender_address, again, content, options, delivery, retry=True)
    except (smtplib.SMTPException, OSError) as exc:
        if smtp is not None:
            smtp.close()
        raise DeliveryError(f"{_failure(exc, step, settings)}; {delivery.outcome()}") from None
    _quit(smtp, settings, delivery, warn)
    if delivery.refused:
        raise DeliveryError(_refused_message(settings, delivery))
    return delivery


def _transaction(
    smtp: smtplib.SMTP,
    sender: str,
    batch: Sequence[Recipient],
    content: bytes,
    options: Sequence[str],
    delivery: Delivery,
    *,
    retry: bool,
) -> list[Recipient]:
    """One MAIL, RCPT…, DATA exchange. Returns the recipients to try again (refused with a 4xx
    reply, on the first try only); records the others' refusals in ``delivery``."""
    code, text = smtp.mail(sender, options)
    if code >= 500:
        raise smtplib.SMTPSenderRefused(code, text, sender)
    if code != 250:  # 421 (closing) or another 4xx: not the sender's fault
        raise smtplib.SMTPResponseException(code, text)
    accepted: list[Recipient] = []
    again: list[Recipient] = []
    for recipient in batch:
        code, text = smtp.rcpt(recipient.address)
        if code in (250, 251):
            accepted.append(recipient)
        elif code == 421:  # the server is closing the connection
            raise smtplib.SMTPResponseException(code, text)
        elif 400 <= code < 500 and not retry:
            again.append(recipient)
        else:
            delivery.refused[recipient] = (code, _text(text, hide=True))
    if not accepted:
        smtp.rset()
        return again
    try:
        code, text = smtp.data(content)
    except smtplib.SMTPDataError:
        raise  # DATA itself was refused: the message never went out
    except (smtplib.SMTPException, OSError):
        delivery.unconfirmed.extend(accepted)
        raise
    if code != 250:
        raise smtplib.SMTPDataError(code, text)
    delivery.sent.extend(accepted)
    return again


def _quit(smtp: smtplib.SMTP, settings: MailSettings, delivery: Delivery, warn: Warn) -> None:
    """Say goodbye. Every transaction is over, so a failure here is only a warning."""
    server = f"the mail server {settings.server} accepted the digest, then" if delivery.sent else ""
    done = "; the digest was sent all the same" if delivery.sent else ""
    try:
        code, text = smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        what = f"{server} the connection failed" if server else f"the connection to {settings.server} failed"
        warn(f"{what} at QUIT ({_exception_text(exc)}){done}")
    else:
        if code != 221:
            what = server or f"the mail server {settings.server}"
            warn(f"{what} answered QUIT with {code} {_text(text)}{done}")
    finally:
        smtp.close()


def _failure(exc: smtplib.SMTPException | OSError, step: str, settings: MailSettings) -> str:
    """What went wrong, at which step, and what to check."""
    server = settings.server
    cannot = f"cannot {step} the mail server {server}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        told = (
            f"the mail server {server} refused the login of {settings.user!r}: {_reply(exc)}; "
            f"check {ENV_USER} and {ENV_PASSWORD}"
        )
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        told = (
            f"the mail server {server} refused the sender {settings.sender_address}: {_reply(exc)}; "
            f"check {ENV_FROM}"
        )
    elif isinstance(exc, smtplib.SMTPDataError):
        told = f"the mail server {server} refused the message: {_reply(exc)}"
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        hints = {
            "start TLS with": f"it does not offer STARTTLS; set {ENV_TLS}=ssl for a server that wants "
            "TLS from the start (usually port 465)",
            "log in to": f"it does not offer a login here; unset {ENV_USER} and {ENV_PASSWORD}, or use TLS",
        }
        told = f"{cannot}: {hints.get(step, str(exc))}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        told = f"{cannot}: it answered {_reply(exc)}"
    elif isinstance(exc, smtplib.SMTPException):
        told = f"{cannot}: {_exception_text(exc)}"
    elif isinstance(exc, ssl.SSLError):
        told = (
            f"{cannot}: TLS failed ({exc.reason or exc}); "
            f"check {ENV_TLS} and {ENV_PORT} (starttls with 587, ssl with 465)"
        )
    else:
        told = f"{cannot}: {_exception_text(exc)}; check {ENV_HOST} and {ENV_PORT}"
    return told


def _refused_message(settings: MailSettings, delivery: Delivery) -> str:
    refused = len(delivery.refused)
    if delivery.sent:
        told = (
            f"the mail server {settings.server} refused {refused} of {delivery.total} recipients: "
            f"{_refusals(delivery.refused)}; the other {len(delivery.sent)} were sent the digest"
        )
    else:
        told = (
            f"the mail server {settings.server} refused every recipient: "
            f"{_refusals(delivery.refused)}; nothing was sent"
        )
    if any(code == 452 for code, _ in delivery.refused.values()):
        told += f" ({ENV_BATCH}={settings.batch} may be above the server's limit on recipients a message)"
    return told


def _connect(settings: MailSettings) -> smtplib.SMTP:
    if settings.tls == "ssl":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)


def _flatten(message: EmailMessage, international: bool) -> bytes:
    """The message as it goes over the wire, once for every transaction (as ``send_message`` does)."""
    with io.BytesIO() as out:
        policy = message.policy
        if international and isinstance(policy, email.policy.EmailPolicy):
            policy = policy.clone(utf8=True)  # addresses go out as UTF-8, under SMTPUTF8
        email.generator.BytesGenerator(out, policy=policy).flatten(message, linesep="\r\n")
        return out.getvalue()


def _text(reply: bytes | str, *, hide: bool = False) -> str:
    """A server's reply text on one line, with any address in it masked (replies often quote the
    recipient), or with ``hide``, replaced by ``…``: a refusal names its recipient by place, and
    the same reply to many recipients is then shown once."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return ADDRESS_IN_TEXT.sub(lambda found: "…" if hide else mask(found.group()), " ".join(text.split()))


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _exception_text(exc: BaseException) -> str:
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return _text(strerror or str(exc) or type(exc).__name__)


def _refusals(refused: Mapping[Recipient, Reply]) -> str:
    """``550 5.1.1 No such user (readers.txt:4, readers.txt:9)``: refusals grouped by reply."""
    places: dict[Reply, list[str]] = {}
    for recipient, reply in refused.items():
        places.setdefault(reply, []).append(recipient.where)
    told = [f"{code} {text} ({_places(wheres)})" for (code, text), wheres in places.items()]
    if len(told) > PLACES_SHOWN:
        others = sum(len(wheres) for wheres in list(places.values())[PLACES_SHOWN:])
        told[PLACES_SHOWN:] = [f"{others} more with other replies"]
    return "; ".join(told)


def _places(wheres: Sequence[str]) -> str:
    shown = ", ".join(wheres[:PLACES_SHOWN])
    return shown if len(wheres) <= PLACES_SHOWN else f"{shown} and {len(wheres) - PLACES_SHOWN} more"
