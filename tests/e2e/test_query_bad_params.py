"""Every bad query parameter answers 400 with the reason (issue 8, bug 4), through a real server."""

from __future__ import annotations

import json

import httpx
import pytest

from traceway.query.params import MAX_LIMIT
from traceway.sample import sample_request
from traceway.testing import ServerProcess


@pytest.fixture(scope="module", autouse=True)
def decoder_path() -> str:
    """Queries do not depend on how the server decoded OTLP: one run, not one per decoder."""
    return "c-decoder"
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("bad-params") / "data").start()
    process.ingest(sample_request(2, seed=3))
    yield process
    process.stop()


BAD = [
    # (path, parameters, words the reason must contain)
    ("/api/traces", {"service": "frontend", "tag": "http.status_code:" + "9" * 5000}, None),
    ("/api/traces", {"service": "frontend", "tag": "otel.dropped_events_count:²"}, None),
    ("/api/traces", {"service": "frontend", "lookback": "9" * 400}, "lookback"),
    ("/api/traces", {"service": "frontend", "lookback": "9" * 400 + "h"}, "lookback"),
    ("/api/traces", {"service": "frontend", "lookback": "9" * 30 + "h"}, "292 years"),
    ("/api/traces", {"service": "frontend", "minDuration": "9" * 400 + "s"}, "minDuration"),
    ("/api/traces", {"service": "frontend", "maxDuration": "1e9s"}, "maxDuration"),
    ("/api/traces", {"service": "frontend", "tags": "[" * 3000 + "]" * 3000},
     "tags: expected key=value pairs or a JSON object"),
    ("/api/traces", {"service": "frontend", "tags": '{"a":' * 3000 + "1" + "}" * 3000},
     "tags: expected key=value pairs or a JSON object"),
    ("/api/traces", {"service": "frontend", "tags": '{"a": [1, 2]}'}, "string, number or boolean"),
    ("/api/traces", {"service": "frontend", "tags": '{"a": "\\ud800"}'}, "Unicode"),
    ("/api/traces", {"service": "frontend", "tags": '{"error": tru'},
     "tags: expected key=value pairs or a JSON object"),
    ("/api/traces", {"service": "frontend", "tags": 'error=true msg="unclosed'},
     "tags: expected key=value pairs or a JSON object"),
    ("/api/traces", {"service": "frontend", "tag": "exception.type:~(Timeout"},
     "not a regular expression"),
    ("/api/traces", {"service": "frontend", "tag": "exception.type:~(?=Timeout)"},
     "not a regular expression in RE2 syntax"),
    ("/api/traces", {"service": "frontend", "tag": "noseparator"}, "key:value"),
    ("/api/traces", {"service": "frontend", "start": "9" * 400}, "start"),
    ("/api/traces", {"service": "frontend", "end": "9" * 19}, "end"),
    ("/api/traces", {"service": "frontend", "start": "-1"}, "negative"),
    ("/api/traces", {"service": "frontend", "start": "١٢"}, "not an integer"),
    ("/api/traces", {"service": "frontend", "limit": str(MAX_LIMIT + 1)}, str(MAX_LIMIT)),
    ("/api/traces", {"service": "frontend", "limit": "9" * 400}, str(MAX_LIMIT)),
    ("/api/traces", {"service": "frontend", "limit": "-5"}, "negative"),
    ("/api/traces", {"service": "frontend", "spanKind": "sideways"}, "spanKind"),
    ("/api/traces", {"traceID": "²" * 16}, "hexadecimal"),
    ("/api/traces/" + "z" * 32, {}, "hexadecimal"),
    ("/api/operations", {"service": "frontend", "spanKind": "²"}, "spanKind"),
    ("/api/dependencies", {"endTs": "9" * 30}, "endTs"),
    ("/api/dependencies", {"lookback": "9" * 17}, "lookback"),
]


@pytest.mark.parametrize("path,params,reason", BAD, ids=[f"{p}?{'&'.join(q)}" for p, q, _ in BAD])
def test_bad_parameter_is_400_with_the_reason(server, path, params, reason):
    answer = httpx.get(server.ui_url + path, params=params, timeout=30)
    if reason is None:  # valid, just unusual: an empty answer, not an error
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["data"] == []
        return
    assert answer.status_code == 400, answer.text[:300]
    message = answer.json()["errors"][0]["msg"]
    assert reason in message
    assert "Traceback" not in message and "JSONDecodeError" not in message


def test_nothing_was_logged_as_a_server_error(server):
    for path, params, _ in BAD:
        httpx.get(server.ui_url + path, params=params, timeout=30)
    log = server.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]


def test_pretty_print_on_every_json_answer(server):
    for path in ("/api/services", "/api/traces?service=frontend&limit=1",
                 "/api/traces?limit=-1", "/api/dependencies"):
        answer = httpx.get(f"{server.ui_url}{path}{'&' if '?' in path else '?'}prettyPrint=true")
        assert answer.text.startswith("{\n  \""), answer.text[:80]
        compact = httpx.get(server.ui_url + path)
        assert json.loads(answer.text) == compact.json()
        assert "\n" not in compact.text
