"""PRODUCER and CONSUMER spans for message queues, with the context in message headers.

Follows the OpenTelemetry messaging semantic conventions: a producer span
``send <destination>`` injects its context into the message headers; a consumer
processing one message starts ``process <destination>`` as a child of that
context (or, with ``link=True`` or for a batch, a span linked to each
producer context, parented on whatever is current).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind

from traceway.instrument.errors import fail_span
from traceway.instrument.propagation import extract, inject

_TRACER_NAME = "traceway.instrument.messaging"


def _attributes(system: str, destination: str, operation: str, op_type: str, message_id: str | None, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": system,
        "messaging.destination.name": destination,
        "messaging.operation": op_type,  # pre-1.26 conventions name it so
        "messaging.operation.type": op_type,
        "messaging.operation.name": operation,
    }
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    attributes.update(extra or {})
    return attributes


@contextmanager
def produce(
    destination: str,
    headers: MutableMapping[str, str] | None = None,
    *,
    system: str = "traceway",
    message_id: str | None = None,
    operation: str = "send",
    attributes: Mapping[str, Any] | None = None,
    tracer: trace.Tracer | None = None,
) -> Iterator[MutableMapping[str, str]]:
    """A PRODUCER span around sending one message; yields ``headers`` with the trace context injected.

    ``with produce("orders", msg.headers) as headers: queue.put(body, headers)``
    """
    tracer = tracer or trace.get_tracer(_TRACER_NAME)
    headers = {} if headers is None else headers
    attrs = _attributes(system, destination, operation, "send" if operation == "send" else "publish", message_id, attributes)
    with tracer.start_as_current_span(
        f"{operation} {destination}", kind=SpanKind.PRODUCER, attributes=attrs,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        inject(headers)
        try:
            yield headers
        except BaseException as exc:
            fail_span(span, exc)
            raise


@contextmanager
def consume(
    destination: str,
    headers: Mapping[str, Any],
    *,
    system: str = "traceway",
    message_id: str | None = None,
    operation: str = "process",
    link: bool = False,
    attributes: Mapping[str, Any] | None = None,
    tracer: trace.Tracer | None = None,
) -> Iterator[Span]:
    """A CONSUMER span for one received message, current inside the block.

    By default it is a child of the producer's context from ``headers``, so
    the message's work joins the producer's trace. With ``link=True`` it
    starts under the current context instead and links to the producer.
    """
    tracer = tracer or trace.get_tracer(_TRACER_NAME)
    producer_ctx = extract(headers)
    attrs = _attributes(system, destination, operation, "process" if operation == "process" else "receive", message_id, attributes)
    links: list[Link] = []
    parent: Context | None = producer_ctx
    if link:
        producer_span = trace.get_current_span(producer_ctx).get_span_context()
        if producer_span.is_valid:
            links.append(Link(producer_span))
        parent = None
    with tracer.start_as_current_span(
        f"{operation} {destination}", context=parent, kind=SpanKind.CONSUMER, attributes=attrs, links=links,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            fail_span(span, exc)
            raise


@contextmanager
def consume_batch(
    destination: str,
    batch_headers: Iterable[Mapping[str, Any]],
    *,
    system: str = "traceway",
    operation: str = "process",
    attributes: Mapping[str, Any] | None = None,
    tracer: trace.Tracer | None = None,
) -> Iterator[Span]:
    """One CONSUMER span for a batch, linked to every message's producer context."""
    tracer = tracer or trace.get_tracer(_TRACER_NAME)
    links = []
    count = 0
    for headers in batch_headers:
        count += 1
        sc = trace.get_current_span(extract(headers)).get_span_context()
        if sc.is_valid:
            links.append(Link(sc))
    attrs = _attributes(system, destination, operation, "process" if operation == "process" else "receive", None, attributes)
    attrs["messaging.batch.message_count"] = count
    with tracer.start_as_current_span(
        f"{operation} {destination}", kind=SpanKind.CONSUMER, attributes=attrs, links=links,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            fail_span(span, exc)
            raise
