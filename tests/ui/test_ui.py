"""What a user sees in the web UI, against a real server fed over OTLP/HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from ui_traces import big_trace, checkout_trace, new_trace_id, send_otlp, wait_for_trace

from traceway.testing import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def checkout(ui_server: ServerProcess) -> dict[str, str]:
    """Two checkout traces; the payments span of the first links to the second."""
    ids = {"linked": new_trace_id(), "main": new_trace_id()}
    send_otlp(ui_server.otlp_http_port, checkout_trace(ids["linked"]))
    send_otlp(ui_server.otlp_http_port, checkout_trace(ids["main"], linked_trace_id=ids["linked"]))
    for trace_id in ids.values():
        wait_for_trace(ui_server, trace_id, 4)
    return ids


def rows(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=waterfall] [role=treeitem]")


def test_search_by_service_finds_the_trace_and_opens_it(page: Page, checkout: dict[str, str]) -> None:
    page.goto("/")
    expect(page).to_have_url("/search")
    page.select_option("select[name=service]", "frontend")
    page.get_by_role("button", name="Find traces").click()
    result = page.locator(f"[data-trace-id='{checkout['main']}']")
    expect(result).to_contain_text("frontend: GET /checkout")
    expect(result).to_contain_text("4 spans")
    expect(result).to_contain_text("1 error")
    expect(result).to_contain_text("payments (1)")
    expect(page).to_have_url("/search?service=frontend&lookback=1h&limit=20")
    expect(page.get_by_test_id("scatter").locator("canvas").first).to_be_visible()

    page.select_option("select[name=sort]", "spans")
    expect(page).to_have_url(re.compile(r"sort=spans"))
    counts = [int(t.split()[0].replace(",", "")) for t in page.locator(".trace-item .chip").filter(
        has_text=re.compile(r"^[\d,]+ spans?$")).all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and counts

    result.click()
    expect(page).to_have_url(f"/trace/{checkout['main']}")
    expect(page.get_by_test_id("trace-name")).to_have_text("frontend: GET /checkout")
    expect(page).to_have_title("frontend: GET /checkout · Traceway")
    page.go_back()
    expect(page.locator(f"[data-trace-id='{checkout['main']}']")).to_be_visible()
    expect(page.locator("select[name=sort]")).to_have_value("spans")
    page.reload()
    expect(page.locator("select[name=service]")).to_have_value("frontend")
    expect(page.locator(f"[data-trace-id='{checkout['main']}']")).to_be_visible()


def test_a_dot_in_the_scatter_plot_opens_its_trace(page: Page, ui_server: ServerProcess) -> None:
    trace_id = new_trace_id()
    send_otlp(ui_server.otlp_http_port, checkout_trace(trace_id, root_service="scatter"))
    wait_for_trace(ui_server, trace_id, 4)
    page.goto("/search?service=scatter&lookback=1h")
    plot = page.get_by_test_id("scatter").locator(".u-over")
    expect(plot).to_be_visible()
    # A lone trace sits mid-way across, at the top of a y range that is 1.1x its duration.
    box = plot.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * (1 - 1 / 1.1))
    expect(page).to_have_url(f"/trace/{trace_id}")


def test_search_by_tag(page: Page, checkout: dict[str, str]) -> None:
    page.goto("/search")
    page.select_option("select[name=service]", "payments")
    page.fill("input[name=tags]", "payment.provider=acme-pay http.status_code=500")
    page.get_by_role("button", name="Find traces").click()
    expect(page.locator(f"[data-trace-id='{checkout['main']}']")).to_be_visible()
    expect(page.locator(f"[data-trace-id='{checkout['linked']}']")).to_be_visible()

    page.fill("input[name=tags]", "payment.provider=nobody")
    page.get_by_role("button", name="Find traces").click()
    empty = page.get_by_test_id("no-results")
    expect(empty).to_contain_text("No traces found")
    empty.get_by_role("link", name="Remove the tags").click()
    expect(page.locator("input[name=tags]")).to_have_value("")
    expect(page.locator(f"[data-trace-id='{checkout['main']}']")).to_be_visible()


def test_trace_page_shows_spans_errors_and_details(page: Page, checkout: dict[str, str]) -> None:
    page.goto(f"/trace/{checkout['main']}")
    expect(rows(page)).to_have_count(4)
    expect(page.get_by_test_id("span-count")).to_have_text("4")
    expect(page.get_by_test_id("error-count")).to_have_text("1")
    error_row = rows(page).filter(has_text="charge card")
    expect(error_row).to_have_class("wf-row error")
    expect(error_row.get_by_label("error")).to_be_visible()

    error_row.click()
    details = page.get_by_test_id("span-details")
    expect(details.get_by_test_id("span-status")).to_have_text("ERROR: card declined by issuer")
    expect(details.get_by_test_id("span-attributes")).to_contain_text("payment.provider")
    expect(details.get_by_test_id("span-attributes")).to_contain_text("acme-pay")
    expect(details.get_by_test_id("span-events")).to_contain_text("card declined")
    expect(details.get_by_test_id("span-events")).to_contain_text("insufficient_funds")
    expect(details.get_by_test_id("span-events")).to_contain_text("+95ms")
    expect(details.get_by_test_id("span-resource")).to_contain_text("payments-host-1")

    # The selection is part of the URL, so a reload keeps it.
    page.reload()
    expect(page.get_by_test_id("span-details")).to_contain_text("charge card")

    # The link to the other trace is clickable because that trace is stored.
    page.get_by_test_id("span-details").get_by_test_id("trace-link").click()
    expect(page).to_have_url(f"/trace/{checkout['linked']}?span=00000000000000aa")
    expect(page.get_by_test_id("trace-name")).to_have_text("frontend: GET /checkout")


def test_find_in_trace_and_keyboard(page: Page, checkout: dict[str, str]) -> None:
    page.goto(f"/trace/{checkout['main']}")
    find = page.get_by_label("Find in trace")
    find.fill("payments")
    expect(page.get_by_test_id("match-count")).to_have_text("1 match")
    expect(rows(page).filter(has_text="charge card")).to_have_class("wf-row error match")
    find.fill("http.status_code=500")
    expect(page.get_by_test_id("match-count")).to_have_text("2 matches")
    expect(page.locator("[role=treeitem].match")).to_have_count(2)
    find.press("Enter")  # Enter steps through the matches, opening each
    expect(page.get_by_test_id("span-details").locator("h2")).to_have_text("GET /checkout")
    find.press("Enter")
    expect(page.get_by_test_id("span-details").locator("h2")).to_have_text("charge card")
    find.fill("")
    page.get_by_test_id("error-count").get_by_role("button").click()  # the error count finds them
    expect(find).to_have_value("is:error")
    expect(page.locator("[role=treeitem].match")).to_have_text(re.compile("charge card"))
    find.fill("")

    # Dragging across the minimap zooms the waterfall into that time range.
    box = page.get_by_test_id("minimap").locator("canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 20, steps=5)
    page.mouse.up()
    expect(page.locator(".ruler .tick").first).not_to_have_text("0µs")
    page.get_by_role("button", name="Reset zoom").click()
    expect(page.locator(".ruler .tick").first).to_have_text("0µs")

    rows(page).first.click()
    waterfall = page.get_by_test_id("waterfall")
    waterfall.press("ArrowLeft")  # collapse the root
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.get_by_label("errors inside")).to_be_visible()
    waterfall.press("ArrowRight")
    expect(rows(page)).to_have_count(4)
    waterfall.press("ArrowDown")
    expect(page.get_by_test_id("span-details")).to_contain_text("PlaceOrder")


def test_service_map_shows_the_calls(page: Page, checkout: dict[str, str]) -> None:
    page.goto("/dependencies")
    graph = page.get_by_test_id("service-graph")
    expect(graph).to_have_attribute("data-nodes", re.compile(".+"))
    # Other tests share the server, so there may be more services than these.
    assert {"checkout", "frontend", "inventory", "payments"} <= set(graph.get_attribute("data-nodes").split(","))
    assert {"checkout->inventory", "checkout->payments", "frontend->checkout"} <= set(
        graph.get_attribute("data-edges").split(","))
    # Clicking a node searches that service's traces (cytoscape keeps its instance on the container).
    x, y = page.evaluate("""() => {
        const el = document.querySelector('[data-testid=service-graph]');
        const p = el._cyreg.cy.getElementById('payments').renderedPosition();
        const box = el.getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""")
    page.mouse.click(x, y)
    expect(page).to_have_url("/search?service=payments&lookback=24h")
    expect(page.locator(f"[data-trace-id='{checkout['main']}']")).to_be_visible()
    page.go_back()

    edge = page.locator("[data-edge='frontend->checkout']")
    assert int(edge.locator("td.num").first.inner_text().replace(",", "")) >= 2  # both checkout traces
    edge.get_by_role("link", name="checkout").click()
    expect(page).to_have_url("/search?service=checkout&lookback=24h")
    expect(page.locator(f"[data-trace-id='{checkout['main']}']")).to_be_visible()


def test_drop_an_otlp_file_anywhere(page: Page) -> None:
    trace_id = new_trace_id()
    text = json.dumps(checkout_trace(trace_id, root_service="dropped"))
    page.goto("/search")
    data = page.evaluate_handle("""(text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], "trace.otlp.json", {type: "application/json"}));
        return dt;
    }""", text)
    page.dispatch_event("main", "dragenter", {"dataTransfer": data})
    page.dispatch_event("main", "drop", {"dataTransfer": data})
    expect(page).to_have_url(f"/trace/{trace_id}?source=file")
    expect(page.get_by_test_id("trace-name")).to_have_text("dropped: GET /checkout")
    expect(rows(page)).to_have_count(4)
    expect(rows(page).filter(has_text="charge card")).to_have_class("wf-row error")


def test_open_a_jaeger_file_reload_and_download(page: Page, tmp_path: Path) -> None:
    trace_id = new_trace_id()
    otlp_file = tmp_path / "trace.otlp.json"
    otlp_file.write_text(json.dumps(checkout_trace(trace_id, root_service="uploader")))
    page.goto("/open")
    page.get_by_test_id("file-input").set_input_files(str(otlp_file))
    expect(page).to_have_url(f"/trace/{trace_id}?source=file")
    page.reload()  # the tab keeps the file's trace
    expect(page.get_by_test_id("trace-name")).to_have_text("uploader: GET /checkout")

    # The Jaeger JSON download opens again as the same trace.
    with page.expect_download() as download:
        page.get_by_role("button", name="Jaeger JSON").click()
    jaeger_file = tmp_path / "download.json"
    download.value.save_as(jaeger_file)
    assert json.loads(jaeger_file.read_text())["data"][0]["traceID"] == trace_id
    with page.expect_download() as download:
        page.get_by_role("button", name="OTLP JSON").click()
    otlp_again = tmp_path / "download.otlp.json"
    download.value.save_as(otlp_again)
    assert len(json.loads(otlp_again.read_text())["resourceSpans"]) == 4

    page.goto("/open")
    page.get_by_test_id("file-input").set_input_files(str(jaeger_file))
    expect(page.get_by_test_id("trace-name")).to_have_text("uploader: GET /checkout")
    expect(rows(page)).to_have_count(4)
    rows(page).filter(has_text="charge card").click()
    expect(page.get_by_test_id("span-details").get_by_test_id("span-events")).to_contain_text("card declined")


def test_a_file_with_several_traces_lists_them(page: Page, tmp_path: Path) -> None:
    first, second = new_trace_id(), new_trace_id()
    both = checkout_trace(first, root_service="batch-a")
    both["resourceSpans"] += checkout_trace(second, root_service="batch-b")["resourceSpans"]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(both))
    page.goto("/open")
    page.get_by_test_id("file-input").set_input_files(str(path))
    expect(page.locator(".trace-item")).to_have_count(2)
    page.reload()
    expect(page.locator(".trace-item")).to_have_count(2)
    page.locator(f"[data-trace-id='{second}'] a").click()
    expect(page).to_have_url(f"/trace/{second}?source=file")
    expect(page.get_by_test_id("trace-name")).to_have_text("batch-b: GET /checkout")


def test_a_file_that_is_not_a_trace_says_why(page: Page, tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    page.goto("/open")
    page.get_by_test_id("file-input").set_input_files(str(bad))
    expect(page.get_by_role("alert")).to_contain_text("notes.json: expected Jaeger JSON")


def test_a_10k_span_trace_renders_and_scrolls(page: Page, ui_server: ServerProcess) -> None:
    trace_id = new_trace_id()
    send_otlp(ui_server.otlp_http_port, big_trace(trace_id, 10_000))
    wait_for_trace(ui_server, trace_id, 10_000)
    page.goto(f"/trace/{trace_id}")
    expect(page.locator("body")).to_have_attribute("data-trace-ready", trace_id, timeout=30_000)
    expect(page.get_by_test_id("span-count")).to_have_text("10,000")
    assert rows(page).count() < 200  # virtualised: only the rows in view are in the page

    page.get_by_label("Find in trace").fill("span.index=9999")
    expect(page.get_by_test_id("match-count")).to_have_text("1 match")
    page.get_by_label("Find in trace").press("Enter")
    last = page.locator("[role=treeitem].match")
    expect(last).to_be_in_viewport()
    expect(page.get_by_test_id("span-details")).to_contain_text("op-49")


def test_dark_mode_follows_the_system_and_the_toggle(page: Page) -> None:
    page.emulate_media(color_scheme="dark")
    page.goto("/search")
    bg = "getComputedStyle(document.body).backgroundColor"
    dark = page.evaluate(bg)
    page.get_by_role("button", name="◐ Auto").click()  # -> dark
    page.get_by_role("button", name="● Dark").click()  # -> light
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert page.evaluate(bg) != dark
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
