"""A real headless browser for the HTML report tests: Debian's ``chromium`` driven by
Playwright (``executable_path``: no browser is downloaded).

Playwright rather than a hand-written Chrome DevTools Protocol client: console messages,
page errors, request interception, offline mode and clicks are one call each, and its
driver ships in the wheel. The browser is the system's, as a CI image has it.

Without chromium or playwright the tests skip on a developer machine and fail in CI
(``CI=true`` or ``IQA_REQUIRE_CHROMIUM=1``); ``.ci/run`` installs chromium.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    env = os.environ.get("IQA_CHROMIUM")
    if env:
        return env
    return next((p for p in map(shutil.which, NAMES) if p), None)


def required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or \
        os.environ.get("IQA_REQUIRE_CHROMIUM") == "1"


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = 'playwright is not installed: pip install -e ".[test]"'
    if exe is None:
        problem = "chromium is not installed: apt-get install chromium"
    if problem:
        if required():
            pytest.fail(problem)
        pytest.skip(problem)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=exe,
                                     args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


@dataclass
class Opened:
    page: object
    errors: list[str] = field(default_factory=list)  # console errors and page errors
    requests: list[str] = field(default_factory=list)  # every request the page made
    blocked: list[str] = field(default_factory=list)  # requests other than the file


def open_report(browser, path: Path) -> Opened:
    """Open ``path`` offline; every request is recorded, all but the file itself aborted."""
    context = browser.new_context(offline=True, java_script_enabled=True)
    page = context.new_page()
    url = path.resolve().as_uri()
    opened = Opened(page)

    def on_console(message):
        if message.type in ("error", "warning"):
            opened.errors.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: opened.errors.append(f"page error: {exc}"))

    def route(r):
        opened.requests.append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            opened.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda req: None if req.url.startswith("data:") or req.url == url
            or req.url in opened.blocked else opened.blocked.append(req.url))
    page.goto(url, wait_until="load")
    return opened


def image_widths(page) -> list[tuple[str, int, bool]]:
    """(alt, naturalWidth, complete) of every <img> once all have settled."""
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    return page.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.complete])")


def column_values(page, table: str, column: int) -> list[float]:
    return page.evaluate(
        f"""Array.from(document.querySelectorAll('#{table} tbody tr')).map(
            r => parseFloat(r.cells[{column}].getAttribute('data-v')))""")
