"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright, and a
watch on what a user would never want to see happen (console errors, requests that leave
the page's origin)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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
