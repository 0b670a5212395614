"""Calls between services as spans show them: who calls, who answers, what the caller
names as its peer. Shared by the propagation and coverage analyses. Pure.

A *call* is a CLIENT or PRODUCER span. It is *answered* when one of its children in the
same trace is a SERVER or CONSUMER span, a span of another service (kinds set by a
Zipkin or hand-made instrumentation are often missing), or a CONSUMER span elsewhere
that links to it (batch consumers link rather than parent).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.analysis.tree import TraceTree
from traceway.convert.attributes import string_form
from traceway.convert.otlp import decode_stored
from traceway.model import SpanKind, SpanRecord

CALL_KINDS = frozenset({SpanKind.CLIENT, SpanKind.PRODUCER})
ANSWER_KINDS = frozenset({SpanKind.SERVER, SpanKind.CONSUMER})
# Where a caller names its peer, most specific first (OTel semantic conventions, old and new).
PEER_KEYS = ("peer.service", "server.address", "net.peer.name", "messaging.destination.name")
DB_NAME_KEYS = ("db.name", "db.namespace")


def span_attributes(record: SpanRecord) -> dict[str, str]:
    """The span's own attributes as their tag-search string forms (first value wins)."""
    attributes: dict[str, str] = {}
    for kv in decode_stored(Span, record.detail, "span detail")[0].attributes:
        attributes.setdefault(kv.key, string_form(kv.value))
    return attributes


def linked_span_ids(trees: Iterable[TraceTree]) -> set[tuple[bytes, bytes]]:
    """(trace id, span id) of every span a CONSUMER span links to."""
    linked: set[tuple[bytes, bytes]] = set()
    for tree in trees:
        for record in tree.spans.values():
            if record.kind == SpanKind.CONSUMER:
                linked.update((link.trace_id, link.span_id)
                              for link in decode_stored(Span, record.detail, "span detail")[0].links)
    return linked


def is_answered(tree: TraceTree, call: SpanRecord, linked: set[tuple[bytes, bytes]]) -> bool:
    if (call.trace_id, call.span_id) in linked:
        return True
    return any(child.kind in ANSWER_KINDS or child.service != call.service
               for child in tree.children_of(call.span_id))


def caller_operation(tree: TraceTree, call: SpanRecord) -> str:
    """The operation of the caller's own entry span (its nearest SERVER/CONSUMER ancestor
    in the same service, else its topmost ancestor there): the endpoint making the call."""
    current = call
    seen = {call.span_id}
    while True:
        parent = tree.spans.get(current.parent_span_id)
        if parent is None or parent.service != call.service or parent.span_id in seen:
            return current.name
        current = parent
        seen.add(current.span_id)
        if current.kind in ANSWER_KINDS:
            return current.name


def peer_services(attributes: dict[str, str], known: set[str]) -> list[str]:
    """Services among ``known`` that the peer attributes name, in PEER_KEYS order.

    A host name counts by its first label too (``inventory.shop.svc`` -> ``inventory``).
    """
    found: list[str] = []
    for key in PEER_KEYS:
        value = attributes.get(key)
        if not value:
            continue
        for candidate in (value, value.split(".", 1)[0], value.split(":", 1)[0]):
            if candidate in known and candidate not in found:
                found.append(candidate)
    return found


def is_database_call(attributes: dict[str, str]) -> bool:
    return bool(attributes.get("db.system"))


def database_name(attributes: dict[str, str]) -> str:
    """What a database call calls: its ``db.name``/``db.namespace``, else its ``db.system``."""
    for key in DB_NAME_KEYS:
        if attributes.get(key):
            return attributes[key]
    return attributes["db.system"]


def named_peer(attributes: dict[str, str]) -> str | None:
    """The peer a CLIENT span names, as written (``peer.service`` first)."""
    for key in ("peer.service", "server.address", "net.peer.name"):
        if attributes.get(key):
            return attributes[key]
    return None
