"""Screenshots of the portal's main pages for the README, taken in Chromium (Playwright).

Against a served demo (`escp demo && escp serve`), as its demo logins:

    python docs/screenshots/take.py [http://127.0.0.1:8000]

writes docs/screenshots/*.png. Needs the test extras (playwright) and a Chromium
(apt-get install chromium); nothing is downloaded.
"""
import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

HERE = Path(__file__).resolve().parent
PASSWORD = "demo-password-1"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


async def sign_in(page: Any, base: str, email: str) -> None:
    await page.goto(f"{base}/portal/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()


async def shoot(browser: Any, base: str, name: str, path: str, email: str | None = None,
                viewport: dict[str, int] = DESKTOP, full_page: bool = True) -> None:
    context = await browser.new_context(viewport=viewport, device_scale_factor=1)
    page = await context.new_page()
    if email:
        await sign_in(page, base, email)
    await page.goto(base + path)
    if await page.locator("[data-live]").count():
        await page.locator('[data-live-state="connected"]').wait_for(timeout=10_000)
    await page.screenshot(path=str(HERE / f"{name}.png"), full_page=full_page)
    await context.close()
    print(f"docs/screenshots/{name}.png  {path}")


async def factory_path(browser: Any, base: str, email: str, name: str) -> str:
    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, base, email)
    await page.goto(f"{base}/portal/mine")
    href = await page.get_by_role("link", name=name).get_attribute("href")
    await context.close()
    return str(href)


async def main(base: str) -> None:
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
            args=["--no-sandbox", "--disable-gpu"])
        await shoot(browser, base, "directory", "/portal/factories")
        await shoot(browser, base, "verify", "/portal/verify?certificate=C001001")
        await shoot(browser, base, "dashboard", "/portal/dashboard", "buyer@northwind.example")
        await shoot(browser, base, "dashboard-phone", "/portal/dashboard",
                    "buyer@northwind.example", viewport=PHONE, full_page=False)
        supplier = "supplier@anatoliatex.example"
        progress = await factory_path(browser, base, supplier, "Anatolia Home Textiles")
        await shoot(browser, base, "factory-requests", progress + "#requests", supplier,
                    full_page=False)
        progress = await factory_path(browser, base, "supplier@dhakaknit.example",
                                      "Dhaka Knit Unit 1")
        await shoot(browser, base, "factory-progress", progress, "supplier@dhakaknit.example")
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
