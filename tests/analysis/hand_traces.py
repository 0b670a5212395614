"""Hand-built traces with known answers, shared by the analysis tests and goldens.

Times are given in microseconds (``US``) so the pictures in the docstrings read
easily; span ids are small integers (``span_id(n)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traceway.model import SpanBatch, SpanKind, StatusCode
from traceway.storage.testspans import batch_of, make_span, span_id

US = 1_000
TRACE = 0x7A
ERROR = StatusCode.ERROR


def s(n: int, parent: int, start: int, duration: int, **kw: Any):  # type: ignore[no-untyped-def]
    """Span ``n`` under ``parent`` (0: a root), start and duration in µs."""
    kw.setdefault("name", f"op-{n}")
    return make_span(kw.pop("trace", TRACE), n, parent=span_id(parent) if parent else b"",
                     start_ns=start * US, duration_ns=duration * US, **kw)


def exception(kind: str, message: str, stack: str) -> tuple[str, dict[str, str]]:
    return ("exception", {"exception.type": kind, "exception.message": message,
                          "exception.stacktrace": stack})


def sequential() -> SpanBatch:
    """|-------1 (1..101)--------|   Jaeger test1: 2 and 3 in turn, a gap between
         |-2-|     |-3-|          (20..40 and 50..60)"""
    return batch_of(s(1, 0, 1, 100), s(2, 1, 20, 20), s(3, 1, 50, 10))


def overlapping() -> SpanBatch:
    """Jaeger test2: 2 (10..50) is overlapped by 3 (20..60), which ends later."""
    return batch_of(s(1, 0, 1, 100), s(2, 1, 10, 40), s(3, 1, 20, 40))


def touching() -> SpanBatch:
    """Sequential calls with no gap: 2 ends at 50 exactly when 3 starts."""
    return batch_of(s(1, 0, 0, 100), s(2, 1, 10, 40), s(3, 1, 50, 40))


def child_outlives_parent() -> SpanBatch:
    """Jaeger test6: 2 (15..35) outlives 1 (1..30); 3 (10..25) starts before 2."""
    return batch_of(s(1, 0, 1, 29), s(2, 1, 15, 20), s(3, 2, 10, 15))


def child_after_parent() -> SpanBatch:
    """Jaeger test4: 2 starts after 1 ended; it and its child 3 are not on the path."""
    return batch_of(s(1, 0, 1, 30), s(2, 1, 40, 40), s(3, 2, 50, 10))


def several_roots() -> SpanBatch:
    """Two roots: 1 (0..50) with child 2, and 10 (60..100) with child 11."""
    return batch_of(s(1, 0, 0, 50, service="a"), s(2, 1, 10, 20, service="b"),
                    s(10, 0, 60, 40, service="c"), s(11, 10, 70, 20, service="c"))


def missing_parent() -> SpanBatch:
    """Root 1 with child 2; 5 names parent 4, which never arrived; 6 is 5's child."""
    return batch_of(s(1, 0, 0, 100), s(2, 1, 10, 30), s(5, 4, 20, 60, service="lost"),
                    s(6, 5, 30, 20, service="lost"))


def producer_consumer() -> SpanBatch:
    """1 publishes (PRODUCER 2, 10..20); the CONSUMER 3 handles it later (30..150), after
    1 ended at 100: the request did not wait for it."""
    return batch_of(s(1, 0, 0, 100, service="shop", kind=SpanKind.SERVER),
                    s(2, 1, 10, 10, service="shop", kind=SpanKind.PRODUCER, name="publish"),
                    s(3, 2, 30, 120, service="worker", kind=SpanKind.CONSUMER, name="handle"),
                    s(4, 3, 40, 50, service="worker", name="send email"))


STACK = ('Traceback (most recent call last):\n  File "pay.py", line 10, in charge\n'
         '    authorize(card)\nAcquirerTimeoutError: acquirer did not answer')


def error_chain() -> SpanBatch:
    """The demo's failed checkout: authorize card (6) raises; POST /charge (5) records
    the same exception; checkout and frontend only fail because of it. Inventory (4)
    answered fine. A second origin: validate coupon (7) raised and was handled (OK)."""
    timeout = exception("AcquirerTimeoutError", "acquirer did not answer", STACK)
    return batch_of(
        s(1, 0, 0, 200, service="frontend", name="POST /checkout", kind=SpanKind.SERVER,
          status_code=ERROR, status_message="checkout failed"),
        s(2, 1, 5, 190, service="frontend", name="POST /checkout", kind=SpanKind.CLIENT,
          status_code=ERROR, status_message="HTTP 500 from checkout"),
        s(3, 2, 10, 180, service="checkout", name="POST /checkout", kind=SpanKind.SERVER,
          status_code=ERROR, status_message="payment failed"),
        s(4, 3, 20, 30, service="inventory", name="POST /reserve", kind=SpanKind.SERVER),
        s(5, 3, 60, 120, service="payment", name="POST /charge", kind=SpanKind.SERVER,
          status_code=ERROR, events=[timeout]),
        s(6, 5, 70, 100, service="payment", name="authorize card", status_code=ERROR,
          events=[timeout]),
        s(7, 3, 12, 5, service="checkout", name="validate coupon", status_code=StatusCode.OK,
          events=[exception("CouponError", "unknown coupon", "Traceback...\nCouponError")]),
        s(8, 4, 25, 10, service="inventory", name="SELECT stock",
          events=[exception("OperationalError", "database is locked", "Traceback...")]),
    )


def skewed() -> SpanBatch:
    """The server span 2 on host b starts 30 before its client span 1 on host a; its
    child 3 on the same host moves with it. 4 on host a is fine."""
    return batch_of(
        s(1, 0, 100, 100, service="a", kind=SpanKind.CLIENT, resource={"host.name": "a"}),
        s(2, 1, 70, 60, service="b", kind=SpanKind.SERVER, resource={"host.name": "b"},
          events=[("retry", {})]),
        s(3, 2, 80, 20, service="b", resource={"host.name": "b"}),
        s(4, 1, 150, 10, service="a", resource={"host.name": "a"}),
    )


TRACES: dict[str, Callable[[], SpanBatch]] = {f.__name__: f for f in (
    sequential, overlapping, touching, child_outlives_parent, child_after_parent,
    several_roots, missing_parent, producer_consumer, error_chain, skewed)}
