"""Parameters of Jaeger's /api/v3 and Zipkin's /api/v2 read API."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from traceway.query.jaeger_v3_params import parse_rfc3339_ns, parse_v3_trace_query
from traceway.query.params import BadParameterError
from traceway.query.zipkin_params import parse_annotation_query, parse_zipkin_trace_query

NOW = 1_700_000_000_000_000_000


@pytest.mark.parametrize("text,ns", [
    ("2023-11-14T22:13:20Z", NOW), ("2023-11-14T22:13:20.000Z", NOW),
    ("2023-11-14T22:13:20.123456789Z", NOW + 123_456_789),
    ("2023-11-14T23:13:20.5+01:00", NOW + 500_000_000), ("2023-11-14t22:13:20z", NOW),
])
def test_rfc3339_times_to_nanoseconds(text, ns):
    assert parse_rfc3339_ns(text, "t") == ns


@pytest.mark.parametrize("text", ["1700000000", "2023-11-14", "2023-02-30T00:00:00Z", ""])
def test_malformed_times_are_refused_by_name(text):
    with pytest.raises(BadParameterError, match="malformed parameter query.start_time_min"):
        parse_rfc3339_ns(text, "query.start_time_min")


@pytest.mark.parametrize("names", [
    ("query.service_name", "query.operation_name", "query.duration_min", "query.search_depth"),
    ("query.serviceName", "query.operationName", "query.durationMin", "query.searchDepth"),
    ("query.service_name", "query.span_name", "query.duration_min", "query.num_traces"),
])
def test_v3_accepts_snake_and_camel_case_names(names):
    service, operation, duration, depth = names
    query = parse_v3_trace_query(QueryParams({service: "api", operation: "GET", duration: "0.001s",
                                              depth: "7"}), now_ns=NOW)
    assert (query.service, query.operation, query.duration_min_ns, query.limit) == \
        ("api", "GET", 1_000_000, 7)
    assert (query.start_min_ns, query.start_max_ns) == (NOW - 3_600 * 10**9, NOW)


def test_v3_attributes_match_like_v1_tags():
    query = parse_v3_trace_query(QueryParams(
        {"query.attributes": '{"error": true, "http.status_code": 500, "k": "v"}'}), now_ns=NOW)
    assert query.tags == {"error": "true", "http.status_code": "500", "k": "v"}
    logfmt = parse_v3_trace_query(QueryParams(
        {"query.attributes": 'error=true exception.type=~Time.*out'}), now_ns=NOW)
    assert logfmt.tags == {"error": "true"}
    assert [(p.key, p.mode, p.text) for p in logfmt.tag_patterns] == [
        ("exception.type", "regex", "Time.*out")]


def test_annotation_query_splits_tags_from_words():
    assert parse_annotation_query("http.uri=/foo and retried and error= and a=b=c") == (
        {"http.uri": "/foo", "a": "b=c"}, ("retried", "error"))


def test_zipkin_query_defaults_and_units():
    query, span_filter = parse_zipkin_trace_query(QueryParams(
        {"serviceName": "api", "spanName": "all", "minDuration": "100", "maxDuration": "2000",
         "endTs": "1700000000000", "annotationQuery": "error"}))
    assert (query.service, query.operation, query.limit) == ("api", None, 10)
    assert (query.duration_min_ns, query.duration_max_ns) == (100_000, 2_000_000)
    assert (query.start_min_ns, query.start_max_ns) == (NOW - 86_400 * 10**9, NOW)
    assert span_filter.words == ("error",) and span_filter
