"""Two lines in each Flask service: their spans join up in a real Traceway."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import urllib.request

from traceway.testing import free_port

SERVICE = textwrap.dedent("""
    import sys
    from traceway import instrument
    instrument.configure(sys.argv[1], endpoint=sys.argv[2])   # the two lines

    import requests
    from flask import Flask

    app = Flask(__name__)
    downstream = sys.argv[4] if len(sys.argv) > 4 else ""

    @app.get("/order")
    def order():
        if downstream:
            return "ordered: " + requests.get(downstream + "/order", timeout=10).text
        return "in stock"

    app.run(host="127.0.0.1", port=int(sys.argv[3]))
""")


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _joined_traces(server, timeout_s: float = 20.0) -> list[dict]:
    """Traces with spans of both services, once the kit's batches arrive."""
    deadline = time.monotonic() + timeout_s
    while True:
        traces = server.api("/api/traces?service=shop&lookback=1h&limit=50")["data"]
        joined = [t for t in traces if {p["serviceName"] for p in t["processes"].values()}
                  == {"shop", "stock"} and len(t["spans"]) >= 3]
        if joined or time.monotonic() > deadline:
            return joined
        time.sleep(0.2)


def test_flask_services_with_two_lines_each_form_one_trace(traceway_server, tmp_path):
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    shop_port, stock_port = free_port(), free_port()
    stock_url = f"http://127.0.0.1:{stock_port}"
    processes = [
        subprocess.Popen([sys.executable, str(script), "stock", traceway_server.otlp_http_url,
                          str(stock_port)]),
        subprocess.Popen([sys.executable, str(script), "shop", traceway_server.otlp_http_url,
                          str(shop_port), stock_url]),
    ]
    try:
        _wait_until_up(stock_url + "/order")
        _wait_until_up(f"http://127.0.0.1:{shop_port}/order")
        answer = urllib.request.urlopen(f"http://127.0.0.1:{shop_port}/order", timeout=10).read()
        assert answer == b"ordered: in stock"
        joined = _joined_traces(traceway_server)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
    assert joined, "no trace spans both services"
    spans = {s["spanID"]: s for s in joined[0]["spans"]}
    kinds = {s["spanID"]: {t["key"]: t["value"] for t in s["tags"]}.get("span.kind")
             for s in spans.values()}
    stock_server = [s for s in spans.values() if kinds[s["spanID"]] == "server"
                    and joined[0]["processes"][s["processID"]]["serviceName"] == "stock"]
    assert len(stock_server) == 1
    parent = stock_server[0]["references"][0]["spanID"]
    assert kinds[parent] == "client"  # requests' span in the shop service
    assert all(r["spanID"] in spans for s in spans.values() for r in s["references"])
