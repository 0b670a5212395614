import pytest
from starlette.datastructures import QueryParams

from traceway.query.params import (
    BadParameterError,
    parse_duration_ns,
    parse_trace_id,
    parse_trace_query,
)


@pytest.mark.parametrize("text,ns", [
    ("1.5s", 1_500_000_000), ("100ms", 100_000_000), ("250us", 250_000), ("250µs", 250_000),
    ("4500ns", 4500), ("1h30m", 5_400_000_000_000), ("2d", 172_800_000_000_000), (".5s", 500_000_000),
])
def test_go_durations(text, ns):
    assert parse_duration_ns(text, "d") == ns


@pytest.mark.parametrize("text", ["", "fast", "10", "1.5 s", "-1s", "1y"])
def test_bad_durations(text):
    with pytest.raises(BadParameterError):
        parse_duration_ns(text, "minDuration")


def test_query_from_jaeger_parameters():
    params = QueryParams("service=cart&operation=GET%20/x&tags=%7B%22a%22%3A1%2C%22b%22%3Atrue%7D"
                         "&tag=c:d:e&minDuration=1ms&maxDuration=2s&start=1000&end=5000&limit=7")
    query = parse_trace_query(params)
    assert (query.service, query.operation, query.limit) == ("cart", "GET /x", 7)
    assert query.tags == {"a": "1", "b": "true", "c": "d:e"}
    assert (query.duration_min_ns, query.duration_max_ns) == (1_000_000, 2_000_000_000)
    assert (query.start_min_ns, query.start_max_ns) == (1_000_000, 5_000_000)


def test_lookback_and_default_limit():
    query = parse_trace_query(QueryParams("service=a&lookback=2h"), now_ns=10**13)
    assert query.start_max_ns - query.start_min_ns == 7_200 * 10**9
    assert query.limit == 20


def test_trace_ids_any_case_and_short():
    assert parse_trace_id("ABCDEF0123456789" * 2) == bytes.fromhex("abcdef0123456789" * 2)
    assert parse_trace_id("00000000000000ff") == bytes(15) + b"\xff"
    for bad in ("xyz", "0" * 32, "1" * 33):
        with pytest.raises(BadParameterError):
            parse_trace_id(bad)


@pytest.mark.parametrize("text,ns", [
    ("0", 0), ("1.000000001s", 1_000_000_001), ("2562047h47m16.854775807s", 2**63 - 1),
    ("0.1ns", 0), ("1μs", 1000),
])
def test_duration_edges(text, ns):
    assert parse_duration_ns(text, "d") == ns


@pytest.mark.parametrize("text", ["2562047h47m16.854775808s", "9" * 400, "9" * 30 + "h",
                                  "²s", "١s", "s", ".s"])
def test_durations_out_of_range_or_malformed(text):
    with pytest.raises(BadParameterError, match="^lookback: "):
        parse_duration_ns(text, "lookback")
