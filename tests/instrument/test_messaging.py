from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from traceway.instrument import consume, consume_batch, produce


def test_producer_and_consumer_share_the_trace(memory):
    queue: list[tuple[bytes, dict[str, str]]] = []
    with trace.get_tracer("t").start_as_current_span("checkout"):
        with produce("orders", system="rabbitmq", message_id="m-1") as headers:
            queue.append((b"order", headers))
    _body, headers = queue.pop()
    assert "traceparent" in headers
    with consume("orders", headers, system="rabbitmq", message_id="m-1") as span:
        assert trace.get_current_span() is span
        with trace.get_tracer("t").start_as_current_span("reserve stock"):
            pass
    spans = {s.name: s for s in memory.get_finished_spans()}
    producer, consumer = spans["send orders"], spans["process orders"]
    assert producer.kind is SpanKind.PRODUCER and consumer.kind is SpanKind.CONSUMER
    assert producer.parent.span_id == spans["checkout"].context.span_id
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.parent.span_id == producer.context.span_id
    assert spans["reserve stock"].parent.span_id == consumer.context.span_id
    for span, op in ((producer, "send"), (consumer, "process")):
        assert span.attributes["messaging.system"] == "rabbitmq"
        assert span.attributes["messaging.destination.name"] == "orders"
        assert span.attributes["messaging.operation"] == op
        assert span.attributes["messaging.message.id"] == "m-1"


def test_linked_consumer_starts_its_own_trace(memory):
    with produce("emails") as headers:
        pass
    with consume("emails", headers, link=True):
        pass
    spans = {s.name: s for s in memory.get_finished_spans()}
    producer, consumer = spans["send emails"], spans["process emails"]
    assert consumer.parent is None
    assert consumer.context.trace_id != producer.context.trace_id
    (link,) = consumer.links
    assert link.context.span_id == producer.context.span_id


def test_batch_consumer_links_every_message(memory):
    batch = []
    for _ in range(3):
        with produce("events") as headers:
            batch.append(headers)
    with consume_batch("events", batch):
        pass
    (consumer,) = [s for s in memory.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert len(consumer.links) == 3
    assert consumer.attributes["messaging.batch.message_count"] == 3


def test_consumer_failure_is_recorded(memory):
    with produce("jobs") as headers:
        pass
    with pytest.raises(RuntimeError), consume("jobs", headers):
        raise RuntimeError("poison message")
    (consumer,) = [s for s in memory.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert consumer.status.status_code is StatusCode.ERROR
    assert any(e.name == "exception" for e in consumer.events)
