"""What browsers may do: CORS preflights per listener, no cross-site form posts to Zipkin,
and the headers that keep the UI from being framed or sniffed."""

from __future__ import annotations

import json

import httpx
import pytest

from traceway.testing import ServerProcess

SHOP = "https://shop.example.com"
GRAFANA = "https://grafana.example.com"
EVIL = "https://evil.example.net"


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory):
    # Bound to every address without tokens: it must say so loudly in its log.
    server = ServerProcess(tmp_path_factory.mktemp("cors") / "data", extra_args=[
        "--host", "0.0.0.0", "--otlp-cors-origins", f"{SHOP}, http://localhost:3000",
        "--query-cors-origins", GRAFANA]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory):
    """The defaults: loopback, no tokens, no CORS."""
    server = ServerProcess(tmp_path_factory.mktemp("plain") / "data").start()
    yield server
    server.stop()


def _preflight(url: str, origin: str, method: str = "POST",
               headers: str = "content-type,traceparent,x-shop-tenant") -> httpx.Response:
    return httpx.options(url, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                       "Access-Control-Request-Headers": headers})


def test_otlp_preflight_from_an_allowed_origin_is_answered(cors_server):
    answer = _preflight(cors_server.otlp_http_url + "/v1/traces", SHOP)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == SHOP
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert {"content-type", "traceparent", "x-shop-tenant"} <= {h.strip() for h in allowed.split(",")}


def test_otlp_post_from_an_allowed_origin_is_readable_by_the_page(cors_server):
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "click checkout", "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000100000000"}
    body = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "shop-web"}}]},
        "scopeSpans": [{"spans": [span]}]}]}
    answer = httpx.post(cors_server.otlp_http_url + "/v1/traces", content=json.dumps(body),
                        headers={"Origin": "http://localhost:3000",
                                 "content-type": "application/json"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "retry-after" in answer.headers["access-control-expose-headers"].lower()
    cors_server.wait_for_trace(span["traceId"])


@pytest.mark.parametrize("origin", [EVIL, GRAFANA, "https://shop.example.com.evil.net"])
def test_otlp_preflight_from_other_origins_is_refused(cors_server, origin):
    answer = _preflight(cors_server.otlp_http_url + "/v1/traces", origin)
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


def test_query_api_has_its_own_origin_list(cors_server):
    allowed = _preflight(cors_server.ui_url + "/api/traces", GRAFANA, "GET", "authorization")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == GRAFANA
    assert _preflight(cors_server.ui_url + "/api/traces", SHOP, "GET").status_code == 400
    read = httpx.get(cors_server.ui_url + "/api/services", headers={"Origin": GRAFANA})
    assert read.headers["access-control-allow-origin"] == GRAFANA
    refused = httpx.get(cors_server.ui_url + "/api/services", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in refused.headers


def test_zipkin_has_no_cors_when_none_is_configured(cors_server):
    answer = _preflight(cors_server.zipkin_url, SHOP)
    assert answer.status_code == 405
    assert not [h for h in answer.headers if h.startswith("access-control-")]


def test_open_listeners_on_every_address_are_warned_about(cors_server):
    log = cors_server.log_path.read_text()
    assert "SECURITY: listening on 0.0.0.0 without authentication for: ingest" in log
    assert "query (traces to anyone)" in log


def test_default_server_sends_no_cors_headers(plain_server):
    for url in (plain_server.otlp_http_url + "/v1/traces", plain_server.zipkin_url,
                plain_server.ui_url + "/api/services"):
        for answer in (_preflight(url, SHOP), httpx.get(url, headers={"Origin": SHOP})):
            assert not [h for h in answer.headers if h.startswith("access-control-")], url
    assert "SECURITY" not in plain_server.log_path.read_text()  # loopback: no warning


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_zipkin_refuses_what_a_cross_site_form_can_send(plain_server, content_type):
    spans = [{"traceId": "00000000000000000000000000abcdef", "id": "00000000000000ab",
              "name": "forged", "timestamp": 1700000000000000, "duration": 10,
              "localEndpoint": {"serviceName": "forged-by-form"}}]
    headers = {"content-type": content_type} if content_type else {}
    answer = httpx.post(plain_server.zipkin_url, content=json.dumps(spans), headers=headers)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["message"]
    accepted = httpx.post(plain_server.zipkin_url, json=spans)
    assert accepted.status_code == 202  # the same body with a JSON type is stored
    plain_server.wait_for_trace(spans[0]["traceId"])


def test_ui_answers_carry_a_strict_policy(plain_server):
    for path in ("/search", "/api/services", "/favicon.svg"):
        answer = httpx.get(plain_server.ui_url + path)
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
