"""Browser tests: a real `traceway serve` and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from traceway.testing import ServerProcess
from traceway.ui.routes import STATIC_DIR

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("TRACEWAY_CHROMIUM", "/usr/bin/chromium")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the whole browser suite: starting one per test would cost seconds each."""
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail(f"the UI is not built ({STATIC_DIR} is empty): run `make ui` first")
    src = str(REPO / "src")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    server = ServerProcess(tmp_path_factory.mktemp("ui") / "data", env=env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, ui_server: ServerProcess, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A fresh browser context on the UI; a failing test leaves a screenshot in test-artifacts/."""
    context = browser.new_context(base_url=ui_server.ui_url, viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    errors: list[str] = []
    base = ui_server.ui_url

    def only_traceway(route):  # type: ignore[no-untyped-def]
        # The UI must work offline: no CDN, no remote fonts, nothing but its own server.
        url = route.request.url
        if url.startswith((base, "data:", "blob:")):
            route.continue_()
        else:
            errors.append(f"request outside Traceway: {url}")
            route.abort()

    context.route("**/*", only_traceway)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # The server's Content-Security-Policy is strict: whatever it blocks fails the test.
    pg.on("console", lambda msg: errors.append(msg.text)
          if "Content Security Policy" in msg.text else None)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.errors.json").write_text(json.dumps(errors, indent=1))
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
