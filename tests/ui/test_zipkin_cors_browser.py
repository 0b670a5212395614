"""A page served from another origin, as Zipkin Lens is when it runs apart from the server,
reads Traceway's Zipkin API in real Chromium: allowed by --zipkin-cors-origins, refused without.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from traceway.testing import ServerProcess, free_port

# What Zipkin Lens's discover, trace and dependency pages fetch, written out plainly.
PAGE = """<!doctype html><title>lens stand-in</title><pre id=out>loading</pre><script>
const api = new URLSearchParams(location.search).get("api");
const get = (path) => fetch(api + path).then(r => r.ok ? r.json() : Promise.reject(r.status));
(async () => {
  try {
    const services = await get("/api/v2/services");
    const names = await get("/api/v2/spans?serviceName=" + services[0]);
    const traces = await get("/api/v2/traces?serviceName=" + services[0] + "&limit=10");
    const trace = await get("/api/v2/trace/" + traces[0][0].traceId);
    const links = await get("/api/v2/dependencies?endTs=" + Date.now() + "&lookback=3600000");
    document.getElementById("out").textContent = JSON.stringify(
      {services, names, traceId: trace[0].traceId, spans: trace.length, links});
  } catch (e) {
    document.getElementById("out").textContent = "failed: " + e;
  }
})();
</script>"""


@pytest.fixture(scope="module")
def lens_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lens")
    (root / "index.html").write_text(PAGE)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _server_with_trace(data_dir: Path, extra_args: list[str]) -> ServerProcess:
    server = ServerProcess(data_dir, extra_args=extra_args).start()
    now_us = time.time_ns() // 1000 - 1_000_000
    spans = [{"traceId": "0000000000c0ffee", "id": "00000000000000a1",
              "kind": "SERVER", "name": "get /", "timestamp": now_us, "duration": 800,
              "localEndpoint": {"serviceName": "web"}},
             {"traceId": "0000000000c0ffee", "id": "00000000000000a2",
              "parentId": "00000000000000a1", "kind": "SERVER", "name": "get /api",
              "timestamp": now_us + 10, "duration": 500, "localEndpoint": {"serviceName": "api"}}]
    request = urllib.request.Request(server.zipkin_url, data=json.dumps(spans).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()
    server.wait_for_trace("0000000000c0ffee", 2)
    return server


def _run_page(browser, lens_origin: str, server: ServerProcess) -> str:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{lens_origin}/index.html?api=http://127.0.0.1:{server.zipkin_port}")
        page.wait_for_function("document.getElementById('out').textContent !== 'loading'",
                               timeout=15_000)
        return str(page.text_content("#out"))
    finally:
        context.close()


def test_lens_on_another_origin_reads_the_zipkin_api_when_allowed(browser, lens_origin, tmp_path):
    server = _server_with_trace(tmp_path / "allowed", ["--zipkin-cors-origins", lens_origin])
    try:
        shown = json.loads(_run_page(browser, lens_origin, server))
    finally:
        server.stop()
    assert shown == {"services": ["api", "web"], "names": ["get /api"],
                     "traceId": "0000000000c0ffee", "spans": 2,
                     "links": [{"parent": "web", "child": "api", "callCount": 1}]}


def test_without_the_flag_browsers_refuse_other_origins(browser, lens_origin, tmp_path):
    server = _server_with_trace(tmp_path / "default", [])
    try:
        shown = _run_page(browser, lens_origin, server)
    finally:
        server.stop()
    assert shown.startswith("failed: TypeError")
