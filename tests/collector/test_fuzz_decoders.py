"""Fuzzing every ingest decoder (issue 8): any body either decodes to spans the
store can hold, or is refused with InvalidPayloadError / BodyError (a 400 or
413), never anything else. Decoded spans are written to a real DuckDB store
and read back as Jaeger JSON.

The normal run is bounded (a few hundred inputs per decoder); ``-m slow``
runs the long campaign (``FUZZ_EXAMPLES``, default 20,000 per decoder).
Crashes found are kept as explicit cases in test_bad_bodies.py.
"""

from __future__ import annotations

import os

import pytest
from fuzz_inputs import (
    COMPRESSED,
    JUNK,
    OTLP_JSON,
    OTLP_PROTO,
    ZIPKIN_JSON,
    ZIPKIN_PROTO,
    json_bytes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceway.collector.body import BodyError, gunzip
from traceway.convert.jaeger_json import trace_to_jaeger_json
from traceway.convert.otlp import (
    DecodedSpans,
    InvalidPayloadError,
    spans_from_otlp_json,
    spans_from_otlp_proto,
)
from traceway.convert.zipkin import spans_from_zipkin_json, spans_from_zipkin_proto
from traceway.storage.duckdb import DuckDBStore

QUICK = settings(max_examples=300, deadline=None, derandomize=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(QUICK, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")))
MAX_INT64 = 2**63 - 1


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = DuckDBStore(tmp_path_factory.mktemp("fuzz") / "db", memory_limit="256MB")
    yield store
    store.close()


def check(decode, body: bytes, store: DuckDBStore) -> None:
    try:
        decoded = decode(body)
    except InvalidPayloadError as exc:
        assert str(exc)
        return
    assert isinstance(decoded, DecodedSpans)
    batch = decoded.batch
    assert decoded.rejected >= 0 and bool(decoded.rejected) == bool(decoded.error_message)
    for record in batch.rows():
        assert len(record.trace_id) == 16 and any(record.trace_id)
        assert len(record.span_id) == 8 and any(record.span_id)
        assert len(record.parent_span_id) in (0, 8)
        assert 0 <= record.kind <= 5 and 0 <= record.status_code <= 2
        assert 0 <= record.start_ns <= MAX_INT64 and record.duration_ns >= 0
        assert record.start_ns + record.duration_ns <= MAX_INT64
        for text in (record.service, record.name, record.status_message):
            text.encode()  # no lone surrogates reach the store
    store.write(batch)
    for trace_id in dict.fromkeys(batch.trace_id):
        trace_to_jaeger_json(store.get_trace(trace_id))


def _fuzz(strategy, decode, config):
    @config
    @given(body=strategy)
    def run(store, body):
        check(decode, body, store)
    return run


test_otlp_proto = _fuzz(OTLP_PROTO, spans_from_otlp_proto, QUICK)
test_otlp_json = _fuzz(st.one_of(OTLP_JSON.map(json_bytes), JUNK.map(json_bytes)),
                       spans_from_otlp_json, QUICK)
test_zipkin_json = _fuzz(ZIPKIN_JSON.map(json_bytes), spans_from_zipkin_json, QUICK)
test_zipkin_proto = _fuzz(ZIPKIN_PROTO, spans_from_zipkin_proto, QUICK)


@QUICK
@given(body=COMPRESSED)
def test_gzip_bodies(body):
    try:
        inflated = gunzip(body, limit=1 << 20)
    except BodyError as exc:
        assert exc.status in (400, 413) and str(exc)
        return
    assert isinstance(inflated, bytes)


@QUICK
@given(parts=st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_every_gzip_member_is_decoded(parts):
    import gzip
    assert gunzip(b"".join(gzip.compress(part) for part in parts)) == b"".join(parts)


def slow(test):  # the long campaigns outlast the suite's 300 s per-test timeout
    return pytest.mark.slow(pytest.mark.timeout(3600)(test))


test_otlp_proto_long = slow(_fuzz(OTLP_PROTO, spans_from_otlp_proto, LONG))
test_otlp_json_long = slow(_fuzz(st.one_of(OTLP_JSON.map(json_bytes), JUNK.map(json_bytes)),
                                 spans_from_otlp_json, LONG))
test_zipkin_json_long = slow(_fuzz(ZIPKIN_JSON.map(json_bytes), spans_from_zipkin_json, LONG))
test_zipkin_proto_long = slow(_fuzz(ZIPKIN_PROTO, spans_from_zipkin_proto, LONG))
