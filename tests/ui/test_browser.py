"""End to end in a real headless Chromium: the list, a click into a run, its timeline and context.

Skips without Chromium, its driver or Selenium, except under ``CI=true`` (``.ci/run``
installs them). ``BLAZEN_UPDATE_SCREENSHOT=1`` also writes the run page's screenshot to
``docs/img/run-page.png`` (the one the guide shows).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blazen import Workflow
from blazen.stores import open_store

from .flows import pipeline, run_all
from .helpers import REPO, Server, start_ui, stop

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,2200",
]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for exe in (CHROMIUM, DRIVER):
        if not os.access(exe, os.X_OK):
            return f"{exe} is not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser_ok() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run installs it under CI=true")
        pytest.skip(reason)


def _example() -> Workflow:
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from durable_pipeline import workflow
    finally:
        sys.path.remove(str(REPO / "examples"))
    return workflow


def _make_store(path: Path) -> dict[str, str]:
    """Real durable runs: the example pipeline twice, plus the tests' own workflows."""

    async def main() -> dict[str, str]:
        store = open_store(f"sqlite:///{path}")
        try:
            example = _example()
            wf = Workflow(example.name, example.steps, store=store)
            for docs in (2, 4):
                handler = await wf.run_with_handler(docs=docs, delay=0.05, topic="the run viewer")
                await handler.result()
            ids = await run_all(store)
            ids["example"] = handler.run_id
            return ids
        finally:
            await store.close()

    return asyncio.run(main())


async def _one_more_run(path: Path) -> str:
    store = open_store(f"sqlite:///{path}")
    try:
        handler = await pipeline(store).run_with_handler(count=2)
        await handler.result()
        return handler.run_id
    finally:
        await store.close()


@pytest.fixture
def driver(browser_ok: None) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="blazen-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def server(tmp_path: Path, browser_ok: None) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    path = tmp_path / "runs.db"
    ids = _make_store(path)
    served = start_ui(path)
    yield served, path, ids
    stop(served)


def test_list_click_into_a_run_timeline_and_context(
    driver: Any, server: tuple[Server, Path, dict[str, str]], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    served, path, ids = server
    wait = WebDriverWait(driver, 20)
    driver.get(served.link)
    links = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "a.run-link")))
    assert {a.text for a in links} >= set(ids.values())

    # live refresh: a run made now appears without reloading the page
    marker = driver.find_element(By.ID, "runs")
    new_id = asyncio.run(_one_more_run(path))
    wait.until(lambda d: new_id in d.find_element(By.ID, "runs").text)
    assert marker.is_displayed()

    run_link = wait.until(ec.element_to_be_clickable((By.LINK_TEXT, ids["example"])))
    run_link.click()
    wait.until(ec.url_contains(f"/runs/{ids['example']}"))
    bars = wait.until(
        ec.presence_of_all_elements_located((By.CSS_SELECTOR, "svg.timeline rect.bar"))
    )
    assert len(bars) >= 1 + 4 + 4  # split, 4 x process, 4 x summarize
    assert all(b.size["width"] >= 3 for b in bars)
    lanes = {t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg.timeline text.lane")}
    assert lanes == {"run", "split", "process", "summarize"}
    keys = [
        row.find_element(By.CSS_SELECTOR, "td").text
        for row in driver.find_elements(By.CSS_SELECTOR, "#context tbody tr")
    ]
    assert "config" in keys
    assert "doc/3/compressed" in keys
    assert driver.find_elements(By.CSS_SELECTOR, "svg.graph g.g-step.ran")
    driver.save_screenshot(str(tmp_path / "run-page.png"))
    if os.environ.get("BLAZEN_UPDATE_SCREENSHOT") == "1":
        target = REPO / "docs" / "img" / "run-page.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "run-page.png", target)
    assert (tmp_path / "run-page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a click on the first bar of the timeline shows the context at that commit
    first = driver.find_element(By.CSS_SELECTOR, 'svg.timeline a[data-seq="1"]')
    driver.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", first
    )
    wait.until(ec.url_contains("seq=1"))
    heading = driver.find_element(By.CSS_SELECTOR, "#context-section h2").text
    assert heading.startswith("Context at commit 1")
    changes = {
        row.find_elements(By.CSS_SELECTOR, "td")[0].text: row.find_elements(By.CSS_SELECTOR, "td")[
            1
        ].text
        for row in driver.find_elements(By.CSS_SELECTOR, "#context tbody tr")
    }
    assert changes == {"config": "added"}
    pending = driver.find_elements(By.CSS_SELECTOR, "#pending tbody tr")
    assert len(pending) == 4  # the four DocumentEvents split emitted


def test_a_failed_run_shows_its_error(
    driver: Any, server: tuple[Server, Path, dict[str, str]]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    served, _, ids = server
    driver.get(served.link + f"runs/{ids['failed']}")
    error = WebDriverWait(driver, 20).until(ec.visibility_of_element_located((By.ID, "run-error")))
    assert "boom: the disk is full" in error.text
    assert driver.find_elements(By.CSS_SELECTOR, "svg.timeline rect.failed")
