"""One headless Chromium (Debian's chromium, driven by Playwright) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.test_console import chromium_path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True)
        yield chromium
        chromium.close()
