"""Chromium driven by Playwright (the Python package, with the system's Chromium: nothing is
downloaded), for the portal's browser tests. Without a browser the tests are skipped, saying why.
"""
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 # No internet: every host but this machine fails to resolve.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """The reason the browser tests cannot run here, or None when they can."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -e '.[test]')"
    if chromium_path() is None:
        return "needs a Chromium (apt-get install chromium; .ci/run installs it as root)"
    return None


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    reason = why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium_path(),
                                               args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
