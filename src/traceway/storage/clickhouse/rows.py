"""Spans <-> rows of ``otel_traces``, in the exporter's value forms. Pure.

Writing fills the exporter's columns (hex ids, string-valued attribute maps,
events and links as Nested arrays, ``SpanKind`` ``Server``) and Traceway's
own byte columns, so a span round-trips exactly through a table Traceway made.
Reading uses the own columns when a row has them and otherwise rebuilds the
OTLP span from the exporter's columns: attribute values become strings, which
is all that schema keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import string_form
from traceway.model import SpanBatch, SpanKind, StatusCode
from traceway.storage.clickhouse.protoscan import (
    Fields,
    MalformedError,
    buffer_of,
    fixed64,
    hex_strings,
    pair_ranges,
    scan,
    strings,
)
from traceway.storage.clickhouse.schema import KIND_BY_NAME, KIND_NAMES, STATUS_BY_NAME, STATUS_NAMES

_SCOPE_KEYS = ("otel.scope.name", "otel.scope.version")
# Indexed by the OTLP number; out-of-range numbers are written as 0's form.
_KIND_FORMS = pa.array([KIND_NAMES[SpanKind(k)] for k in range(len(KIND_NAMES))], pa.string())
_STATUS_FORMS = pa.array([STATUS_NAMES[StatusCode(c)] for c in range(3)], pa.string())

# Exporter columns, then Traceway's: the order of the insert.
READ_COLUMNS = ("TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, "
                "toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, "
                "StatusMessage, TraceState, ResourceAttributes, ScopeName, ScopeVersion, "
                "SpanAttributes, arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`) "
                "AS EventTimes, `Events.Name`, `Events.Attributes`, `Links.TraceId`, "
                "`Links.SpanId`, `Links.TraceState`, `Links.Attributes`")
OWN_READ_COLUMNS = ", TracewaySpan, TracewayResource, TracewayScope"
# Enough for rows Traceway wrote: the exporter's maps and arrays are not read.
NARROW_READ_COLUMNS = READ_COLUMNS[:READ_COLUMNS.index(", TraceState")] + OWN_READ_COLUMNS


def _any_values(buf: np.ndarray, start: np.ndarray, end: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(field number of the value, its start, end, varint) for each AnyValue;
    a short string alone (the common form) in one pass, the rest through ``scan``."""
    at = np.minimum(start + 1, len(buf) - 1)
    short_text = (buf[np.minimum(start, len(buf) - 1)] == 0x0A) & (buf[at] < 0x80) & (
        start + 2 + buf[at].astype(np.int64) == end)
    which = np.where(short_text, 1, 0)
    text_start, text_end, ints = start + 2, end.copy(), np.zeros(len(start), np.uint64)
    rest = np.flatnonzero(~short_text)
    if rest.size:
        fields = scan(buf, start[rest], end[rest])
        # The last field of each AnyValue is its value (a oneof); index len(): none.
        last = np.full(len(rest), len(fields.owner), np.int64)
        last[fields.owner] = np.arange(len(fields.owner))
        which[rest] = np.append(fields.number, 0)[last]
        ints[rest] = np.append(fields.value, np.uint64(0))[last]
        text_start[rest] = np.append(fields.start, 0)[last]
        text_end[rest] = np.append(fields.end, 0)[last]
    return which, text_start, text_end, ints.view(np.int64)


def _string_forms(buf: np.ndarray, value_start: np.ndarray, value_end: np.ndarray) -> pa.Array:
    """``string_form`` of each AnyValue: strings, ints and bools in numpy, the
    rare others (doubles, bytes, arrays, maps, unset) in Python."""
    count = len(value_start)
    which, text_start, text_end, ints = _any_values(buf, value_start, value_end)
    text, flag, number = (np.flatnonzero(which == n) for n in (1, 2, 3))
    other = np.flatnonzero((which < 1) | (which > 3))
    pieces = [strings(buf, text_start[text], text_end[text]),
              pa.array(np.where(ints[flag] != 0, "true", "false"), pa.string()),
              pa.array(ints[number]).cast(pa.string()),
              pa.array([string_form(AnyValue.FromString(buf[value_start[i]:value_end[i]].tobytes()))
                        for i in other.tolist()], pa.string())]
    order = np.concatenate([text, flag, number, other])
    position = np.empty(count, np.int64)
    position[order] = np.arange(count)
    return pa.concat_arrays([p.cast(pa.string()) for p in pieces]).take(position)


