"""The notification outbox against a real PostgreSQL and a real SMTP server (aiosmtpd)."""
import asyncio
import email
import email.policy
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select, text, update

from db.engine import Database
from db.enums import OrganizationKind, Role
from db.factory import Factory
from db.organization import Organization, User
from db.outbox import Notification
from infra.mailer import SmtpConfig, parse_smtp_url
from resolvers.notifications import (
    enqueue,
    recipients_of_factory,
    recipients_of_organization,
)
from tasks.outbox import OutboxSender, retry_delay


class Mailbox:
    """An SMTP handler that keeps every accepted message and refuses the addresses in `refused`."""

    def __init__(self, refused: tuple[str, ...] = (), data_delay: float = 0.0) -> None:
        self.messages: list[EmailMessage] = []
        self.refused = set(refused)
        self.data_delay = data_delay
        self.receiving = threading.Event()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        await asyncio.sleep(self.data_delay)
        content = envelope.content.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def subjects(self) -> list[str]:
        return sorted(str(message["Subject"]) for message in self.messages)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(handler: Mailbox, port: int, **smtp_options: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    handler = Mailbox()
    with serving(handler, smtp_port):
        yield handler


def _sender(database: Database, port: int, **options: Any) -> OutboxSender:
    return OutboxSender(database, f"smtp://127.0.0.1:{port}", smtp_timeout=5.0, **options)


async def _notify(database: Database, *addresses: str) -> None:
    async with database.unit_of_work() as session:
        for address in addresses:
            await enqueue(session, recipients=[(None, address)], topic="test.notice",
                          subject=f"Notice for {address}",
                          body=f"Dear {address},\nsomething changed.")


async def _outbox(database: Database) -> list[Notification]:
    async with database.sessions() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.id)))


async def _make_all_due(database: Database) -> None:
    async with database.unit_of_work() as session:
        await session.execute(update(Notification).values(next_attempt_at=func.now()))


async def _db_now(database: Database) -> Any:
    async with database.read() as conn:
        return (await conn.execute(select(func.now()))).scalar_one()


async def test_committed_notices_are_delivered_once_and_marked_sent(
        database: Database, mailbox: Mailbox, smtp_port: int) -> None:
    await _notify(database, "ana@brand.example", "bo@brand.example")
    sender = _sender(database, smtp_port, sender_address="alerts@escp.example")

    assert await sender.run_once() == 2
    assert await sender.run_once() == 0

    assert mailbox.subjects() == ["Notice for ana@brand.example", "Notice for bo@brand.example"]
    first = next(m for m in mailbox.messages if m["To"] == "ana@brand.example")
    assert first["From"] == "alerts@escp.example"
    assert first["Date"] is not None
    assert str(first["Message-ID"]).endswith("@escp.example>")
    body = first.get_body()
    assert body is not None
    assert body.get_content() == "Dear ana@brand.example,\nsomething changed.\n"
    rows = await _outbox(database)
    assert all(row.sent_at is not None and row.attempts == 0 for row in rows)


async def test_rolled_back_transaction_leaves_no_notice(
        database: Database, mailbox: Mailbox, smtp_port: int) -> None:
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as session:
            await enqueue(session, recipients=[(None, "ana@brand.example")], topic="test.notice",
                          subject="Never", body="The change failed.")
            await session.flush()
            raise RuntimeError("the change that caused the notice failed")

    assert await _outbox(database) == []
    assert await _sender(database, smtp_port).run_once() == 0
    assert mailbox.messages == []


async def test_notices_wait_while_smtp_server_is_down_and_are_delivered_later(
        database: Database, smtp_port: int) -> None:
    await _notify(database, "ana@brand.example", "bo@brand.example")
    sender = _sender(database, smtp_port)

    assert await sender.run_once() == 0  # nothing listens on the port yet

    rows = await _outbox(database)
    now = await _db_now(database)
    assert [row.attempts for row in rows] == [1, 1]
    assert all(row.sent_at is None and row.next_attempt_at > now for row in rows)
    assert all(row.last_error and "ConnectionRefusedError" in row.last_error for row in rows)

    handler = Mailbox()
    with serving(handler, smtp_port):
        assert await sender.run_once() == 0  # still backing off
        await _make_all_due(database)
        assert await sender.run_once() == 2

    assert handler.subjects() == ["Notice for ana@brand.example", "Notice for bo@brand.example"]
    assert all(row.sent_at is not None for row in await _outbox(database))


