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
from traceway.convert.otlp import service_name
from traceway.model import SpanBatch
from traceway.storage.clickhouse.schema import KIND_BY_NAME, KIND_NAMES, STATUS_BY_NAME, STATUS_NAMES

_SCOPE_KEYS = ("otel.scope.name", "otel.scope.version")

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


def _pairs(attributes: Iterable[KeyValue]) -> list[tuple[str, str]]:
    return [(kv.key, string_form(kv.value)) for kv in attributes]


class _Maps:
    """A Map(String, String) column built flat: Arrow from Python lists of
    pairs costs ~50x more than from flat keys, values and offsets."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[str] = []
        self.offsets = [0]

    def add(self, attributes: Iterable[KeyValue]) -> None:
        for kv in attributes:
            self.keys.append(kv.key)
            self.values.append(string_form(kv.value))
        self.offsets.append(len(self.keys))

    def add_pairs(self, pairs: list[tuple[str, str]]) -> None:
        for key, value in pairs:
            self.keys.append(key)
            self.values.append(value)
        self.offsets.append(len(self.keys))

    def array(self) -> pa.Array:
        return pa.MapArray.from_arrays(pa.array(self.offsets, pa.int32()),
                                       pa.array(self.keys, pa.string()),
                                       pa.array(self.values, pa.string()))


class _Lists:
    """Array(T) columns (one per Nested field) sharing one offsets list."""

    def __init__(self, *names: str) -> None:
        self.items: dict[str, list[Any]] = {name: [] for name in names}
        self.maps = _Maps()
        self.offsets = [0]
        self._count = 0

    def end_row(self, added: int) -> None:
        self._count += added
        self.offsets.append(self._count)

    def arrays(self, prefix: str, types: dict[str, pa.DataType]) -> dict[str, pa.Array]:
        offsets = pa.array(self.offsets, pa.int32())
        out = {f"{prefix}.{name}": pa.ListArray.from_arrays(offsets, pa.array(values, types[name]))
               for name, values in self.items.items()}
        out[f"{prefix}.Attributes"] = pa.ListArray.from_arrays(offsets, self.maps.array())
        return out


def insert_table(batch: SpanBatch, own_columns: bool = True) -> pa.Table:
    """``batch`` as an Arrow table of ``otel_traces`` columns."""
    resources: dict[bytes, tuple[list[tuple[str, str]], str]] = {}
    for body in dict.fromkeys(batch.resource):
        resource = Resource.FromString(body)
        resources[body] = (_pairs(resource.attributes), service_name(resource))
    scopes = {body: InstrumentationScope.FromString(body) for body in dict.fromkeys(batch.scope)}
    resource_maps, attributes = _Maps(), _Maps()
    for body in batch.resource:
        resource_maps.add_pairs(resources[body][0])
    states: list[str] = []
    events = _Lists("Timestamp", "Name")
    links = _Lists("TraceId", "SpanId", "TraceState")
    for detail in batch.detail:
        span = Span.FromString(detail)
        states.append(span.trace_state)
        attributes.add(span.attributes)
        for event in span.events:
            events.items["Timestamp"].append(event.time_unix_nano)
            events.items["Name"].append(event.name)
            events.maps.add(event.attributes)
        events.end_row(len(span.events))
        for link in span.links:
            links.items["TraceId"].append(link.trace_id.hex())
            links.items["SpanId"].append(link.span_id.hex())
            links.items["TraceState"].append(link.trace_state)
            links.maps.add(link.attributes)
        links.end_row(len(span.links))
    columns: dict[str, Any] = {
        "Timestamp": pa.array(np.array(batch.start_ns, dtype=np.int64), pa.timestamp("ns")),
        "TraceId": [t.hex() for t in batch.trace_id],
        "SpanId": [s.hex() for s in batch.span_id],
        "ParentSpanId": [p.hex() for p in batch.parent_span_id],
        "TraceState": states,
        "SpanName": batch.name,
        "SpanKind": [KIND_NAMES.get(k, "Unspecified") for k in batch.kind],  # type: ignore[call-overload]
        "ServiceName": batch.service,
        "ResourceAttributes": resource_maps.array(),
        "ScopeName": [scopes[s].name for s in batch.scope],
        "ScopeVersion": [scopes[s].version for s in batch.scope],
        "SpanAttributes": attributes.array(),
        "Duration": pa.array(np.array(batch.duration_ns, dtype=np.uint64)),
        "StatusCode": [STATUS_NAMES.get(c, "Unset") for c in batch.status_code],  # type: ignore[call-overload]
        "StatusMessage": batch.status_message,
        **events.arrays("Events", {"Timestamp": pa.timestamp("ns"), "Name": pa.string()}),
        **links.arrays("Links", {"TraceId": pa.string(), "SpanId": pa.string(),
                                 "TraceState": pa.string()}),
    }
    if own_columns:
        columns["TracewaySpan"] = pa.array(batch.detail, pa.binary())
        columns["TracewayResource"] = pa.array(batch.resource, pa.binary())
        columns["TracewayScope"] = pa.array(batch.scope, pa.binary())
    return pa.table(columns)


def deduplication_token(batch: SpanBatch) -> str:
    """Names the insert of exactly these spans: ClickHouse drops a repeat of
    an insert with the same token (a retry whose first answer was lost)."""
    digest = hashlib.blake2b(digest_size=16)
    for column in (batch.trace_id, batch.span_id, batch.detail):
        for value in column:
            digest.update(len(value).to_bytes(4, "little"))
            digest.update(value)
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