def _attribute_maps(buf: np.ndarray, holders: Fields, number: int, count: int) -> pa.Array:
    """Map(String, String) of the KeyValues in field ``number`` of ``count`` messages."""
    kvs = holders.select(number)
    key_start, key_end, value_start, value_end = pair_ranges(buf, kvs.start, kvs.end)
    offsets = np.zeros(count + 1, np.int32)
    np.cumsum(kvs.counts(count), out=offsets[1:])
    return pa.MapArray.from_arrays(pa.array(offsets), strings(buf, key_start, key_end),
                                   _string_forms(buf, value_start, value_end))


def _nested(prefix: str, held: Fields, count: int, columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Array columns of a Nested field: one list per span of ``held`` messages."""
    offsets = np.zeros(count + 1, np.int32)
    np.cumsum(held.counts(count), out=offsets[1:])
    return {f"{prefix}.{name}": pa.ListArray.from_arrays(pa.array(offsets), values)
            for name, values in columns.items()}


def _events(buf: np.ndarray, spans: Fields, count: int) -> dict[str, pa.Array]:
    events = spans.select(11)
    n = len(events.owner)
    fields = scan(buf, events.start, events.end)
    time_at, time_end = fields.last_ranges(1, n)
    times = np.where(time_end > time_at, fixed64(buf, time_at), 0).astype(np.int64)
    return _nested("Events", events, count, {
        "Timestamp": pa.array(times, pa.timestamp("ns")),
        "Name": strings(buf, *fields.last_ranges(2, n)).cast(pa.string()),
        "Attributes": _attribute_maps(buf, fields, 3, n)})


def _links(buf: np.ndarray, spans: Fields, count: int) -> dict[str, pa.Array]:
    links = spans.select(13)
    n = len(links.owner)
    fields = scan(buf, links.start, links.end)
    return _nested("Links", links, count, {
        "TraceId": hex_strings(buf, *fields.last_ranges(1, n)).cast(pa.string()),
        "SpanId": hex_strings(buf, *fields.last_ranges(2, n)).cast(pa.string()),
        "TraceState": strings(buf, *fields.last_ranges(3, n)).cast(pa.string()),
        "Attributes": _attribute_maps(buf, fields, 4, n)})


def _hex_ids(ids: list[bytes]) -> pa.Array:
    buf, starts, ends = buffer_of(ids)
    return hex_strings(buf, starts, ends).cast(pa.string())


def _unique_indices(values: list[bytes]) -> tuple[list[bytes], pa.Array]:
    """The distinct values in first-seen order, and each value's index among them."""
    index: dict[bytes, int] = {}
    positions = [index.setdefault(v, len(index)) for v in values]
    return list(index), pa.array(positions, pa.int32())


def _parsed_columns(details: list[bytes], resources: list[bytes]) -> dict[str, pa.Array]:
    """The columns read out of the spans' and (distinct) resources' protobuf."""
    count = len(details)
    buf, starts, ends = buffer_of(details)
    spans = scan(buf, starts, ends)
    resource_buf, resource_starts, resource_ends = buffer_of(resources)
    return {"TraceState": strings(buf, *spans.last_ranges(3, count)).cast(pa.string()),
            "SpanAttributes": _attribute_maps(buf, spans, 9, count),
            **_events(buf, spans, count), **_links(buf, spans, count),
            "ResourceAttributes": _attribute_maps(
                resource_buf, scan(resource_buf, resource_starts, resource_ends), 1, len(resources))}


def _known_fields(body: bytes, message: Any) -> bytes:
    parsed = message.FromString(body)
    parsed.DiscardUnknownFields()
    return bytes(parsed.SerializeToString())


def insert_table(batch: SpanBatch, own_columns: bool = True) -> pa.Table:
    """``batch`` as an Arrow table of ``otel_traces`` columns, built column-wise."""
    resources, resource_of = _unique_indices(batch.resource)
    try:
        parsed = _parsed_columns(batch.detail, resources)
    except MalformedError:  # unknown fields protobuf kept, in a form not walked here
        parsed = _parsed_columns([_known_fields(d, Span) for d in batch.detail],
                                 [_known_fields(r, Resource) for r in resources])
    scopes, scope_of = _unique_indices(batch.scope)
    scope_messages = [InstrumentationScope.FromString(body) for body in scopes]
    kinds = np.array(batch.kind, np.int64)
    statuses = np.array(batch.status_code, np.int64)
    columns: dict[str, Any] = {
        "Timestamp": pa.array(np.array(batch.start_ns, dtype=np.int64), pa.timestamp("ns")),
        "TraceId": _hex_ids(batch.trace_id),
        "SpanId": _hex_ids(batch.span_id),
        "ParentSpanId": _hex_ids(batch.parent_span_id),
        "TraceState": parsed["TraceState"],
        "SpanName": pa.array(batch.name, pa.string()),
        "SpanKind": _KIND_FORMS.take(np.where((kinds >= 0) & (kinds < len(_KIND_FORMS)), kinds, 0)),
        "ServiceName": pa.array(batch.service, pa.string()),
        "ResourceAttributes": parsed["ResourceAttributes"].take(resource_of),
        "ScopeName": pa.array([s.name for s in scope_messages], pa.string()).take(scope_of),
        "ScopeVersion": pa.array([s.version for s in scope_messages], pa.string()).take(scope_of),
        "SpanAttributes": parsed["SpanAttributes"],
        "Duration": pa.array(np.array(batch.duration_ns, dtype=np.uint64)),
        "StatusCode": _STATUS_FORMS.take(np.where((statuses >= 0) & (statuses < 3), statuses, 0)),
        "StatusMessage": pa.array(batch.status_message, pa.string()),
        **{name: column for name, column in parsed.items() if name.startswith(("Events.", "Links."))},
    }
    if own_columns:
        columns["TracewaySpan"] = pa.array(batch.detail, pa.binary())
        columns["TracewayResource"] = pa.array(resources, pa.binary()).take(resource_of)
        columns["TracewayScope"] = pa.array(scopes, pa.binary()).take(scope_of)
    return pa.table(columns)


def deduplication_token(batch: SpanBatch) -> str:
    """Names the insert of exactly these spans: ClickHouse drops a repeat of
    an insert with the same token (a retry whose first answer was lost)."""
    digest = hashlib.blake2b(digest_size=16)
    for column in (batch.trace_id, batch.span_id, batch.detail):
        digest.update(np.fromiter(map(len, column), np.uint32, len(column)).tobytes())
        digest.update(b"".join(column))
    digest.update(np.array(batch.start_ns, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _text(column: pa.ChunkedArray) -> list[Any]:
    if pa.types.is_binary(column.type):
        column = column.cast(pa.string())
    values: list[Any] = column.to_pylist()
    return values


def _key_values(pairs: Iterable[tuple[Any, Any]] | None) -> list[KeyValue]:
    return [KeyValue(key=_str(k), value=AnyValue(string_value=_str(v))) for k, v in pairs or ()]


def batch_from_table(table: pa.Table) -> SpanBatch:
    """Rows selected with READ_COLUMNS (+ OWN_READ_COLUMNS) back into spans."""
    if not table.num_rows:
        return SpanBatch()
    col = {name: _text(table.column(name)) for name in (
        "TraceId", "SpanId", "ParentSpanId", "ServiceName", "SpanName", "SpanKind",
        "StatusCode", "StatusMessage")}
    own = "TracewaySpan" in table.column_names
    details = table.column("TracewaySpan").to_pylist() if own else [b""] * table.num_rows
    resources_own = table.column("TracewayResource").to_pylist() if own else details
    scopes_own = table.column("TracewayScope").to_pylist() if own else details
    rebuilt = _Rebuilder(table) if not all(details) else None
    batch = SpanBatch(
        trace_id=[bytes.fromhex(t) for t in col["TraceId"]],
        span_id=[bytes.fromhex(s) for s in col["SpanId"]],
        parent_span_id=[bytes.fromhex(p) for p in col["ParentSpanId"]],
        service=col["ServiceName"], name=col["SpanName"],
        kind=[KIND_BY_NAME.get(k, 0) for k in col["SpanKind"]],
        start_ns=table.column("StartNs").to_pylist(),
        duration_ns=table.column("Duration").to_pylist(),
        status_code=[STATUS_BY_NAME.get(c, 0) for c in col["StatusCode"]],
        status_message=col["StatusMessage"])
    for i, detail in enumerate(details):
        if detail:
            batch.detail.append(detail)
            batch.resource.append(resources_own[i])
            batch.scope.append(scopes_own[i])
        else:
            assert rebuilt is not None
            batch.detail.append(rebuilt.detail(i))
            batch.resource.append(rebuilt.resource(i))
            batch.scope.append(rebuilt.scope(i))
    return batch


class _Rebuilder:
    """OTLP bytes from the exporter's columns, for rows Traceway did not write."""

    def __init__(self, table: pa.Table) -> None:
        self._rows = {name: _text(table.column(name)) if name in (
            "TraceState", "ScopeName", "ScopeVersion") else table.column(name).to_pylist()
            for name in ("TraceState", "ResourceAttributes", "ScopeName", "ScopeVersion",
                         "SpanAttributes", "EventTimes", "Events.Name", "Events.Attributes",
                         "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes")}
        self._resources: dict[tuple[Any, ...], bytes] = {}

    def _get(self, name: str, i: int) -> Any:
        return self._rows[name][i]

    def detail(self, i: int) -> bytes:
        events = [Span.Event(time_unix_nano=t, name=_str(n), attributes=_key_values(a))
                  for t, n, a in zip(self._get("EventTimes", i) or (), self._get("Events.Name", i) or (),
                                     self._get("Events.Attributes", i) or ())]
        links = [Span.Link(trace_id=bytes.fromhex(_str(t)), span_id=bytes.fromhex(_str(s)),
                           trace_state=_str(ts), attributes=_key_values(a))
                 for t, s, ts, a in zip(self._get("Links.TraceId", i) or (), self._get("Links.SpanId", i) or (),
                                        self._get("Links.TraceState", i) or (),
                                        self._get("Links.Attributes", i) or ())]
        attributes = [(k, v) for k, v in self._get("SpanAttributes", i) or ()
                      if not (_str(k) in _SCOPE_KEYS and not self._get("ScopeName", i))]
        return Span(trace_state=self._get("TraceState", i), attributes=_key_values(attributes),
                    events=events, links=links).SerializeToString()

    def resource(self, i: int) -> bytes:
        pairs = tuple(self._get("ResourceAttributes", i) or ())
        body = self._resources.get(pairs)
        if body is None:
            body = self._resources[pairs] = Resource(attributes=_key_values(pairs)).SerializeToString()
        return body

    def scope(self, i: int) -> bytes:
        name, version = self._get("ScopeName", i), self._get("ScopeVersion", i)
        if not name:  # older exporters put the scope among the span attributes
            attributes = {_str(k): _str(v) for k, v in self._get("SpanAttributes", i) or ()}
            name = attributes.get("otel.scope.name", "")
            version = version or attributes.get("otel.scope.version", "")
        return InstrumentationScope(name=name, version=version).SerializeToString()


def _str(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
