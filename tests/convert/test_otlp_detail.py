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


# --- the fast path is exact for every varint length (issue 8, bug 2) ----------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from traceway.convert.otlp import _detail  # noqa: E402

_U64 = st.integers(0, 2**64 - 1)
_spans = st.builds(
    Span,
    trace_id=st.binary(min_size=16, max_size=16),
    span_id=st.binary(min_size=8, max_size=8),
    parent_span_id=st.sampled_from([b"", bytes(8), b"\x07" * 8]),
    name=st.one_of(st.text(max_size=40), st.text(min_size=120, max_size=300),
                   st.just("x" * 20_000)),
    kind=st.integers(-(2**31), 2**31 - 1),
    start_time_unix_nano=_U64,
    end_time_unix_nano=st.one_of(_U64, st.integers(0x4A << 56, (0x4B << 56) - 1)),
    trace_state=st.sampled_from(["", "k=v"]),
    dropped_attributes_count=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 2**32 - 1),
    events=st.lists(st.builds(Span.Event, name=st.text(max_size=5), time_unix_nano=_U64),
                    max_size=2),
    status=st.builds(lambda code, message: {"code": code, "message": message},
                     st.integers(-(2**31), 2**31 - 1), st.text(max_size=5)),
)


@settings(max_examples=400, deadline=None)
@given(_spans)
def test_detail_slicing_is_exact_for_any_span(span):
    expected = Span()
    expected.CopyFrom(span)
    for field in COLUMNS[:-1]:  # status stays in the detail
        expected.ClearField(field)
    detail = _detail(span, span.parent_span_id, span.name, span.kind,
                     span.start_time_unix_nano, span.end_time_unix_nano)
    assert detail == expected.SerializeToString()
    assert Span.FromString(detail) == expected


def test_detail_of_a_two_byte_kind_before_a_0x4a_end_time():
    """The reported case: kind 200 and an end time whose top byte is 0x4A."""
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="op", kind=200,
                start_time_unix_nano=1, end_time_unix_nano=0x4A00_0000_0000_0001)
    span.attributes.add(key="k").value.int_value = 1
    detail = _detail(span, b"", "op", 200, 1, span.end_time_unix_nano)
    assert Span.FromString(detail).attributes[0].key == "k"
