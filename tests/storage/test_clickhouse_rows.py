"""The column-wise (numpy) conversion of spans into ``otel_traces`` rows gives
exactly what parsing each span with protobuf and ``string_form`` gives."""

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import string_pairs
from traceway.model import SpanBatch
from traceway.storage.clickhouse.rows import deduplication_token, insert_table
from traceway.storage.testspans import batch_of, make_span

T0 = 1_700_000_000 * 10**9
EVERY_VALUE = {"text": "ünïcode ✓", "empty": "", "long": "x" * 300, "zero": 0, "negative": -42,
               "huge": 2**63 - 1, "most negative": -(2**63), "yes": True, "no": False,
               "ratio": 72.5, "whole double": 3.0, "blob": b"\x00\xff"}


def _rich_batch() -> SpanBatch:
    many = {f"key.{i}": i * 1_000_003 for i in range(200)}
    return batch_of(
        make_span(1, 1, start_ns=T0, attributes=EVERY_VALUE, trace_state="a=1",
                  resource={"host.name": "h1"}, scope_name="lib", scope_version="2.0"),
        make_span(1, 2, parent=1, start_ns=T0 + 5, attributes={}, kind=2, status_code=2,
                  events=[("exception", {"exception.type": "ValueError", "n": 7}), ("retry", {})],
                  links=[{"link.kind": "follows"}, {}]),
        make_span(2, 3, start_ns=T0 + 9, attributes=many, kind=99, status_code=7,
                  service="other", resource={"host.name": "h2"}),
        make_span(3, 4, start_ns=T0 + 11, attributes={"only": "one"}))


def _with_odd_values(batch: SpanBatch) -> SpanBatch:
    """Arrays, maps and a KeyValue without a value, which ``make_span`` cannot make."""
    span = Span.FromString(batch.detail[3])
    span.attributes.append(KeyValue(key="list", value=AnyValue(array_value=ArrayValue(
        values=[AnyValue(int_value=1), AnyValue(string_value="b")]))))
    span.attributes.append(KeyValue(key="unset"))
    span.attributes.append(KeyValue(value=AnyValue(string_value="no key")))
    batch.detail[3] = span.SerializeToString()
    return batch


def test_every_column_matches_a_span_by_span_parse():
    batch = _with_odd_values(_rich_batch())
    rows = insert_table(batch).to_pylist()
    for row, record in zip(rows, batch.rows()):
        span, resource = Span.FromString(record.detail), Resource.FromString(record.resource)
        assert row["SpanAttributes"] == list(string_pairs(span.attributes))
        assert row["ResourceAttributes"] == list(string_pairs(resource.attributes))
        assert row["TraceId"] == record.trace_id.hex()
        assert row["SpanId"] == record.span_id.hex()
        assert row["ParentSpanId"] == record.parent_span_id.hex()
        assert row["TraceState"] == span.trace_state
        assert row["Events.Name"] == [e.name for e in span.events]
        assert [t.value for t in row["Events.Timestamp"]] == [e.time_unix_nano for e in span.events]
        assert row["Events.Attributes"] == [list(string_pairs(e.attributes)) for e in span.events]
        assert row["Links.TraceId"] == [link.trace_id.hex() for link in span.links]
        assert row["Links.SpanId"] == [link.span_id.hex() for link in span.links]
        assert row["Links.Attributes"] == [list(string_pairs(link.attributes)) for link in span.links]
        assert row["TracewaySpan"] == record.detail
        assert row["TracewayResource"] == record.resource
    assert dict(rows[0]["SpanAttributes"])["huge"] == "9223372036854775807"
    assert dict(rows[0]["SpanAttributes"])["most negative"] == "-9223372036854775808"
    assert dict(rows[0]["SpanAttributes"])["yes"] == "true"
    assert dict(rows[3]["SpanAttributes"])["list"] == '[1,"b"]'
    assert (rows[0]["ScopeName"], rows[0]["ScopeVersion"], rows[1]["ScopeName"]) == ("lib", "2.0", "")
    assert [r["SpanKind"] for r in rows] == ["Internal", "Server", "Unspecified", "Internal"]
    assert [r["StatusCode"] for r in rows] == ["Unset", "Error", "Unset", "Unset"]


def test_the_deduplication_token_names_exactly_these_spans():
    batch = _rich_batch()
    assert deduplication_token(batch) == deduplication_token(_rich_batch())
    assert deduplication_token(batch) != deduplication_token(batch.take([0, 1, 2]))
    moved = _rich_batch()
    moved.start_ns[0] += 1
    assert deduplication_token(batch) != deduplication_token(moved)


def test_unknown_group_fields_that_protobuf_kept_do_not_stop_the_insert():
    """A sender's unknown fields survive in the span bytes; the deprecated group
    form is not walked column-wise, so those spans are re-encoded without it."""
    batch = batch_of(make_span(1, 1, start_ns=T0, attributes={"a": "b", "n": 1}))
    group = bytes([0xA3, 0x06, 0x08, 0x05, 0xA4, 0x06])  # field 100, start group .. end group
    batch.detail[0] += group
    row = insert_table(batch).to_pylist()[0]
    assert row["SpanAttributes"] == [("a", "b"), ("n", "1")]
    assert row["TracewaySpan"] == batch.detail[0]
