"""Golden-file helpers for the converter tests.

A golden test feeds an input file to a converter and compares the result with
an expected JSON file under ``golden/expected/``. Run with ``UPDATE_GOLDEN=1``
to (re)write the expected files, then review the diff like any code change.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.otlp import DecodedSpans
from traceway.model import SpanBatch

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
EXPECTED = GOLDEN / "expected"
# /work/shared sits next to the repository checkout.
SHARED_FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"
SHARED_OTLP = SHARED_FIXTURES / "otlp-json"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def shared_otlp_inputs() -> list[Path]:
    return sorted(SHARED_OTLP.glob("*.json")) if SHARED_OTLP.is_dir() else []


def own_otlp_inputs() -> list[Path]:
    return sorted((GOLDEN / "otlp").glob("*.json"))


def zipkin_inputs() -> list[Path]:
    return sorted((GOLDEN / "zipkin").glob("*.json"))


def check_golden(expected_path: Path, actual: Any) -> None:
    """Compare ``actual`` (JSON data) with the file; rewrite it under UPDATE_GOLDEN=1."""
    text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
    if UPDATE:
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        expected_path.write_text(text)
        return
    assert expected_path.exists(), f"{expected_path} is missing: run with UPDATE_GOLDEN=1"
    assert json.loads(text) == json.loads(expected_path.read_text()), (
        f"{expected_path.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1")


def decoded_to_json(decoded: DecodedSpans) -> dict[str, Any]:
    return {"rejected": decoded.rejected, "errorMessage": decoded.error_message,
            "spans": batch_to_json(decoded.batch)}


def batch_to_json(batch: SpanBatch) -> list[dict[str, Any]]:
    """A readable SpanBatch: hex ids, and the protobuf columns as OTLP/JSON."""
    return [{
        "traceId": r.trace_id.hex(),
        "spanId": r.span_id.hex(),
        "parentSpanId": r.parent_span_id.hex(),
        "service": r.service,
        "name": r.name,
        "kind": r.kind,
        "startNs": r.start_ns,
        "durationNs": r.duration_ns,
        "statusCode": r.status_code,
        "statusMessage": r.status_message,
        "detail": _span_detail_json(Span.FromString(r.detail)),
        "resource": message_json(Resource.FromString(r.resource)),
        "scope": message_json(InstrumentationScope.FromString(r.scope)),
    } for r in batch.rows()]


def message_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, use_integers_for_enums=True)


def _span_detail_json(span: Span) -> dict[str, Any]:
    span.ClearField("status")  # may ride along in detail; the columns are what counts
    document = message_json(span)
    for link in document.get("links", ()):
        for key in ("traceId", "spanId"):
            if key in link:
                link[key] = base64.b64decode(link[key]).hex()
    return document


def otlp_json_to_proto(body: bytes) -> bytes:
    """The same request as OTLP protobuf (hex ids -> bytes; a non-hex id -> b'\\xff')."""
    document = json.loads(body)
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                for item in (span, *span.get("links", ())):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if isinstance(item.get(key), str):
                            item[key] = base64.b64encode(_unhex(item[key])).decode()
    request = json_format.ParseDict(document, ExportTraceServiceRequest(),
                                    ignore_unknown_fields=True)
    return request.SerializeToString()


def _unhex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b"\xff"
