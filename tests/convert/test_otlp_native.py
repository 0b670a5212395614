"""The C decoder against the pure-Python one: the same columns, or it declines (None).

Every fixture, requests the stock OpenTelemetry SDK encodes, and fuzzed bodies (generated
requests and byte-level mutations of them) go through both paths.
"""

from __future__ import annotations

import os

import pytest
from goldens import otlp_json_to_proto, own_otlp_inputs, shared_otlp_inputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from traceway.convert import otlp_native
from traceway.convert.otlp import InvalidPayloadError, spans_from_otlp, spans_from_otlp_proto
from traceway.model import SpanBatch

pytestmark = pytest.mark.skipif(not otlp_native.AVAILABLE, reason="the C decoder is not built")

FUZZ_EXAMPLES = int(os.environ.get("TRACEWAY_FUZZ_EXAMPLES", "200"))


def python_batch(body: bytes) -> SpanBatch | None:
    """What the pure-Python path stores for ``body``; None when it refuses the body."""
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except Exception:  # DecodeError and friends: the Python path answers 400
        return None
    decoded = spans_from_otlp(request)
    return decoded.batch if not decoded.rejected else None


def assert_same_or_declined(body: bytes) -> bool:
    """True when the C path decoded ``body`` (and matched Python exactly)."""
    native = otlp_native.batch_from_otlp_native(body)
    if native is None:
        return False
    expected = python_batch(body)
    assert expected is not None, "C accepted a body the Python path refuses"
    for name, column in expected.columns():
        assert getattr(native, name) == column, f"column {name} differs"
    return True


def sdk_request(spans: int = 50) -> bytes:
    """A request as the stock OTel SDK's OTLP exporter encodes it."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "h-1"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop.checkout", "1.2.3")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "POST")
        root.set_attribute("http.response.status_code", 500)
        root.set_attributes({"tags": ["a", "b"], "ratio": 0.25, "ok": False})
        root.add_event("retry", {"attempt": 2})
        root.set_status(StatusCode.ERROR, "payment failed")
        for n in range(spans - 1):
            with tracer.start_as_current_span(f"SELECT {n}", kind=SpanKind.CLIENT) as child:
                child.set_attribute("db.system", "postgresql")
                child.set_attribute("db.statement", "SELECT * FROM t WHERE ü = ?")
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans()).SerializeToString()


def test_sdk_requests_take_the_c_path_and_match_python():
    assert assert_same_or_declined(sdk_request())


def test_the_receiver_entry_point_uses_it():
    body = sdk_request(3)
    assert spans_from_otlp_proto(body).batch.name == python_batch(body).name  # type: ignore[union-attr]


@pytest.mark.parametrize("path", own_otlp_inputs() + shared_otlp_inputs(), ids=lambda p: p.name)
def test_fixtures_match_python(path):
    body = otlp_json_to_proto(path.read_bytes())
    assert_same_or_declined(body)


def test_invalid_spans_are_left_to_python():
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="ok")
    spans.add(trace_id=b"\x01" * 8, span_id=b"\x03" * 8, name="short trace id")
    body = request.SerializeToString()
    assert otlp_native.batch_from_otlp_native(body) is None
    assert spans_from_otlp_proto(body).rejected == 1


def test_malformed_bodies_are_left_to_python():
    for body in (b"\x0a\x05abc", b"\xff\xff", b"\x0a\x02\x12\x80"):
        assert otlp_native.batch_from_otlp_native(body) is None
        with pytest.raises(InvalidPayloadError):
            spans_from_otlp_proto(body)


_ids = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
_text = st.text(max_size=12)


def _any_values(depth: int = 0) -> st.SearchStrategy[AnyValue]:
    scalars = st.one_of(
        st.builds(lambda v: AnyValue(string_value=v), _text),
        st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
        st.builds(lambda v: AnyValue(int_value=v), st.integers(-2**63, 2**63 - 1)),
        st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=False)),
        st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=8)),
    )
    if depth >= 2:
        return scalars
    nested = _any_values(depth + 1)
    return st.one_of(scalars, st.builds(lambda vs: AnyValue(array_value={"values": vs}),
                                        st.lists(nested, max_size=3)))


_attributes = st.lists(st.builds(lambda k, v: KeyValue(key=k, value=v), _text, _any_values()), max_size=4)
_spans = st.builds(
    lambda tid, sid, parent, name, kind, start, length, attrs, code, message, state: Span(
        trace_id=tid, span_id=sid, parent_span_id=parent, name=name, kind=kind,
        start_time_unix_nano=start, end_time_unix_nano=start + length, attributes=attrs,
        status=Status(code=code, message=message), trace_state=state),
    _ids, st.binary(min_size=8, max_size=8), st.one_of(st.just(b""), st.binary(min_size=8, max_size=8)),
    _text, st.integers(0, 7), st.integers(0, 2**63 - 2**40), st.integers(0, 2**40),
    _attributes, st.integers(0, 3), _text, st.one_of(st.just(""), _text))


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(_attributes))
        if draw(st.booleans()):
            resource_spans.resource.attributes.add(key="service.name").value.string_value = draw(_text)
        for _ in range(draw(st.integers(0, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(_text)
            scope_spans.spans.extend(draw(st.lists(_spans, max_size=3)))
    return request.SerializeToString()


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(_requests()))
    for _ in range(draw(st.integers(1, 4))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip":
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del body[at:]
        elif action == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=3))
        else:
            del body[at]
    return bytes(body)


_FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(_requests())
def test_generated_requests_match_python(body):
    assert_same_or_declined(body)


@_FUZZ
@given(_mutated())
def test_mutated_requests_match_python_or_are_declined(body):
    assert_same_or_declined(body)
