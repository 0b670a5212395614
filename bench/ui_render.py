"""How fast the trace page gets big traces on screen, in Debian's Chromium.

    PYTHONPATH=src .venv/bin/python bench/ui_render.py [--sizes 1000,10000,100000] [--fanout 8]

Starts a real `traceway serve` (free ports, temporary data dir), sends one trace per size over
OTLP/HTTP, opens /trace/{id} and prints, per size:
  fetch      navigation start -> trace JSON parsed (server query + transfer + JSON.parse)
  tti        trace JSON parsed -> first frame with the rows painted (tree building + render)
  scroll     frame times while the waterfall scrolls by 40 rows a frame for 240 frames;
             "bottom" says whether the last row is painted after a jump to the end
  find       first find-in-trace over every span, typed to the match count painted (includes
             building the search text and, from 5,000 spans, the 150 ms typing debounce)
  heap       JS heap in use afterwards
Needs the UI built (`make ui`) and chromium (`apt-get install -y chromium`). Prints, never asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from traceway.testing import ServerProcess

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ui"))
from ui_traces import big_trace, new_trace_id, send_otlp, wait_for_trace  # noqa: E402

COLUMNS = ["spans", "fetch_ms", "tti_ms", "dom_rows", "scroll_p50_ms", "scroll_p95_ms", "scroll_max_ms",
           "bottom", "find_ms", "heap_mb"]
CHROMIUM = os.environ.get("TRACEWAY_CHROMIUM", "/usr/bin/chromium")

SCROLL_JS = """async ([rows, frames]) => {
  const el = document.querySelector('[data-testid=waterfall]');
  const times = [];
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    el.scrollTop += rows * 26;
    await new Promise(requestAnimationFrame);
    const now = performance.now();
    times.push(now - last);
    last = now;
  }
  // Then jump to the end: the last row must be painted there.
  el.scrollTop = el.scrollHeight;
  await new Promise(requestAnimationFrame);
  await new Promise(requestAnimationFrame);
  const height = el.querySelector('.wf-rows').offsetHeight;
  // Computed transforms keep ~6 significant digits, hence the half-row tolerance.
  const lastRow = [...el.querySelectorAll('[role=treeitem]')]
    .some((r) => new DOMMatrix(getComputedStyle(r).transform).m42 + 1.5 * r.offsetHeight >= height);
  return {times, reachedBottom: lastRow};
}"""


def measure(page, base: str, trace_id: str, spans: int) -> dict[str, float | str]:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/trace/{trace_id}", wait_until="commit")
    page.wait_for_function(f"document.body.dataset.traceReady === '{trace_id}'", timeout=600_000)
    m = page.evaluate("""() => {
      const data = performance.getEntriesByName('traceway:trace-data')[0].startTime;
      const tti = performance.getEntriesByName('traceway:tti')[0].duration;
      return {fetch: data, tti, rows: document.querySelectorAll('[role=treeitem]').length};
    }""")
    page.evaluate("() => document.querySelector('[data-testid=waterfall]').scrollTop = 0")
    scroll = page.evaluate(SCROLL_JS, [40, 240])
    times = sorted(scroll["times"][1:])
    find_ms = page.evaluate("""async () => {
      const input = document.querySelector('input[aria-label="Find in trace"]');
      const t0 = performance.now();
      input.value = 'span.index=7';
      input.dispatchEvent(new Event('input', {bubbles: true}));
      while (!document.querySelector('[data-testid=match-count]')) await new Promise(requestAnimationFrame);
      await new Promise(requestAnimationFrame);
      return performance.now() - t0;
    }""")
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : 0")
    return {
        "spans": spans, "fetch_ms": m["fetch"], "tti_ms": m["tti"], "dom_rows": m["rows"],
        "scroll_p50_ms": statistics.median(times), "scroll_p95_ms": times[int(len(times) * 0.95)],
        "scroll_max_ms": times[-1], "bottom": "yes" if scroll["reachedBottom"] else "no",
        "find_ms": float(find_ms), "heap_mb": heap / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--fanout", type=int, default=8)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)}
        server = ServerProcess(Path(tmp) / "data", env=env).start()
        try:
            ids = {}
            for n in sizes:
                trace_id = new_trace_id()
                t0 = time.monotonic()
                send_otlp(server.otlp_http_port, big_trace(trace_id, n, fanout=args.fanout))
                wait_for_trace(server, trace_id, n, timeout_s=600)
                ingest = time.monotonic() - t0
                print(f"sent and stored {n:>7,} spans in {ingest:6.1f}s", file=sys.stderr)
                ids[n] = trace_id
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-precise-memory-info"])
                results = []
                for n in sizes:
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    try:
                        results.append(measure(page, server.ui_url, ids[n], n))
                    except PlaywrightError as exc:  # a crashed tab is a result too
                        print(f"{n:,} spans: the page failed: {exc}", file=sys.stderr)
                        results.append(dict.fromkeys(COLUMNS, "FAILED") | {"spans": n})
                    page.close()
                browser.close()
        finally:
            server.stop()

    print(" ".join(f"{c:>13}" for c in COLUMNS))
    for r in results:
        print(" ".join(_cell(r[c]) for c in COLUMNS))


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:>13,.1f}"
    if isinstance(v, int):
        return f"{v:>13,}"
    return f"{v!s:>13}"


if __name__ == "__main__":
    main()
