"""Connection notices reach a real SMTP server (aiosmtpd on 127.0.0.1): driven over HTTP, then
delivered by the outbox sender, or by the one the application's lifespan runs."""
import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app import create_app
from db.engine import Database
from db.settings import Settings
from tasks.outbox import OutboxSender
from tests.api.connection_steps import connection_of, end, request, respond, update_scopes
from tests.helpers import Cast
from tests.resolvers.test_notifications import Mailbox, _free_port, serving


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    handler = Mailbox()
    with serving(handler, smtp_port):
        yield handler


def received(mailbox: Mailbox) -> list[tuple[str, str, str]]:
    """(To, Subject, body) of each message, in the order the server took them."""
    found = []
    for message in mailbox.messages:
        body = message.get_body()
        assert body is not None
        found.append((str(message["To"]), str(message["Subject"]), body.get_content()))
    return found


async def test_each_step_of_a_connection_mails_the_other_side(
        client: httpx.AsyncClient, cast: Cast, database: Database, mailbox: Mailbox,
        smtp_port: int) -> None:
    asked = connection_of(await request(client, cast, "customer_a_user", "alpha",
                                        ["PROFILE", "AUDITS"], message="Line one.\nLine two."))
    connection_of(await respond(client, cast, "supplier_a_user", asked["id"],
                                scopes=["PROFILE", "ENVIRONMENT"],
                                expires_at="2099-12-31T12:00:00+02:00"))
    connection_of(await update_scopes(client, cast, "supplier_a_user", asked["id"],
                                      ["ENVIRONMENT"]))
    connection_of(await end(client, cast, "supplier_a_user", asked["id"]))

    sender = OutboxSender(database, f"smtp://127.0.0.1:{smtp_port}", smtp_timeout=5.0)
    assert await sender.run_once() == 4
    assert await sender.run_once() == 0

    (request_mail, accept_mail, change_mail, revoke_mail) = received(mailbox)
    to, subject, body = request_mail
    assert (to, subject) == ("supplier_a_user@example.test",
                             "Connection request from customer_a org for alpha factory")
    assert "customer_a org asks to connect to alpha factory and to see: PROFILE, AUDITS." in body
    assert "Their message:\nLine one.\nLine two." in body
    to, subject, body = accept_mail
    assert (to, subject) == ("customer_a_user@example.test",
                             "alpha factory accepted your connection request")
    assert "shares with you: PROFILE, ENVIRONMENT, until 2099-12-31 10:00 UTC." in body
    to, subject, body = change_mail
    assert (to, subject) == ("customer_a_user@example.test",
                             "alpha factory changed what it shares with you")
    assert "now shares with you: ENVIRONMENT, until 2099-12-31 10:00 UTC." in body
    to, subject, body = revoke_mail
    assert (to, subject) == ("customer_a_user@example.test",
                             "alpha factory ended its connection with you")
    assert "no longer shares its data with you" in body


async def test_declined_request_mails_the_customer(
        client: httpx.AsyncClient, cast: Cast, database: Database, mailbox: Mailbox,
        smtp_port: int) -> None:
    asked = connection_of(await request(client, cast, "customer_b_user", "beta", ["AUDITS"]))
    connection_of(await respond(client, cast, "supplier_b_user", asked["id"], accept=False))

    assert await OutboxSender(database, f"smtp://127.0.0.1:{smtp_port}").run_once() == 2

    assert [(to, subject) for to, subject, _ in received(mailbox)] == [
        ("supplier_b_user@example.test", "Connection request from customer_b org for beta factory"),
        ("customer_b_user@example.test", "beta factory declined your connection request"),
    ]


async def test_running_app_mails_a_request_by_itself(
        settings: Settings, cast: Cast, database: Database, mailbox: Mailbox,
        smtp_port: int) -> None:
    mailing = settings.model_copy(update=dict(smtp_url=f"smtp://127.0.0.1:{smtp_port}"))
    application = create_app(mailing)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
            connection_of(await request(client, cast, "customer_a_user", "alpha", ["PROFILE"]))
        async with asyncio.timeout(10):
            while not mailbox.messages:
                await asyncio.sleep(0.05)

    assert [(to, subject) for to, subject, _ in received(mailbox)] == [
        ("supplier_a_user@example.test",
         "Connection request from customer_a org for alpha factory")]
