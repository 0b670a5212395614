"""Instrumentation coverage: which called services never send spans themselves. Pure.

A service is *called* when a span of another service is its parent (the call was traced
on both sides), or when a CLIENT span that nobody answered names it: a database call by
its ``db.name``/``db.namespace`` (else its ``db.system``), any other call by its peer
(``peer.service``, else ``server.address``, else ``net.peer.name``; a peer name that is
a known service, or whose first host label is one, counts as that service).

A service is *instrumented* when it sends spans: it is in the traces or in ``services``
(what the store has seen). The answer lists every called or instrumented service:
uninstrumented ones first, then by calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from traceway.analysis.calls import (
    database_name,
    is_answered,
    is_database_call,
    linked_span_ids,
    named_peer,
    peer_services,
    span_attributes,
)
from traceway.analysis.tree import TraceTree
from traceway.model import SpanBatch, SpanKind


def service_coverage(traces: Iterable[SpanBatch], *,
                     services: Iterable[str] = ()) -> list[dict[str, Any]]:
    """``[{"service", "instrumented", "callers", "calls", "type"}]``; ``type`` is
    ``database`` for targets of database calls, else ``service``."""
    trees = [TraceTree.of(t) for t in traces if len(t)]
    instrumented = set(services) | {r.service for t in trees for r in t.spans.values()}
    linked = linked_span_ids(trees)
    calls: Counter[str] = Counter()
    callers: dict[str, set[str]] = {}
    databases: set[str] = set()
    for tree in trees:
        for span in tree.spans.values():
            parent = tree.spans.get(span.parent_span_id)
            if parent is not None and parent.service != span.service:
                calls[span.service] += 1
                callers.setdefault(span.service, set()).add(parent.service)
            if span.kind != SpanKind.CLIENT or is_answered(tree, span, linked):
                continue
            target = _unanswered_target(span_attributes(span), instrumented, databases)
            if target is not None:
                calls[target] += 1
                callers.setdefault(target, set()).add(span.service)
    names = sorted(instrumented | set(calls),
                   key=lambda name: (name in instrumented, -calls[name], name))
    return [{"service": name, "instrumented": name in instrumented,
             "callers": sorted(callers.get(name, ())), "calls": calls[name],
             "type": "database" if name in databases and name not in instrumented else "service"}
            for name in names]


def _unanswered_target(attributes: dict[str, str], instrumented: set[str],
                       databases: set[str]) -> str | None:
    if is_database_call(attributes):
        name = database_name(attributes)
        databases.add(name)
        return name
    matched = peer_services(attributes, instrumented)
    return matched[0] if matched else named_peer(attributes)
