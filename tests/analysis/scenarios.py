"""Hand-built traces whose diagnosis is known, for the analysis goldens and the e2e tests.

``shop`` has every propagation pitfall once or more; ``search`` has slow and failing
requests that share attribute values. Times are offsets from ``base_ns``.
"""

from __future__ import annotations

from traceway.model import SpanKind, SpanRecord, StatusCode
from traceway.storage.testspans import make_span

MS = 1_000_000
S, C, P, K = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER


def shop(base_ns: int) -> list[SpanRecord]:
    spans: list[SpanRecord] = []

    def span(trace: int, sid: int, at_ms: int, **kw) -> None:  # type: ignore[no-untyped-def]
        spans.append(make_span(trace, sid, start_ns=base_ns + at_ms * MS, **kw))

    # 1. web GET /buy -> pay POST /pay -> database "cards": answered, and a db call.
    span(1, 1, 0, service="web", name="GET /buy", kind=S, duration_ns=50 * MS)
    span(1, 2, 5, parent=1, service="web", name="POST /pay", kind=C, duration_ns=40 * MS,
         attributes={"peer.service": "pay"})
    span(1, 3, 6, parent=2, service="pay", name="POST /pay", kind=S, duration_ns=38 * MS)
    span(1, 4, 10, parent=3, service="pay", name="SELECT cards", kind=C, duration_ns=5 * MS,
         attributes={"db.system": "postgresql", "db.name": "cards"})
    # 2-4. web GET /recs calls stock without the context: stock starts traces 102-104.
    for n in (2, 3, 4):
        at = n * 1000
        span(n, 1, at, service="web", name="GET /recs", kind=S, duration_ns=30 * MS)
        span(n, 2, at + 5, parent=1, service="web", name="GET /stock", kind=C,
             duration_ns=20 * MS, attributes={"peer.service": "stock",
                                             "server.address": "stock.shop.svc"})
        span(100 + n, 1, at + 7, service="stock", name="GET /stock", kind=S,
             duration_ns=15 * MS)
    # 5. web GET /product calls stock with the context: answered.
    span(5, 1, 5000, service="web", name="GET /product", kind=S, duration_ns=30 * MS)
    span(5, 2, 5005, parent=1, service="web", name="GET /stock", kind=C, duration_ns=20 * MS,
         attributes={"peer.service": "stock"})
    span(5, 3, 5007, parent=2, service="stock", name="GET /stock", kind=S, duration_ns=15 * MS)
    # 6. calls nobody answers and nothing continues: a host and a named peer, never instrumented.
    span(6, 1, 6000, service="web", name="GET /home", kind=S, duration_ns=30 * MS)
    span(6, 2, 6005, parent=1, service="web", name="GET /geo", kind=C, duration_ns=10 * MS,
         attributes={"server.address": "geo.example.com"})
    span(6, 3, 6016, parent=1, service="web", name="POST /mail", kind=C, duration_ns=10 * MS,
         attributes={"peer.service": "mailer"})
    # 7. a producer answered by a child consumer; 8. one answered through a link (batch).
    span(7, 1, 7000, service="web", name="send orders", kind=P, duration_ns=2 * MS,
         attributes={"messaging.destination.name": "orders"})
    span(7, 2, 7010, parent=1, service="worker", name="process orders", kind=K, duration_ns=5 * MS)
    span(8, 1, 8000, service="web", name="send orders", kind=P, duration_ns=2 * MS,
         attributes={"messaging.destination.name": "orders"})
    spans.append(make_span(9, 1, start_ns=base_ns + 8100 * MS, service="worker",
                           name="process batch", kind=K, duration_ns=5 * MS))
    _link(spans, trace=9, target_trace=8, target_span=1)
    # 10. a span whose parent never arrives; 11. a trace with two roots.
    span(10, 2, 10000, parent=99, service="pay", name="refund", kind=S, duration_ns=5 * MS)
    span(11, 1, 11000, service="web", name="GET /a", kind=S, duration_ns=5 * MS)
    span(11, 2, 11010, service="web", name="cron tick", duration_ns=5 * MS)
    return spans


def _link(spans: list[SpanRecord], *, trace: int, target_trace: int, target_span: int) -> None:
    """Point the last span (of ``trace``) at a producer span through a link."""
    from dataclasses import replace

    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from traceway.storage.testspans import span_id, trace_id

    record = spans[-1]
    assert record.trace_id == trace_id(trace)
    detail = Span.FromString(record.detail)
    detail.links.add(trace_id=trace_id(target_trace), span_id=span_id(target_span))
    spans[-1] = replace(record, detail=detail.SerializeToString())


def recent_broken_call(now_ns: int) -> list[SpanRecord]:
    """A call that ended a second ago: its callee's spans may still be on their way."""
    return [make_span(50, 1, start_ns=now_ns - 2 * 10**9, service="web", name="GET /late",
                      kind=S, duration_ns=10**9),
            make_span(50, 2, start_ns=now_ns - 2 * 10**9, parent=1, service="web",
                      name="GET /slowpoke", kind=C, duration_ns=10**9,
                      attributes={"peer.service": "stock"})]


def search(base_ns: int) -> list[SpanRecord]:
    """20 requests to api GET /search. Requests 0 and 1 are slow (800, 900 ms) and missed
    the cache in the eu region; requests 2-4 failed with a timeout event; the rest are
    10-25 ms cache hits in us."""
    spans = []
    for n in range(20):
        slow, failed = n < 2, 2 <= n < 5
        duration = (800 + 100 * n) * MS if slow else (10 + n) * MS
        at = base_ns + n * 10**9
        region = "eu" if slow else "us"
        spans.append(make_span(200 + n, 1, start_ns=at, service="api", name="GET /search",
                               kind=S, duration_ns=duration, resource={"cloud.region": region},
                               status_code=StatusCode.ERROR if failed else StatusCode.UNSET,
                               attributes={"http.route": "/search", "request.n": n}))
        events = [("exception", {"exception.type": "TimeoutError"})] if failed else []
        spans.append(make_span(200 + n, 2, parent=1, start_ns=at + MS, service="api",
                               name="cache get", kind=C, duration_ns=MS,
                               resource={"cloud.region": region}, events=events,
                               attributes={"cache.hit": not slow, "db.system": "redis"}))
    return spans
