"""Fixtures for the browser tests: one ``adapter dev`` and one chromium for the package.

Package scope, not session: Playwright's sync API keeps an event loop running in the
main thread while it is open, and the suites after this one call ``asyncio.run``.

The tests fail (they never skip) when Playwright or chromium is missing: ``make test``
installs Debian's chromium, the ``test`` extra installs Playwright.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .stack import DevServer, launch_chromium, start_dev

expect.set_options(timeout=20_000)


@pytest.fixture(scope="package")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = start_dev(tmp_path_factory.mktemp("adapter-dev"))
    yield server
    server.stop()


@dataclass
class Scenario:
    """Runs started over the API once for the session, so their work overlaps."""

    chain: str
    retried: str
    parent: str
    hook: str
    hook_token: str


@pytest.fixture(scope="package")
def scenario(dev: DevServer) -> Scenario:
    token = f"approval-{uuid.uuid4().hex[:8]}"
    return Scenario(
        chain=dev.start_run("three_steps", "o-1"),
        retried=dev.start_run("retry_then_succeed", "k-1"),
        parent=dev.start_run("parent_job", 21),
        hook=dev.start_run("wait_for_approval", token),
        hook_token=token,
    )


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        missing = None
        try:
            chromium = launch_chromium(playwright)
        except RuntimeError as exc:  # no chromium: fail, never skip
            missing = str(exc)
        if missing is not None:
            pytest.fail(missing, pytrace=False)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A fresh page at 1280x900; uncaught JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[Any] = []
    tab.on("pageerror", lambda error: errors.append(error))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
