"""Jaeger UI JSON (one element of ``/api/traces``' ``data``) -> spans. Pure.

The inverse of ``jaeger_json.trace_to_jaeger_json`` for what the JSON keeps: the derived
tags go back to their columns (``span.kind``, ``otel.status_code``, ``error``,
``otel.status_description``, scope name and version, ``w3c.tracestate``), logs become
events (the ``event`` field is the name), the first same-trace ``CHILD_OF`` reference
the parent and the other references links, process tags the resource. Times are
microseconds, so nanoseconds come back floored.
"""

from __future__ import annotations

import base64
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.model import SPAN_KIND_BY_NAME, SpanBatch, SpanRecord, StatusCode

JSON = dict[str, Any]
_DROPPED = ("otel.dropped_attributes_count", "otel.dropped_events_count",
            "otel.dropped_links_count")


def spans_from_jaeger_json(trace: JSON) -> SpanBatch:
    processes = trace.get("processes") or {}
    resources: dict[str, tuple[str, bytes]] = {}
    for pid, process in processes.items():
        service = process.get("serviceName", "")
        attributes = [KeyValue(key="service.name", value=AnyValue(string_value=service))]
        attributes += [_key_value(tag) for tag in process.get("tags") or ()]
        resources[pid] = (service, Resource(attributes=attributes).SerializeToString())
    return SpanBatch.from_rows(_record(span, resources) for span in trace.get("spans") or ())


def _record(span: JSON, resources: dict[str, tuple[str, bytes]]) -> SpanRecord:
    trace_id = bytes.fromhex(span["traceID"].rjust(32, "0"))
    tags = {tag["key"]: tag.get("value") for tag in span.get("tags") or ()}
    detail = Span(attributes=[_key_value(t) for t in span.get("tags") or ()
                              if not _derived(t["key"])],
                  trace_state=str(tags.get("w3c.tracestate") or ""))
    for log in span.get("logs") or ():
        fields = log.get("fields") or []
        name = next((str(f.get("value")) for f in fields if f["key"] == "event"), "")
        detail.events.add(time_unix_nano=int(log.get("timestamp", 0)) * 1000, name=name,
                          attributes=[_key_value(f) for f in fields if f["key"] != "event"])
    parent = b""
    for ref in span.get("references") or ():
        ref_trace = bytes.fromhex(ref["traceID"].rjust(32, "0"))
        ref_span = bytes.fromhex(ref["spanID"].rjust(16, "0"))
        if not parent and ref.get("refType") == "CHILD_OF" and ref_trace == trace_id:
            parent = ref_span
        else:
            detail.links.add(trace_id=ref_trace, span_id=ref_span)
    status = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR}.get(
        str(tags.get("otel.status_code")), StatusCode.ERROR if tags.get("error") in (True, "true")
        else StatusCode.UNSET)
    service, resource = resources.get(span.get("processID", ""), ("", Resource().SerializeToString()))
    scope = InstrumentationScope(name=str(tags.get("otel.scope.name") or ""),
                                 version=str(tags.get("otel.scope.version") or ""))
    return SpanRecord(
        trace_id=trace_id, span_id=bytes.fromhex(span["spanID"].rjust(16, "0")),
        parent_span_id=parent, service=service, name=span.get("operationName", ""),
        kind=SPAN_KIND_BY_NAME.get(str(tags.get("span.kind")), 0),
        start_ns=int(span.get("startTime", 0)) * 1000, duration_ns=int(span.get("duration", 0)) * 1000,
        status_code=int(status), status_message=str(tags.get("otel.status_description") or ""),
        detail=detail.SerializeToString(), resource=resource, scope=scope.SerializeToString())


def _derived(key: str) -> bool:
    return key in ("span.kind", "otel.status_code", "otel.status_description", "error",
                   "otel.scope.name", "otel.scope.version", "w3c.tracestate", *_DROPPED)


def _key_value(tag: JSON) -> KeyValue:
    value, kind = tag.get("value"), tag.get("type", "string")
    if kind == "bool":
        any_value = AnyValue(bool_value=bool(value))
    elif kind == "int64":
        any_value = AnyValue(int_value=int(value))  # type: ignore[arg-type]
    elif kind == "float64":
        any_value = AnyValue(double_value=float(value))  # type: ignore[arg-type]
    elif kind == "binary":
        any_value = AnyValue(bytes_value=base64.b64decode(str(value)))
    else:
        any_value = AnyValue(string_value=str(value))
    return KeyValue(key=tag["key"], value=any_value)
