"""The diagnosis views in Chromium: critical path, jump to cause, statistics, flame graph,
compare (two traces, and with typical), span kinds and clock-skew adjustment."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from ui_traces import new_trace_id, send_otlp, wait_for_trace

from traceway.testing import ServerProcess

pytestmark = pytest.mark.browser

MS = 1_000_000
STACK = ('Traceback (most recent call last):\n  File "payment.py", line 42, in authorize\n'
         '    raise AcquirerTimeoutError(order)\nAcquirerTimeoutError: acquirer did not answer')


def _attr(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": str(value)}}


def shop_trace(trace_id: str, *, fail: bool = True, pay_ms: int = 100, skew_ms: int = 0,
               root: str = "POST /checkout", reserve_fails: bool = False) -> dict[str, Any]:
    """frontend -> checkout -> {inventory reserve 10..40, cache lookup 60..70, payment
    authorize 50..50+pay}; when ``fail``, authorize raises and everything above fails.
    ``skew_ms`` moves inventory (another host) that much before its parent."""
    t0 = time.time_ns() - 5_000_000_000
    ids = {name: os.urandom(8).hex() for name in ("front", "checkout", "reserve", "cache", "pay")}
    error = {"code": 2, "message": "failed"} if fail else {}

    def span(key: str, parent: str, name: str, kind: int, start: int, dur: int, **extra: Any) -> dict[str, Any]:
        return {"traceId": trace_id, "spanId": ids[key], "parentSpanId": ids[parent] if parent else "",
                "name": name, "kind": kind, "startTimeUnixNano": str(t0 + start * MS),
                "endTimeUnixNano": str(t0 + (start + dur) * MS), **extra}

    exception = {"timeUnixNano": str(t0 + (50 + pay_ms - 1) * MS), "name": "exception",
                 "attributes": [_attr("exception.type", "AcquirerTimeoutError"),
                                _attr("exception.message", "acquirer did not answer"),
                                _attr("exception.stacktrace", STACK)]}
    services = {
        "frontend": [span("front", "", root, 2, 0, 60 + pay_ms + 40, status=error)],
        "checkout": [span("checkout", "front", "place order", 2, 5, 50 + pay_ms + 25, status=error),
                     span("cache", "checkout", "cache lookup", 3, 60, 10)],
        "inventory": [span("reserve", "checkout", "reserve stock", 2, 10 - skew_ms, 30,
                           status=error if reserve_fails else {})],
        "payment": [span("pay", "checkout", "authorize card", 1, 50, pay_ms, status=error,
                         events=[exception] if fail else [])],
    }
    return {"resourceSpans": [
        {"resource": {"attributes": [_attr("service.name", svc), _attr("host.name", f"{svc}-host")]},
         "scopeSpans": [{"scope": {"name": "tests"}, "spans": spans}]}
        for svc, spans in services.items()]}


def send(server: ServerProcess, body: dict[str, Any]) -> str:
    trace_id = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    send_otlp(server.otlp_http_port, body)
    wait_for_trace(server, trace_id, 5)
    return str(trace_id)


@pytest.fixture(scope="module")
def failed(ui_server: ServerProcess) -> str:
    return send(ui_server, shop_trace(new_trace_id()))


def row(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=waterfall] [role=treeitem]").filter(has_text=name)


def test_critical_path_toggle_marks_the_spans_waited_for(page: Page, failed: str) -> None:
    page.goto(f"/trace/{failed}")
    expect(row(page, "authorize card")).to_be_visible()
    assert page.locator(".cp-seg").count() == 0
    page.get_by_test_id("critical-path-toggle").check()
    expect(page).to_have_url(re.compile("criticalPath=1"))
    for name in ("POST /checkout", "place order", "reserve stock", "authorize card"):
        expect(row(page, name)).to_have_attribute("data-critical", "")
    # Overlapped by the payment call, which ends later: the request did not wait for it.
    expect(row(page, "cache lookup").locator(".cp-seg")).to_have_count(0)
    assert row(page, "cache lookup").get_attribute("data-critical") is None
    # The same path on the flame graph.
    page.get_by_role("tab", name="Flame graph").click()
    expect(page.get_by_test_id("flame-graph").locator(".cp-seg").first).to_be_visible()
    page.get_by_test_id("critical-path-toggle").uncheck()
    expect(page.get_by_test_id("flame-graph").locator(".cp-seg")).to_have_count(0)


def test_the_error_origin_is_marked_and_jump_to_cause_finds_it(page: Page, failed: str) -> None:
    page.goto(f"/trace/{failed}")
    origin = row(page, "authorize card")
    expect(origin).to_have_attribute("data-error-role", "origin")
    expect(origin.get_by_label("error origin")).to_be_visible()
    for name in ("POST /checkout", "place order"):
        expect(row(page, name)).to_have_attribute("data-error-role", "inherited")
        expect(row(page, name).get_by_label("inherited error")).to_be_visible()

    page.get_by_test_id("jump-to-cause").click()
    details = page.get_by_test_id("span-details")
    expect(details.locator("h2")).to_have_text("authorize card")
    expect(details.get_by_test_id("error-origin-note")).to_be_visible()
    expect(details.get_by_test_id("exception-type")).to_have_text("AcquirerTimeoutError")
    stack = details.get_by_test_id("stacktrace")
    expect(stack).to_have_text(STACK)
    assert stack.evaluate("e => getComputedStyle(e).whiteSpace") == "pre"
    assert "monospace" in stack.evaluate("e => getComputedStyle(e).fontFamily") or "mono" in \
        stack.evaluate("e => getComputedStyle(e).fontFamily").lower()
    assert stack.inner_text().count("\n") == STACK.count("\n")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    details.get_by_role("button", name="Copy").click()
    expect(details.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == STACK

    row(page, "POST /checkout").click()
    expect(details.get_by_test_id("error-inherited-note")).to_contain_text("payment: authorize card")
    details.get_by_test_id("span-jump-to-cause").click()
    expect(details.locator("h2")).to_have_text("authorize card")


def test_jump_to_cause_goes_round_every_origin(page: Page, ui_server: ServerProcess) -> None:
    trace_id = send(ui_server, shop_trace(new_trace_id(), reserve_fails=True))
    page.goto(f"/trace/{trace_id}?view=flame")
    jump = page.get_by_test_id("jump-to-cause")
    expect(jump).to_contain_text("next: 1 of 2")
    details = page.get_by_test_id("span-details")
    jump.click()
    expect(page).not_to_have_url(re.compile("view=flame"))  # the cause is shown in the timeline
    expect(details.locator("h2")).to_have_text("reserve stock")
    expect(jump).to_contain_text("next: 2 of 2")
    jump.click()
    expect(details.locator("h2")).to_have_text("authorize card")
    jump.click()
    expect(details.locator("h2")).to_have_text("reserve stock")


def test_span_kind_is_shown_in_the_tree(page: Page, failed: str) -> None:
    page.goto(f"/trace/{failed}")
    expect(row(page, "cache lookup").locator(".badge.kind")).to_have_text("client")
    expect(row(page, "place order").locator(".badge.kind")).to_have_text("server")
    expect(row(page, "authorize card").locator(".badge.kind")).to_have_text("internal")


def test_statistics_table_sorts(page: Page, failed: str) -> None:
    page.goto(f"/trace/{failed}")
    page.get_by_role("tab", name="Statistics").click()
    table = page.get_by_test_id("stats-table")
    expect(table.locator("tbody tr")).to_have_count(5)
    # Largest self time first: authorize card (100ms, no children).
    expect(table.locator("tbody tr").first).to_contain_text("authorize card")
    table.get_by_role("button", name="Operation", exact=True).click()
    names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert names == sorted(names, key=str.casefold), names  # localeCompare: case-insensitive
    table.get_by_role("button", name=re.compile("^Operation")).click()
    assert table.locator("tbody tr td:nth-child(2)").all_inner_texts() == sorted(names, key=str.casefold, reverse=True)
    page.get_by_role("button", name="By service").click()
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(page).to_have_url(re.compile("view=stats"))


def test_flame_graph_shows_every_span_and_selects_one(page: Page, failed: str) -> None:
    page.goto(f"/trace/{failed}?view=flame")
    flame = page.get_by_test_id("flame-graph")
    expect(flame.locator(".flame-box")).to_have_count(5)

    def box(title: str) -> Locator:  # by title: the boxes may render again in another order
        return flame.locator(f".flame-box[title^='{title} · ']")

    origin = box("payment: authorize card")
    # The error analysis may arrive after the boxes: wait for it.
    expect(origin).to_have_attribute("data-error-role", "origin")
    root = box("frontend: POST /checkout").bounding_box()
    child = box("checkout: place order").bounding_box()
    assert root and child and child["y"] > root["y"] and child["width"] < root["width"]
    origin.click()
    expect(page.get_by_test_id("span-details").locator("h2")).to_have_text("authorize card")


def test_compare_two_picked_search_results(page: Page, ui_server: ServerProcess) -> None:
    fast = send(ui_server, shop_trace(new_trace_id(), fail=False, pay_ms=20, root="GET /compare-me"))
    slow = send(ui_server, shop_trace(new_trace_id(), fail=True, pay_ms=300, root="GET /compare-me"))
    page.goto("/search?service=frontend&operation=GET%20%2Fcompare-me&lookback=1h")
    for trace_id in (fast, slow):
        page.locator(f"[data-trace-id='{trace_id}']").get_by_label("Pick for compare").check()
    page.get_by_test_id("compare-picked").click()
    expect(page).to_have_url(re.compile("/compare\\?a="))
    table = page.get_by_test_id("compare-table")
    expect(table.locator("tbody tr")).to_have_count(5)
    pay = table.locator("tbody tr").filter(has_text="authorize card")
    expect(pay).to_have_attribute("data-status", "both")
    latency = pay.locator("td").last.inner_text()
    assert latency in ("+280ms", "−280ms"), latency


def test_compare_with_typical_from_the_trace_page(page: Page, ui_server: ServerProcess) -> None:
    usual = [send(ui_server, shop_trace(new_trace_id(), fail=False, root="GET /typical")) for _ in range(3)]
    odd = send(ui_server, shop_trace(new_trace_id(), pay_ms=400, root="GET /typical"))
    assert usual
    page.goto(f"/trace/{odd}")
    page.get_by_test_id("typical-link").click()
    expect(page.get_by_test_id("typical-of")).to_have_text("3")
    pay = page.get_by_test_id("compare-table").locator("tbody tr").filter(has_text="authorize card")
    expect(pay.locator("td").last).to_have_text("−300ms")


def test_clock_skew_is_flagged_and_adjusted_on_request(page: Page, ui_server: ServerProcess) -> None:
    skewed = send(ui_server, shop_trace(new_trace_id(), fail=False, skew_ms=8))
    page.goto(f"/trace/{skewed}")
    toggle = page.get_by_test_id("adjust-skew-toggle")
    expect(page.locator(".toggle-check").filter(has=toggle)).to_contain_text("Adjust clock skew (1 span)")
    row(page, "reserve stock").click()
    expect(page.get_by_test_id("span-details")).to_contain_text("?adjustClockSkew=true")
    toggle.check()
    expect(page).to_have_url(re.compile("adjustClockSkew=true"))
    expect(page.locator(".toggle-check").filter(has=page.get_by_test_id("adjust-skew-toggle"))).to_contain_text(
        "Clock skew adjusted (1 span)")
    expect(page.get_by_test_id("span-details")).to_contain_text("clock skew adjusted: times shifted by +")
