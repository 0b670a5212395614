"""The Health page and the search page's "What's different?" panel in Chromium, on traces
with known answers (tests/analysis/scenarios.py) in a server of their own."""

from __future__ import annotations

import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from traceway.convert.otlp import batch_to_otlp
from traceway.model import SpanBatch
from traceway.testing import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
import scenarios

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def health_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("health-ui") / "data").start()
    now = time.time_ns()
    batch = SpanBatch.from_rows(scenarios.shop(now - 600 * 10**9) + scenarios.search(now - 300 * 10**9))
    request = urllib.request.Request(server.otlp_http_url + "/v1/traces", method="POST",
                                     data=batch_to_otlp(batch).SerializeToString(),
                                     headers={"Content-Type": "application/x-protobuf"})
    urllib.request.urlopen(request, timeout=10).close()
    for trace in (11, 104, 219):
        server.wait_for_trace(f"{trace:032x}")
    yield server
    server.stop()


@pytest.fixture
def health_page(browser, health_server: ServerProcess) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=health_server.ui_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_health_page_names_the_broken_hop_orphans_and_uninstrumented_services(health_page: Page) -> None:
    page = health_page
    page.goto("/search")
    page.get_by_role("link", name="Health").click()
    expect(page).to_have_url("/health")
    expect(page).to_have_title("Health · Traceway")
    hop = page.locator("[data-testid=broken-hops] tr[data-hop='web->stock']")
    expect(hop).to_contain_text("GET /recs")
    expect(hop).to_contain_text("3 of 3 (100%)")
    expect(page.locator("[data-testid=broken-hops] tr[data-hop='web->?']")).to_have_count(2)
    expect(page.get_by_test_id("orphans").locator("tr[data-kind=orphan]")).to_contain_text("pay: refund")
    expect(page.get_by_test_id("orphans").locator("tr[data-kind=multiple-roots]")).to_contain_text("web: GET /a, web: cron tick")
    coverage = page.get_by_test_id("coverage")
    expect(coverage.locator("tr[data-service=mailer]")).to_contain_text("no spans")
    expect(coverage.locator("tr[data-service=cards]")).to_contain_text("(database)")
    expect(coverage.locator("tr[data-service=cards]")).to_contain_text("pay")
    expect(coverage.locator("tr[data-service=stock]")).to_contain_text("yes")
    # An example opens the trace that lost its context; "continued" the trace the callee started.
    hop.get_by_role("link", name="continued 1").click()
    expect(page).to_have_url(re.compile(r"/trace/0{29}06[678]$"))
    expect(page.get_by_test_id("trace-name")).to_have_text("stock: GET /stock")
    page.go_back()
    hop.get_by_role("link", name="trace 1").click()
    expect(page).to_have_url(re.compile(r"/trace/0{31}[234]$"))
    expect(page.get_by_test_id("trace-name")).to_have_text("web: GET /recs")


def test_whats_different_panel_names_what_slow_and_failing_searches_share(health_page: Page) -> None:
    page = health_page
    page.goto("/search?service=api&lookback=1h&limit=20")
    panel = page.get_by_test_id("whats-different")
    expect(panel.get_by_test_id("diff-table")).to_have_count(0)  # nothing is asked until opened
    panel.locator("summary").click()
    expect(panel.get_by_test_id("diff-summary")).to_have_text("Slow (longer than 29ms): 2 traces; others: 18.")
    first_two = panel.locator("tr[data-attribute]").evaluate_all("rows => rows.slice(0, 2).map(r => r.dataset.attribute)")
    assert sorted(first_two) == ["cache.hit=false", "cloud.region=eu"]
    expect(panel.locator("tr[data-attribute='cache.hit=false']")).to_contain_text("100% (2)")
    panel.get_by_label("failing traces").check()
    expect(panel.get_by_test_id("diff-summary")).to_have_text("Failing: 3 traces; others: 17.")
    top = panel.locator("tr[data-attribute]").first
    expect(top).to_have_attribute("data-attribute", "exception.type=TimeoutError")
    top.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"tags=.*exception\.type"))
    expect(page.locator(".trace-item")).to_have_count(3)
