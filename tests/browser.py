"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright, a watch
on what a user would never want to see happen (console errors, requests that leave the page's
origin), and the dashboard served for them to drive."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import wait_for

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Where the browser tests leave their screenshots (those meant for the docs say otherwise).
SCREENSHOTS = os.environ.get("DASHBOARD_SCREENSHOTS", "/tmp")


@contextmanager
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: `make browser` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def dashboard_served() -> Iterator[str]:
    """The dashboard (its ASGI app and its poller) served as `choreo up` serves it, in a thread
    on a free port: pointed at whatever stack `dashboard.aws` is configured with and reading the
    test database, so a fixture prepares both first. Yields its URL once it answers, and stops
    it on the way out."""
    from dashboard.web.serve import serve
    from tests.dashboard.conftest import free_port

    stop = threading.Event()
    ready: list[str] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            serve(host="127.0.0.1", port=free_port(), stop=stop, ready=ready.append)
        except BaseException as error:  # reported by the wait below, not lost in the thread
            failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: ready or failures, timeout=10, message="the dashboard to answer")
        if failures:
            raise AssertionError("the dashboard failed to start") from failures[0]
        yield ready[0]
    finally:
        stop.set()
        thread.join(timeout=10)


def watch(page: Any, base: str) -> tuple[list[str], list[str]]:
    """Console errors and page errors; and every request that left the page's origin."""
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    origin = urlsplit(base).netloc

    def check(request: Any) -> None:
        url = urlsplit(request.url)
        if url.scheme not in {"data", "about", "blob"} and url.netloc != origin:
            elsewhere.append(request.url)

    page.on("request", check)
    return errors, elsewhere


# An init script that records what the page's Content-Security-Policy refuses, in
# `window.__violations`.
VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""