async def test_concurrent_senders_deliver_each_notice_exactly_once(
        database: Database, mailbox: Mailbox, smtp_port: int) -> None:
    addresses = [f"buyer{n}@brand.example" for n in range(20)]
    await _notify(database, *addresses)
    senders = [_sender(database, smtp_port, batch=3) for _ in range(3)]

    async def drain(sender: OutboxSender) -> int:
        total = 0
        while sent := await sender.run_once():
            total += sent
        return total

    totals = await asyncio.gather(*(drain(sender) for sender in senders))

    assert sum(totals) == 20
    assert mailbox.subjects() == sorted(f"Notice for {address}" for address in addresses)
    assert len({message["Message-ID"] for message in mailbox.messages}) == 20
    assert all(row.sent_at is not None for row in await _outbox(database))


async def test_sender_skips_notices_locked_by_another_sender_without_waiting(
        database: Database, mailbox: Mailbox, smtp_port: int) -> None:
    await _notify(database, "ana@brand.example")
    sender = _sender(database, smtp_port)

    async with database.unit_of_work() as session:
        await session.execute(text("SELECT id FROM notification_outbox FOR UPDATE"))
        async with asyncio.timeout(5):
            assert await sender.run_once() == 0

    assert mailbox.messages == []
    assert await sender.run_once() == 1


async def test_refused_recipient_stays_unsent_while_the_others_are_sent(
        database: Database, smtp_port: int) -> None:
    await _notify(database, "ana@brand.example", "gone@brand.example", "bo@brand.example")
    handler = Mailbox(refused=("gone@brand.example",))

    with serving(handler, smtp_port):
        assert await _sender(database, smtp_port).run_once() == 2

    assert handler.subjects() == ["Notice for ana@brand.example", "Notice for bo@brand.example"]
    refused = {row.recipient: row for row in await _outbox(database)}["gone@brand.example"]
    assert refused.sent_at is None
    assert refused.attempts == 1
    assert refused.last_error == "recipient refused: 550 5.1.1 mailbox unavailable"
    assert refused.next_attempt_at > await _db_now(database)


