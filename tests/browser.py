"""A headless Chromium for the end-to-end tests (Debian's ``chromium`` and ``chromium-driver``,
installed by the project's set-up). A missing browser is a failure, not a skip: the project installs it.

The ``browser`` fixture (tests/conftest.py) starts one per test module; :func:`wait` polls it.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)


def wait(driver, condition, timeout=15):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # While the frame navigates, chromedriver may briefly fail to find nodes: poll through that.
    return WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(condition)
