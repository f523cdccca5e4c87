"""The portal in a real browser (Chromium, driven by Playwright): the journey of a connection
as each role lives it, and what a person needs from the pages (keyboard, labels, a phone's
width, the security policy). One served app and one browser for the module."""
import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from db import Certificate
from db.engine import Database
from db.settings import Settings
from tests.given import PDF, audited_factory, connect
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
    # The page's script can read no token: the session cookie is HttpOnly, nothing in the page.
    assert "escp_session" not in await customer.page.evaluate("document.cookie")
    assert "eyJ" not in await customer.page.content()
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


async def test_a_factory_submits_its_plan_with_evidence_uploads_showing_progress(
        app: Served, browser: Any, database: Database, cast: Cast, tmp_path: Any) -> None:
    audited = await audited_factory(database, cast, findings=1)
    evidence = tmp_path / "fire-exits.pdf"
    evidence.write_bytes(PDF + b"%" * 300_000)
    factory = await Person.open(browser, app)
    await factory.sign_in("supplier_a_user@example.test")
    await factory.go(f"/portal/mine/{cast.factory_gid('alpha')}")
    plan = factory.page.locator("form.cap")
    finding = audited.finding_gids[0]
    await plan.get_by_label("Action you will take").fill("Clear the exits; train the floor.")
    await plan.get_by_label("Done by").fill((date.today() + timedelta(days=20)).isoformat())
    await plan.get_by_label("Evidence files").set_input_files(str(evidence))
    await plan.get_by_text("Uploaded 1 of 1: fire-exits.pdf").wait_for()
    assert await plan.locator(f'[data-progress-for="evidence-{finding}"]').evaluate(
        "bar => [bar.hidden, bar.value]") == [False, 100]
    await plan.get_by_role("button", name="Submit the plan").click()
    await factory.page.get_by_text("The corrective action plan was submitted").wait_for()
    step = factory.page.locator(".step", has_text="3. Audit")
    assert "Corrective action plan SUBMITTED" in await step.inner_text()
    assert "fire-exits.pdf" in await step.inner_text()  # the evidence, to download
    await factory.close()


async def tab_to(page: Any, selector: str, presses: int = 30) -> None:
    """Press Tab until the element is focused (a keyboard user's way there)."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


async def test_a_customer_can_do_it_all_with_the_keyboard(app: Served, browser: Any,
                                                          cast: Cast) -> None:
    person = await Person.open(browser, app)
    page = person.page
    await person.go("/portal/sign-in")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await tab_to(page, "#email")
    await page.keyboard.type("customer_a_user@example.test")
    await tab_to(page, "#password")
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await tab_to(page, 'a[href="/portal/factories"]')
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await tab_to(page, "#directory a")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await tab_to(page, 'input[value="ENVIRONMENT"]')
    await page.keyboard.press("Space")
    await tab_to(page, "button[type=submit]:not(.link)")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.get_by_text("Your connection request was sent").wait_for()
    await person.close()


PAGES = {"customer_a_user": ["/portal/", "/portal/verify", "/portal/dashboard",
                             "/portal/factories/{beta}"],
         "supplier_a_user": ["/portal/mine", "/portal/mine/{alpha}"]}


async def test_every_field_is_labelled_and_pages_fit_a_phone(
        app: Served, browser: Any, database: Database, cast: Cast) -> None:
    await audited_factory(database, cast, findings=2)  # a plan's form on the progress page
    await connect(database, cast, "customer_a", "alpha", ["PROFILE", "ENVIRONMENT"])
    ids = {"alpha": cast.factory_gid("alpha"), "beta": cast.factory_gid("beta")}
    for who, paths in PAGES.items():
        person = await Person.open(browser, app, viewport={"width": 390, "height": 844},
                                   is_mobile=True, has_touch=True)
        for path in ["/portal/sign-in", "/portal/sign-up"]:
            await person.go(path)
            await check_page(person.page, path)
        await person.sign_in(f"{who}@example.test")
        for path in paths:
            await person.go(path.format(**ids))
            await check_page(person.page, path)
        await person.close()


async def check_page(page: Any, path: str) -> None:
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea')]
        .filter(field => field.labels.length === 0 && !field.getAttribute('aria-label'))
        .map(field => field.outerHTML)""")
    assert unlabelled == [], (path, unlabelled)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, (path, width)  # nothing to scroll sideways at a phone's width
