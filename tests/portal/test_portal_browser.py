"""The portal in a real browser (Chromium, driven by Playwright): the journey of a connection
as each role lives it, and what a person needs from the pages (keyboard, labels, a phone's
width, the security policy). One served app and one browser for the module."""
import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from db import Certificate
from db.engine import Database
from db.settings import Settings
from tests.helpers import PASSWORD, Cast
from tests.portal.browser import chromium
from tests.served import Served, served

pytestmark = pytest.mark.asyncio(loop_scope="session")
WAIT = 15_000  # ms: a bound on every wait in the browser, far above a healthy run's


@pytest.fixture(scope="module")
async def app(database_url: str, settings: Settings) -> AsyncIterator[Served]:
    async with served(database_url, settings) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as running:
        yield running


class Person:
    """One person's browser window (its own cookies), with the page's problems collected: any
    script error or policy violation fails the test."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base, self.problems = page, base, []
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("console", lambda m: self.problems.append(m.text)
                if m.type == "error" else None)

    @classmethod
    async def open(cls, browser: Any, app: Served, **options: Any) -> "Person":
        context = await browser.new_context(**options)
        context.set_default_timeout(WAIT)
        return cls(await context.new_page(), app.http)

    async def go(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def sign_in(self, email: str) -> None:
        await self.go("/portal/sign-in")
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password").fill(PASSWORD)
        async with self.page.expect_navigation():
            await self.page.get_by_role("button", name="Sign in").click()
        assert "/sign-in" not in self.page.url, await self.page.inner_text("main")

    async def close(self) -> None:
        await self.page.context.close()
        assert self.problems == []


async def certified(database: Database, cast: Cast, factory: str) -> None:
    async with database.unit_of_work() as session:
        session.add(Certificate(number="C007007", factory_id=cast.factories[factory],
                                issued_on=date(2026, 1, 10), valid_until=date(2099, 1, 10)))


async def suspend(app: Served, cast: Cast) -> None:
    """The program suspends alpha's certificate, through the API."""
    async with httpx.AsyncClient(base_url=app.http) as client:
        headers = {"Authorization": f"Bearer {cast.token('admin')}"}
        found = (await client.post("/graphql", headers=headers, json={"query": """
            query($id: ID!) { factory(id: $id) { currentCertificate { id } } }""",
            "variables": {"id": cast.factory_gid("alpha")}})).json()
        certificate = found["data"]["factory"]["currentCertificate"]["id"]
        done = (await client.post("/graphql", headers=headers, json={"query": """
            mutation($input: SetCertificateStatusInput!) { setCertificateStatus(input: $input) {
              userErrors { code } } }""", "variables": {"input": {
            "certificateId": certificate, "status": "SUSPENDED",
            "reason": "Blocked fire exits"}}})).json()
        assert done["data"]["setCertificateStatus"]["userErrors"] == [], done


async def test_the_journey_of_a_connection(app: Served, browser: Any, database: Database,
                                           cast: Cast) -> None:
    await certified(database, cast, "alpha")
    customer = await Person.open(browser, app)
    factory = await Person.open(browser, app)

    # The customer finds alpha in the directory and asks for three scopes.
    await customer.sign_in("customer_a_user@example.test")
    await customer.go("/portal/factories")
    await customer.page.get_by_label("Search by name or city").fill("alpha")
    await customer.page.get_by_role("button", name="Filter").click()
    await customer.page.get_by_role("link", name="alpha factory").click()
    await customer.page.get_by_label("Audits (reports, findings)").check()
    await customer.page.get_by_role("button", name="Send request").click()
    await customer.page.get_by_text("Your connection request was sent").wait_for()

    # The factory accepts with two of them.
    await factory.sign_in("supplier_a_user@example.test")
    await factory.page.get_by_role("link", name="alpha factory").click()
    request = factory.page.locator(".request")
    await request.get_by_text("customer_a org asks to connect").wait_for()
    await request.get_by_label("Audits (reports, findings)").uncheck()
    await request.get_by_role("button", name="Accept and share").click()
    await factory.page.get_by_text("The request was accepted").wait_for()

    # The customer's dashboard shows those two only, and is live.
    await customer.go("/portal/dashboard")
    dashboard = customer.page.locator("#dashboard")
    row = dashboard.locator(".factory-row", has_text="alpha factory")
    assert await row.locator(".scope").all_inner_texts() == ["PROFILE", "CERTIFICATION"]
    certificate = row.locator('[data-scope="CERTIFICATION"]')
    assert "C007007 ACTIVE" in await certificate.inner_text()
    assert "alpha street 1" in await row.locator('[data-scope="PROFILE"]').inner_text()
    for scope in ("AUDITS", "CORRECTIVE_ACTIONS", "ENVIRONMENT"):
        assert await row.locator(f'[data-scope="{scope}"]').inner_text() == "not shared"
    await customer.page.locator('#dashboard[data-live-state="connected"]').wait_for()
    await customer.page.evaluate("window.stillTheSamePage = true")
    await asyncio.sleep(0.3)  # the subscriptions reach their feeds

    # The program suspends the certificate: the open dashboard changes, without a reload.
    await suspend(app, cast)
    await customer.page.get_by_text("alpha factory: certification SUSPENDED").wait_for()
    await dashboard.locator('.factory-row [data-scope="CERTIFICATION"]',
                            has_text="SUSPENDED").wait_for()

    # The factory narrows the sharing to the profile: the dashboard stops showing the certificate.
    await factory.page.reload()
    active = factory.page.locator(".connection")
    await active.get_by_label("Certification (certificates, applications)").uncheck()
    await active.get_by_role("button", name="Update sharing").click()
    await factory.page.get_by_text("Sharing was updated").wait_for()
    await dashboard.locator('.factory-row [data-scope="CERTIFICATION"]',
                            has_text="not shared").wait_for()
    assert await row.locator(".scope").all_inner_texts() == ["PROFILE"]
    assert await customer.page.evaluate("window.stillTheSamePage") is True

    # Who viewed what: the factory sees the customer's reads.
    await factory.page.reload()
    log = factory.page.locator("#access-log")
    await log.get_by_text("customer_a org").first.wait_for()
    await customer.close()
    await factory.close()
