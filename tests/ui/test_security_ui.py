"""The UI under a locked-down server: it asks for the query token, and the browser enforces
the server's Content-Security-Policy (every other browser test fails on a violation)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect
from ui_traces import checkout_trace, new_trace_id

from traceway.testing import ServerProcess

pytestmark = pytest.mark.browser

QUERY_TOKEN = "ui-query-7e2b91"
INGEST_TOKEN = "ui-ingest-44c0d8"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("locked")
    (root / "query").write_text(f"{QUERY_TOKEN}\n")
    (root / "ingest").write_text(f"{INGEST_TOKEN}\n")
    server = ServerProcess(root / "data", query_token=QUERY_TOKEN, extra_args=[
        "--query-token-file", str(root / "query"), "--ingest-token-file", str(root / "ingest")])
    server.start()
    trace_id = new_trace_id()
    sent = httpx.post(server.otlp_http_url + "/v1/traces", content=json.dumps(checkout_trace(trace_id)),
                      headers={"content-type": "application/json",
                               "authorization": f"Bearer {INGEST_TOKEN}"})
    assert sent.status_code == 200
    server.wait_for_trace(trace_id, min_spans=4)
    yield server
    server.stop()


@pytest.fixture
def locked_page(browser, locked_server: ServerProcess) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=locked_server.ui_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not page.errors  # type: ignore[attr-defined]


def test_the_ui_asks_for_the_query_token_and_sends_it_on_every_call(locked_page: Page) -> None:
    page = locked_page
    api_auth: list[str | None] = []
    page.on("request", lambda r: api_auth.append(r.headers.get("authorization"))
            if "/api/" in r.url else None)
    page.goto("/search")
    prompt = page.get_by_role("form", name="Access token")
    expect(prompt).to_contain_text("needs an access token")
    expect(prompt).to_contain_text("missing bearer token")

    page.get_by_label("Query token").fill("not-the-token")
    page.get_by_role("button", name="Use token").click()
    expect(prompt).to_contain_text("refused the token")

    page.get_by_label("Query token").fill(QUERY_TOKEN)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("select[name=service] option", has_text="frontend")).to_have_count(1)
    expect(prompt).to_have_count(0)
    page.select_option("select[name=service]", "frontend")
    page.get_by_role("button", name="Find traces").click()
    expect(page.locator(".trace-item").first).to_contain_text("frontend: GET /checkout")
    assert api_auth[0] is None
    assert api_auth[-1] == f"Bearer {QUERY_TOKEN}"
    assert page.evaluate("sessionStorage.getItem('traceway.queryToken')") == QUERY_TOKEN
    # The health views fetch through the same layer: no prompt, the token on every call.
    calls = len(api_auth)
    page.get_by_role("link", name="Health").click()
    expect(page).to_have_title("Health · Traceway")
    page.wait_for_load_state("networkidle")
    assert len(api_auth) > calls and set(api_auth[calls:]) == {f"Bearer {QUERY_TOKEN}"}
    expect(prompt).to_have_count(0)
    # Kept per tab: a new tab asks again.
    other = page.context.new_page()
    other.goto("/search")
    expect(other.get_by_role("form", name="Access token")).to_be_visible()


def test_the_policy_blocks_injected_inline_script(browser, ui_server: ServerProcess) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=ui_server.ui_url)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.goto("/search")
    expect(page.get_by_role("button", name="Find traces")).to_be_visible()
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.injected = true'; document.head.appendChild(s); }""")
    assert page.evaluate("window.injected === undefined")
    assert any("Content Security Policy" in line for line in console)
    context.close()
