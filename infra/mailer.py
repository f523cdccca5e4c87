"""SMTP delivery with aiosmtplib: URL parsing, message building, one batch over one connection.

`send_batch` runs on the event loop (no thread to outlive a cancelled sender). The URL is parsed
here: aiosmtplib takes a host, a port and TLS flags, not a URL.
"""
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiosmtplib

Security = Literal["plain", "starttls", "tls"]

# scheme -> (how the connection is secured, default port)
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_MAX_ERROR_LENGTH = 500
# The server refused one message; aiosmtplib has reset the transaction and the session can go
# on (a ValueError: an address it would not put in the envelope, nothing sent).
_REFUSALS = (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused,
             aiosmtplib.SMTPDataError, aiosmtplib.SMTPNotSupported, ValueError)
# Anything else leaves the session in an unknown state (its connection errors are OSErrors).
_BROKEN = (OSError, aiosmtplib.SMTPException)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Outgoing:
    """One notice ready to go: the outbox row's id and the message built from it."""

    notification_id: int
    message: EmailMessage


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://`, `smtp+starttls://` or `smtps://`, optionally `user:password@`, host, port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"SMTP URL scheme must be one of {', '.join(_SCHEMES)}, not {scheme!r}")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("SMTP URL takes no path, query or fragment")
    if (parts.username is None) != (parts.password is None):
        raise ValueError("SMTP URL needs both a user and a password, or neither")
    try:
        port = parts.port
    except ValueError as exc:  # urllib says "Port out of range 0-65535" and the like
        raise ValueError(f"SMTP URL has an invalid port: {exc}") from None
    if port == 0:
        raise ValueError("SMTP URL has an invalid port: 0")
    security, default_port = _SCHEMES[scheme]
    return SmtpConfig(
        host=parts.hostname,
        port=default_port if port is None else port,
        security=security,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def build_message(*, notification_id: int, created_at: datetime, sender: str, recipient: str,
                  subject: str, body: str) -> EmailMessage:
    """A plain-text message whose Message-ID derives from the outbox row.

    A notice sent twice (a worker died between the server's acceptance and recording it) then
    carries the same Message-ID both times, which lets mail clients fold the duplicate.
    """
    domain = sender.rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(created_at)
    message["Message-ID"] = (
        f"<notification.{notification_id}.{created_at:%Y%m%d%H%M%S%f}@{domain}>"
    )
    message.set_content(body)
    return message


def describe_error(exc: BaseException) -> str:
    """One line for `last_error`: the server's reply when there is one."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        replies = [_reply(refused.code, refused.message) for refused in exc.recipients]
        text = "recipient refused: " + "; ".join(replies)
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = _reply(exc.code, exc.message)
    elif isinstance(exc, aiosmtplib.SMTPConnectError) and exc.__cause__ is not None:
        # aiosmtplib wraps the socket's error: name that one (ConnectionRefusedError, ...)
        text = f"{type(exc.__cause__).__name__}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:_MAX_ERROR_LENGTH]


_ADDRESS = re.compile(r"[^\s<>@,;:\"']+@[^\s<>@,;:\"']+")


def without_addresses(text: str) -> str:
    """`text` for the log: servers echo the refused address in their replies."""
    return _ADDRESS.sub("<address>", text)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {text}"


async def _connect(config: SmtpConfig, timeout: float) -> aiosmtplib.SMTP:
    """Connected, secured as the URL says (never upgraded unasked), and logged in."""
    smtp = aiosmtplib.SMTP(
        hostname=config.host, port=config.port, timeout=timeout,
        use_tls=config.security == "tls", start_tls=config.security == "starttls",
        tls_context=ssl.create_default_context() if config.security != "plain" else None,
        username=config.username, password=config.password)
    await smtp.connect()
    return smtp


async def send_batch(config: SmtpConfig, batch: Sequence[Outgoing], *, timeout: float,
                     deadline: float) -> dict[int, str | None]:
    """Send over one connection; per notification id, None if accepted or the error.

    Notices not started before `deadline` (time.monotonic) are left out of the result: they keep
    their lease and go out later, so a slow server cannot make a lease expire mid-batch.
    A refused message does not end the batch; a lost connection fails everything not yet sent.
    """
    try:
        smtp = await _connect(config, timeout)
    except _BROKEN as exc:
        error = describe_error(exc)
        return {item.notification_id: error for item in batch}
    outcomes: dict[int, str | None] = {}
    try:
        for position, item in enumerate(batch):
            if time.monotonic() > deadline:
                break
            try:
                await smtp.send_message(item.message)
                outcomes[item.notification_id] = None
            except _REFUSALS as exc:
                outcomes[item.notification_id] = describe_error(exc)
            except _BROKEN as exc:  # connection lost or in an unknown state: fail the rest
                error = describe_error(exc)
                outcomes.update({rest.notification_id: error for rest in batch[position:]})
                break
    finally:
        await _quit(smtp)
    return outcomes


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """Say goodbye; what the server accepted stays accepted whatever QUIT answers."""
    try:
        await smtp.quit()
    except _BROKEN:
        smtp.close()
