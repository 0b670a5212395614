"""Tag conditions as a user writes them (logfmt, JSON, patterns), through a real server."""

from __future__ import annotations

import time

import httpx
import pytest

from traceway.testing import ServerProcess

TRACES = {
    # trace id: (status code, attributes of its one span)
    "a" * 32: (2, {"http.status_code": 500, "exception.type": "requests.ReadTimeout",
                   "msg": "not found"}),
    "b" * 32: (2, {"http.status_code": 500, "exception.type": "ValueError", "msg": "bad value"}),
    "c" * 32: (0, {"http.status_code": 200, "exception.type": "ConnectTimeoutError",
                   "msg": "said \"hi\""}),
}


def _value(value: object) -> dict:
    return {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}


def _otlp_json(now_ns: int) -> dict:
    spans = [{"traceId": tid, "spanId": "0102030405060708", "name": "GET /", "kind": 2,
              "startTimeUnixNano": str(now_ns - n * 1000), "endTimeUnixNano": str(now_ns),
              "status": {"code": status},
              "attributes": [{"key": k, "value": _value(v)} for k, v in attributes.items()]}
             for n, (tid, (status, attributes)) in enumerate(TRACES.items())]
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "tagged"}}]},
        "scopeSpans": [{"spans": spans}]}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("tags") / "data").start()
    answer = httpx.post(process.otlp_http_url + "/v1/traces", json=_otlp_json(time.time_ns()))
    assert answer.status_code == 200, answer.text
    for trace_id in TRACES:
        process.wait_for_trace(trace_id)
    yield process
    process.stop()


def found(server, **params) -> set[str]:
    answer = httpx.get(server.ui_url + "/api/traces", params={"service": "tagged", **params})
    assert answer.status_code == 200, answer.text
    return {trace["traceID"][0] for trace in answer.json()["data"]}


@pytest.mark.parametrize("params, expected", [
    ({"tags": "error=true http.status_code=500"}, {"a", "b"}),
    ({"tags": '{"error":"true","http.status_code":"500"}'}, {"a", "b"}),
    ({"tags": '{"error":true,"http.status_code":500}'}, {"a", "b"}),
    ({"tags": 'msg="not found"'}, {"a"}),
    ({"tags": r'msg="said \"hi\""'}, {"c"}),
    ({"tags": "  error=true   "}, {"a", "b"}),
    ({"tag": "exception.type:~Timeout"}, {"a", "c"}),
    ({"tag": "exception.type:~^Connect.*Error$"}, {"c"}),
    ({"tag": "exception.type:*Timeout"}, {"a", "c"}),
    ({"tag": "exception.type:*timeout"}, set()),
    ({"tags": "exception.type=~(?i)timeout error=true"}, {"a"}),
    ({"tags": 'msg=*"found"'}, {"a"}),
    ({"tags": 'msg="~x"'}, set()),
    ({"tag": "http.status_code:~5"}, set()),  # patterns see string values only
    ({"tag": ["error:true", "exception.type:*Value"]}, {"b"}),
])
def test_tag_conditions(server, params, expected):
    assert found(server, **params) == expected

