"""The services overview, a service's page and the service map's errors and latency,
in Chromium against a real server fed over OTLP/HTTP."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from ui_traces import new_trace_id, send_otlp

from traceway.testing import ServerProcess

pytestmark = pytest.mark.browser
MS = 1_000_000


def _shop_request(trace_id: str, operation: str, duration_ms: int, failed: bool) -> dict[str, Any]:
    """red-web (SERVER) calls red-orders (SERVER) which does the work."""
    t0 = time.time_ns() - 3_000 * MS
    web_id, orders_id = os.urandom(8).hex(), os.urandom(8).hex()

    def resource(service: str, span: dict[str, Any]) -> dict[str, Any]:
        return {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "tests"}, "spans": [span]}]}

    orders = {"traceId": trace_id, "spanId": orders_id, "parentSpanId": web_id, "name": operation,
              "kind": 2, "startTimeUnixNano": str(t0 + MS),
              "endTimeUnixNano": str(t0 + (1 + duration_ms) * MS)}
    if failed:
        orders["status"] = {"code": 2, "message": "out of stock"}
    web = {"traceId": trace_id, "spanId": web_id, "name": "GET /shop", "kind": 2,
           "startTimeUnixNano": str(t0), "endTimeUnixNano": str(t0 + (duration_ms + 50) * MS)}
    return {"resourceSpans": [resource("red-web", web), resource("red-orders", orders)]}


@pytest.fixture(scope="module")
def shop(ui_server: ServerProcess) -> None:
    """Six requests: two `POST /order` that fail after 400 ms, four fast `GET /item`."""
    calls = [("POST /order", 400, True)] * 2 + [("GET /item", 10, False)] * 4
    for operation, duration_ms, failed in calls:
        send_otlp(ui_server.otlp_http_port, _shop_request(new_trace_id(), operation, duration_ms, failed))
    deadline = time.time() + 30
    while time.time() < deadline:
        table = ui_server.api("/api/red/services?lookback=15m")["data"]
        if any(row["service"] == "red-orders" and row["calls"] >= 6 for row in table):
            return
        time.sleep(0.2)
    pytest.fail("the RED rollup never showed the requests")


def ms_of(text: str) -> float:
    """A latency as the UI prints it ("401ms", "9.9ms", "1.5s") in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(µs|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"µs": 0.001, "ms": 1, "s": 1000}[unit]


def names(page: Page) -> list[str]:
    return page.locator("[data-testid=red-table] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.name)")


def test_services_overview_sorts_by_error_rate_and_p95(page: Page, shop: None) -> None:
    page.goto("/services?lookback=15m")
    orders = page.locator("[data-testid=red-table] tr[data-name='red-orders']")
    expect(orders.locator("[data-metric=errorRatio] .metric")).to_have_text("33%")
    expect(orders.locator("[data-metric=errorRatio]")).to_have_class(re.compile("error-text"))
    web = page.locator("[data-testid=red-table] tr[data-name='red-web']")
    expect(web.locator("[data-metric=errorRatio] .metric")).to_have_text("0%")
    # Error rate, worst first, is the default order.
    listed = names(page)
    assert listed.index("red-orders") < listed.index("red-web")
    # The sparklines carry the per-minute values the lines are drawn from.
    points = orders.get_by_role("img", name="red-orders requests per second").get_attribute("data-points")
    assert points and any(v not in ("", "0") for v in points.split(","))
    page.get_by_role("button", name="p95 latency").click()
    expect(page).to_have_url(re.compile(r"sort=p95&dir=desc"))
    listed = names(page)
    assert listed.index("red-web") < listed.index("red-orders")  # web waits for orders: slower
    page.get_by_role("button", name="p95 latency ▼").click()
    expect(page).to_have_url(re.compile(r"sort=p95&dir=asc"))
    listed = names(page)
    assert listed.index("red-orders") < listed.index("red-web")


def test_a_service_page_lists_its_operations(page: Page, shop: None) -> None:
    page.goto("/services?lookback=15m")
    page.get_by_role("link", name="red-orders", exact=True).click()
    expect(page).to_have_url("/services/red-orders?lookback=15m")
    expect(page.get_by_role("heading", name="red-orders")).to_be_visible()
    order = page.locator("[data-testid=red-table] tr[data-name='POST /order']")
    item = page.locator("[data-testid=red-table] tr[data-name='GET /item']")
    expect(order.locator("[data-metric=errorRatio] .metric")).to_have_text("100%")
    expect(item.locator("[data-metric=errorRatio] .metric")).to_have_text("0%")
    # Latencies come from a sketch that is within 1 % of the true value.
    assert ms_of(order.locator("[data-metric=p95] .metric").inner_text()) == pytest.approx(400, rel=0.02)
    assert ms_of(item.locator("[data-metric=p95] .metric").inner_text()) == pytest.approx(10, rel=0.02)
    assert names(page) == ["POST /order", "GET /item"]  # slowest first
    order.get_by_role("link", name="POST /order").click()
    expect(page).to_have_url("/search?service=red-orders&operation=POST%20%2Forder&lookback=15m")


def test_service_map_edges_show_error_rate_and_p95(page: Page, shop: None) -> None:
    page.goto("/dependencies?lookback=1h")
    edge = page.locator("[data-edge='red-web->red-orders']")
    cells = edge.locator("td.num")
    expect(cells.nth(0)).to_have_text("6")
    expect(cells.nth(1)).to_have_text("33%")
    assert ms_of(cells.nth(2).inner_text()) == pytest.approx(400, rel=0.02)
    graph = page.get_by_test_id("service-graph")
    expect(graph).to_have_attribute("data-edge-labels", re.compile(
        r"red-web->red-orders: 6 · 33% err · p95 \d+ms"))
