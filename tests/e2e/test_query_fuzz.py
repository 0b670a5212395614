"""Fuzz every query parameter of every /api endpoint of a real server (issue 8, "Proof").

Whatever the input, the answer is 200, 400 or 404 with a JSON body, a 400 says
why, and the server logs no traceback. The normal run sends a few thousand
requests (about a minute on an idle machine); ``-m slow`` sends twenty times as many.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceway.sample import sample_request
from traceway.testing import ServerProcess

# Examples per endpoint in the normal run; the slow run multiplies them.
BUDGET = {"traces": 600, "trace": 150, "services": 50, "operations": 150,
          "service_operations": 100, "dependencies": 150, "v3": 300, "analysis": 200,
          "zipkin": 300}
SLOW_FACTOR = 20
SENT: Counter[str] = Counter()

# -- values ------------------------------------------------------------------
_any_text = st.text(max_size=60)  # lone surrogates included: sent as their raw bytes
_digits = st.integers(min_value=1, max_value=420).map(lambda n: "9" * n)
_numbers = st.one_of(st.integers().map(str), st.integers(min_value=-1, max_value=3_000).map(str),
                     _digits, st.floats().map(str),
                     st.sampled_from(["²", "١٢", "0x10", "1_000", " 7", "1e3", ""]))
_UNITS = ["ns", "us", "µs", "μs", "ms", "s", "m", "h", "d", "y", ""]
_duration_part = st.tuples(st.one_of(st.integers(min_value=0).map(str), _digits,
                                     st.sampled_from(["", ".", ".5", "1.", "0.000000001"])),
                           st.sampled_from(_UNITS)).map("".join)
_durations = st.one_of(
    st.lists(_duration_part, min_size=1, max_size=4).map("".join),
    st.sampled_from(["0", "-1s", "+1s", "1.5s", "100ms", "7d", "1h30m", ".s", "s", "custom"]),
    _any_text)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _any_text,
                     lambda children: st.lists(children, max_size=4)
                     | st.dictionaries(_any_text, children, max_size=4), max_leaves=8)
_word = st.text(alphabet="abc.xyz_-", min_size=1, max_size=8)
_logfmt_value = st.one_of(st.text(alphabet='ab" \\=~*', max_size=8).map(lambda v: f'"{v}"'),
                          st.text(alphabet="ab=~*()[]|.^$\\", max_size=8))
_logfmt = st.lists(st.tuples(_word, st.sampled_from(["=", "=~", "=*", " = ", ""]), _logfmt_value)
                   .map("".join), min_size=1, max_size=3).map(" ".join)
_tags = st.one_of(
    _json.map(json.dumps),
    st.dictionaries(_any_text, st.one_of(_any_text, st.integers(), st.booleans()),
                    max_size=3).map(json.dumps),
    _logfmt,
    st.integers(min_value=1, max_value=4_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=4_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    _any_text)
_tag = st.one_of(st.tuples(st.sampled_from(["http.status_code", "error", "span.kind", "event",
                                            "otel.dropped_events_count", "w3c.tracestate",
                                            "otel.scope.name", "exception.type", ""]),
                           st.sampled_from([":", ":~", ":*", ""]),
                           st.one_of(_any_text, _numbers,
                                     st.text(alphabet="()[]*+?.|^$\\ab{}0-9", max_size=12)))
                 .map("".join),
                 _any_text)
_trace_ids = st.one_of(st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=34),
                       _any_text)
_kinds = st.one_of(st.sampled_from(["server", "CLIENT", "internal", "producer", "consumer",
                                    "unspecified", ""]), _any_text)


def _param(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.one_of(st.just([]), values.map(lambda v: [(name, v)]))


def _query(**strategies: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    parts = [_param(name, values) for name, values in strategies.items()]
    return st.tuples(*parts).map(lambda lists: [pair for one in lists for pair in one])


def _encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _url(path: str, pairs: list[tuple[str, str]]) -> str:
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    return f"{path}?{query}" if query else path


# -- the server --------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def decoder_path() -> str:
    """Queries do not depend on how the server decoded OTLP: one run, not one per decoder."""
    return "c-decoder"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data").start()
    process.ingest(sample_request(20, seed=11))
    with httpx.Client(base_url=process.ui_url, timeout=60) as client:
        process.client = client
        yield process
    assert process.process.poll() is None, "the server died under fuzzing"
    log = process.log_path.read_text()
    process.stop()
    assert "Traceback" not in log, log[-4000:]
    print(f"\nquery fuzz: {sum(SENT.values())} requests: {dict(SENT)}")


def check(server, endpoint: str, url: str, base: str = "") -> None:
    SENT[endpoint] += 1
    answer = server.client.get(base + url)
    assert answer.status_code in (200, 400, 404), f"{url}: {answer.status_code} {answer.text[:300]}"
    if endpoint == "zipkin":  # Zipkin answers errors in plain text
        assert answer.status_code == 200 or answer.text, url
        return
    body = answer.json()
    if answer.status_code != 200:
        message = body["errors"][0]["msg"] if "errors" in body else body["error"]["message"]
        assert message and "Traceback" not in message, url


def _budget(endpoint: str) -> int:
    factor = SLOW_FACTOR if os.environ.get("TRACEWAY_FUZZ_SLOW") else 1
    return BUDGET[endpoint] * factor


def _settings(endpoint: str):
    return settings(max_examples=_budget(endpoint), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), derandomize=False)


# -- one test per endpoint -----------------------------------------------------
_TRACES_QUERY = _query(service=st.one_of(st.sampled_from(["frontend", "checkout"]), _any_text),
                       operation=_any_text, tags=_tags, minDuration=_durations,
                       maxDuration=_durations, start=_numbers, end=_numbers,
                       lookback=_durations, limit=_numbers, spanKind=_kinds,
                       prettyPrint=st.sampled_from(["true", "false", "TRUE", "", "1"]))


def fuzz_traces(server):
    @_settings("traces")
    @given(pairs=_TRACES_QUERY, tags=st.lists(_tag, max_size=3),
           ids=st.lists(_trace_ids, max_size=2))
    def run(pairs, tags, ids):
        pairs = pairs + [("tag", t) for t in tags] + [("traceID", i) for i in ids]
        check(server, "traces", _url("/api/traces", pairs))
    run()


def fuzz_others(server):
    @_settings("trace")
    @given(trace_id=_trace_ids)
    def trace(trace_id):
        check(server, "trace", "/api/traces/" + _encode(trace_id))

    @_settings("services")
    @given(pairs=_query(prettyPrint=_any_text))
    def services(pairs):
        check(server, "services", _url("/api/services", pairs))

    @_settings("operations")
    @given(pairs=_query(service=st.one_of(st.just("frontend"), _any_text), spanKind=_kinds))
    def operations(pairs):
        check(server, "operations", _url("/api/operations", pairs))

    @_settings("service_operations")
    @given(service=_any_text)
    def service_operations(service):
        check(server, "service_operations", f"/api/services/{_encode(service)}/operations")

    @_settings("dependencies")
    @given(pairs=_query(endTs=_numbers, lookback=_numbers))
    def dependencies(pairs):
        check(server, "dependencies", _url("/api/dependencies", pairs))

    for run in (trace, services, operations, service_operations, dependencies):
        run()


_times = st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), _any_text, _numbers,
                   st.sampled_from(["2024-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999+23:59",
                                    "0000-00-00T00:00:00Z", "2024-02-30T25:61:61Z"]))
_V3_QUERY = _query(**{"query.service_name": st.one_of(st.just("frontend"), _any_text),
                      "query.operation_name": _any_text, "query.start_time_min": _times,
                      "query.start_time_max": _times, "query.duration_min": _durations,
                      "query.duration_max": _durations, "query.attributes": _tags,
                      "query.search_depth": _numbers, "spanKind": _kinds,
                      "startTime": _times, "endTime": _times})
_ZIPKIN_QUERY = _query(serviceName=st.one_of(st.just("frontend"), _any_text),
                       remoteServiceName=_any_text, spanName=_any_text,
                       annotationQuery=st.one_of(_any_text, _logfmt.map(lambda t: t.replace(" ", " and "))),
                       minDuration=_numbers, maxDuration=_numbers, endTs=_numbers,
                       lookback=_numbers, limit=_numbers, traceIds=_any_text, key=_any_text)


def fuzz_other_apis(server):
    """The routes other API versions added next to Jaeger's v1: the same promise holds."""
    @_settings("v3")
    @given(path=st.sampled_from(["/api/v3/services", "/api/v3/operations", "/api/v3/traces",
                                 "/api/v3/trace-summaries"]),
           trace_id=_trace_ids, pairs=_V3_QUERY, by_id=st.booleans())
    def v3(path, trace_id, pairs, by_id):
        if by_id:
            path = "/api/v3/traces/" + _encode(trace_id)
        check(server, "v3", _url(path, pairs))

    @_settings("analysis")
    @given(view=st.sampled_from(["critical-path", "error-origins", "statistics", "typical"]),
           trace_id=_trace_ids, pairs=_query(lookback=_durations, limit=_numbers, a=_trace_ids,
                                             b=_trace_ids), compare=st.booleans())
    def analysis(view, trace_id, pairs, compare):
        path = "/api/compare" if compare else f"/api/traces/{_encode(trace_id)}/{view}"
        check(server, "analysis", _url(path, pairs))

    @_settings("zipkin")
    @given(path=st.sampled_from(["/services", "/spans", "/remoteServices", "/traces",
                                 "/traceMany", "/dependencies", "/autocompleteKeys",
                                 "/autocompleteValues", "/trace/"]),
           trace_id=_trace_ids, pairs=_ZIPKIN_QUERY)
    def zipkin(path, trace_id, pairs):
        path = "/api/v2" + path + (_encode(trace_id) if path.endswith("/") else "")
        check(server, "zipkin", _url(path, pairs), f"http://127.0.0.1:{server.zipkin_port}")

    for run in (v3, analysis, zipkin):
        run()


def test_fuzz_search_parameters(server):
    fuzz_traces(server)


def test_fuzz_other_endpoints(server):
    fuzz_others(server)


def test_fuzz_v3_analysis_and_zipkin_read_apis(server):
    fuzz_other_apis(server)


@pytest.mark.slow
def test_fuzz_every_endpoint_long(server, monkeypatch):
    monkeypatch.setenv("TRACEWAY_FUZZ_SLOW", "1")
    started = time.monotonic()
    fuzz_traces(server)
    fuzz_others(server)
    fuzz_other_apis(server)
    print(f"long query fuzz took {time.monotonic() - started:.0f} s")
