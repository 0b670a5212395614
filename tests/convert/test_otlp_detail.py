"""The fast detail encoding equals the span with its column fields cleared."""

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.otlp import span_to_otlp, spans_from_otlp

COLUMNS = ("trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
           "end_time_unix_nano", "status")


def _span(**fields) -> Span:
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, **fields)
    return span


CASES = {
    "minimal": _span(),
    "full": _span(parent_span_id=b"\x03" * 8, name="GET /x", kind=2, start_time_unix_nano=5,
                  end_time_unix_nano=9, dropped_attributes_count=3, flags=257),
    "unicode name": _span(name="größe ✓" * 3, kind=3, start_time_unix_nano=1, end_time_unix_nano=4),
    "long name": _span(name="n" * 20_000, start_time_unix_nano=2, end_time_unix_nano=7),
    "trace state": _span(trace_state="vendor=x", name="a", parent_span_id=b"\x04" * 8),
    "zero parent": _span(parent_span_id=bytes(8), name="b"),
    "events and links": _span(events=[Span.Event(name="e", time_unix_nano=3)],
                              links=[Span.Link(trace_id=b"\x05" * 16, span_id=b"\x06" * 8)],
                              status={"code": 2, "message": "bad"}),
}


@pytest.mark.parametrize("name", CASES)
def test_detail_holds_everything_but_the_columns(name):
    original = CASES[name]
    span_attrs = original.attributes.add(key="k")
    span_attrs.value.int_value = 7
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(original)
    record = next(spans_from_otlp(request).batch.rows())
    detail = Span.FromString(record.detail)
    expected = Span()
    expected.CopyFrom(original)
    for field in COLUMNS:
        expected.ClearField(field)
    detail.ClearField("status")  # may ride along; readers use the status columns
    assert detail == expected
    rebuilt = span_to_otlp(record)
    if original.parent_span_id == bytes(8):
        original.parent_span_id = b""
    assert rebuilt == original