class EchoingMailbox(Mailbox):
    """Refuses like many real servers do: the reply names the address."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected"


async def test_a_refused_recipients_address_stays_out_of_the_log(
        database: Database, smtp_port: int, caplog: pytest.LogCaptureFixture) -> None:
    await _notify(database, "gone@brand.example")

    with serving(EchoingMailbox(), smtp_port):
        assert await _sender(database, smtp_port).run_once() == 0

    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.endswith("recipient refused: 550 5.1.1 <<address>>: Recipient address "
                            "rejected")
    [row] = await _outbox(database)  # the outbox row keeps the whole reply
    assert "gone@brand.example" in (row.last_error or "")


async def test_sender_logs_in_with_the_credentials_of_the_url(
        database: Database, smtp_port: int) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret/x")

    await _notify(database, "ana@brand.example")
    handler = Mailbox()
    with serving(handler, smtp_port, authenticator=authenticate, auth_require_tls=False):
        sender = OutboxSender(database, f"smtp://mailer:s3cret%2Fx@127.0.0.1:{smtp_port}")
        assert await sender.run_once() == 1

    assert logins == [(b"mailer", b"s3cret/x")]
    assert handler.subjects() == ["Notice for ana@brand.example"]


async def test_cancelled_sender_records_the_batch_in_flight(
        database: Database, smtp_port: int) -> None:
    await _notify(database, "ana@brand.example")
    handler = Mailbox(data_delay=0.3)

    with serving(handler, smtp_port):
        sending = asyncio.create_task(_sender(database, smtp_port).run_once())
        assert await asyncio.to_thread(handler.receiving.wait, 5)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending

    assert handler.subjects() == ["Notice for ana@brand.example"]
    assert [row.sent_at is not None for row in await _outbox(database)] == [True]


async def test_without_smtp_url_notices_are_logged_once_and_kept_unsent(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tasks.outbox")
    await _notify(database, "ana@brand.example", "bo@brand.example")
    sender = OutboxSender(database, None)

    assert await sender.run_once() == 0
    assert await sender.run_once() == 0

    records = [r for r in caplog.records if r.name == "tasks.outbox"]
    info = [r.getMessage() for r in records if r.levelno >= logging.INFO]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert len(info) == len(debug) == 2
    # The address and subject are personal data: only at DEBUG.
    assert "kept in the outbox" in info[0] and not any("@" in line for line in info)
    assert "ana@brand.example: Notice for ana@brand.example" in debug[0]
    rows = await _outbox(database)
    held_until = await _db_now(database) + timedelta(hours=23)
    assert all(row.sent_at is None and row.attempts == 0 for row in rows)
    assert all(row.next_attempt_at > held_until for row in rows)


async def test_enqueue_writes_one_notice_per_distinct_recipient(database: Database) -> None:
    async with database.unit_of_work() as session:
        await enqueue(session, recipients=[(1, "Ana@Brand.example"), (None, "ana@brand.example"),
                                           (2, "bo@brand.example")],
                      topic="connection.requested", subject="New request", body="Body")

    rows = await _outbox(database)
    assert [(row.user_id, row.recipient, row.topic) for row in rows] == [
        (1, "Ana@Brand.example", "connection.requested"),
        (2, "bo@brand.example", "connection.requested"),
    ]


async def test_enqueue_refuses_a_subject_spanning_lines(database: Database) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(ValueError, match="one line"):
            await enqueue(session, recipients=[(None, "ana@brand.example")], topic="t",
                          subject="Hi\nBcc: everyone@example.com", body="Body")


async def test_recipients_are_the_active_users_of_the_organization_and_factory_owner(
        database: Database) -> None:
    async with database.unit_of_work() as session:
        supplier = Organization(name="Mill Co", kind=OrganizationKind.SUPPLIER.value)
        other = Organization(name="Other Co", kind=OrganizationKind.SUPPLIER.value)
        session.add_all([supplier, other])
        await session.flush()
        session.add_all([
            _user(supplier, "owner@mill.example"),
            _user(supplier, "left@mill.example", active=False),
            _user(other, "someone@other.example"),
        ])
        factory = Factory(supplier_id=supplier.id, name="Mill 1", country="VN")
        session.add(factory)
        await session.flush()

        by_organization = await recipients_of_organization(session, supplier.id)
        by_factory = await recipients_of_factory(session, factory.id)

    assert [email for _, email in by_organization] == ["owner@mill.example"]
    assert by_factory == by_organization


def _user(organization: Organization, email: str, active: bool = True) -> User:
    return User(email=email, name=email, password_hash="x", role=Role.SUPPLIER.value,
                organization_id=organization.id, active=active)


def test_retry_delay_doubles_from_five_seconds_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in range(4)] == [5, 10, 20, 40]
    assert retry_delay(10) == timedelta(hours=1)
    assert retry_delay(500) == timedelta(hours=1)


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example:2525", SmtpConfig("mail.example", 2525)),
    ("smtp://mail.example", SmtpConfig("mail.example", 25)),
    ("smtp://u%40x:p%3Aw@mail.example:25/",
     SmtpConfig("mail.example", 25, username="u@x", password="p:w")),
    ("smtp+starttls://u:p@mail.example",
     SmtpConfig("mail.example", 587, "starttls", username="u", password="p")),
    ("SMTPS://mail.example", SmtpConfig("mail.example", 465, "tls")),
])
def test_smtp_url_forms_are_parsed(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("http://mail.example", "scheme must be one of"),
    ("mail.example:25", "scheme must be one of"),
    ("smtp://", "no host"),
    ("smtp://mail.example:99999", "invalid port"),
    ("smtp://mail.example:port", "invalid port"),
    ("smtp://mail.example:0", "invalid port"),
    ("smtp://mail.example/inbox", "no path"),
    ("smtp://user@mail.example", "both a user and a password"),
])
def test_bad_smtp_urls_raise_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_smtp_url(url)


def test_smtp_password_stays_out_of_the_repr() -> None:
    assert "secret" not in repr(parse_smtp_url("smtp://u:secret@mail.example"))


async def test_without_smtp_url_a_thousand_notices_are_claimed_at_once(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Only logging, the sender has no SMTP session to bound: one claim, not twenty."""
    caplog.set_level(logging.INFO, logger="tasks.outbox")
    await _notify(database, *(f"user{i}@brand.example" for i in range(120)))
    sender = OutboxSender(database, None)  # the default SMTP batch is 50

    await sender.run_once()

    kept = [r for r in caplog.records if "kept in the outbox" in r.getMessage()]
    assert len(kept) == 120
