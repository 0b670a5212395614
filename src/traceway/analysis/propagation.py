"""Propagation health: calls whose trace context got lost on the way. Pure.

A CLIENT/PRODUCER span that nobody answered in its trace (see ``calls.py``) is a *broken*
call: either the callee is not instrumented, or the context did not travel with the
request and the callee started a trace of its own. Calls are grouped by the calling
service, the caller's entry operation and the call's own operation; a group is reported
when at least one of its calls is broken, with ``total`` counting all of its calls.

The callee of a broken call is matched when the call names a peer (``peer.service``,
``server.address``, ``net.peer.name``, ``messaging.destination.name``) that is a known
service, and a root span of that service starts inside the call's interval: that root is
the lost continuation. ``serverService`` is the service most broken calls of the group
matched, or None.

Spans still arriving would look broken, so calls that ended less than ``grace_ns`` before
``now_ns`` are left out, and so are orphans and extra roots of traces whose last span
ended then. Database calls (``db.system`` set) are never answered by a span; the
coverage analysis reports them, not this one.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from traceway.analysis.calls import (
    CALL_KINDS,
    caller_operation,
    is_answered,
    is_database_call,
    linked_span_ids,
    peer_services,
    span_attributes,
)
from traceway.analysis.tree import TraceTree
from traceway.model import SpanBatch, SpanRecord

DEFAULT_GRACE_NS = 30 * 10**9
EXAMPLES = 5


@dataclass
class _Group:
    broken: int = 0
    total: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    continuations: list[str] = field(default_factory=list)


class _RootIndex:
    """Root spans per service by start time, to find what started inside a call."""

    def __init__(self, trees: list[TraceTree]) -> None:
        roots: dict[str, list[tuple[int, bytes]]] = {}
        for tree in trees:
            for root in tree.roots:
                roots.setdefault(root.service, []).append((root.start_ns, root.trace_id))
        self._starts = {s: sorted(r) for s, r in roots.items()}

    def services(self) -> set[str]:
        return set(self._starts)

    def started_within(self, service: str, call: SpanRecord) -> bytes | None:
        """A trace id of a root span of ``service`` that started during ``call``."""
        starts = self._starts.get(service, [])
        i = bisect.bisect_left(starts, (call.start_ns, b""))
        while i < len(starts) and starts[i][0] <= call.end_ns:
            if starts[i][1] != call.trace_id:
                return starts[i][1]
            i += 1
        return None


def propagation_health(traces: Iterable[SpanBatch], *, now_ns: int,
                       grace_ns: int = DEFAULT_GRACE_NS,
                       services: Iterable[str] = ()) -> dict[str, Any]:
    """``{"data": [broken call groups], "orphans": [...], "multipleRoots": [...]}``.

    ``services`` adds known service names (for instance all the store has seen) to
    those of the traces when matching peer names.
    """
    trees = [TraceTree.of(t) for t in traces if len(t)]
    roots = _RootIndex(trees)
    known = roots.services() | set(services) | {r.service for t in trees for r in t.spans.values()}
    linked = linked_span_ids(trees)
    settled_ns = now_ns - grace_ns
    groups: dict[tuple[str, str, str], _Group] = {}
    for tree in trees:
        for call in tree.spans.values():
            if call.kind not in CALL_KINDS or call.end_ns > settled_ns:
                continue
            attributes = span_attributes(call)
            if is_database_call(attributes):
                continue
            key = (call.service, caller_operation(tree, call), call.name)
            group = groups.setdefault(key, _Group())
            group.total += 1
            if is_answered(tree, call, linked):
                continue
            group.broken += 1
            _remember(group.examples, call.trace_id.hex())
            for service in peer_services(attributes, known):
                continuation = roots.started_within(service, call)
                if continuation is not None:
                    group.matched[service] += 1
                    _remember(group.continuations, continuation.hex())
                    break
    rows = [_row(key, group) for key, group in groups.items() if group.broken]
    rows.sort(key=lambda r: (-r["broken"], r["clientService"], r["callerOperation"],
                             r["clientOperation"]))
    settled = [t for t in trees if max(r.end_ns for r in t.spans.values()) <= settled_ns]
    return {"data": rows, "orphans": _orphans(settled), "multipleRoots": _multiple_roots(settled)}


def _remember(examples: list[str], trace_id: str) -> None:
    if len(examples) < EXAMPLES and trace_id not in examples:
        examples.append(trace_id)


def _row(key: tuple[str, str, str], group: _Group) -> dict[str, Any]:
    client_service, caller, client_operation = key
    matched = min(group.matched.items(), key=lambda kv: (-kv[1], kv[0]))[0] if group.matched else None
    return {"clientService": client_service, "clientOperation": client_operation,
            "serverService": matched, "broken": group.broken, "total": group.total,
            "exampleTraceIDs": group.examples, "callerOperation": caller,
            "continuationTraceIDs": group.continuations}


def _orphans(trees: list[TraceTree]) -> list[dict[str, Any]]:
    """Spans whose parent never arrived, by (service, operation)."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = {}
    for tree in trees:
        for orphan in tree.orphans:
            key = (orphan.service, orphan.name)
            counts[key] += 1
            _remember(examples.setdefault(key, []), orphan.trace_id.hex())
    return [{"service": s, "operation": o, "count": n, "exampleTraceIDs": examples[s, o]}
            for (s, o), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _multiple_roots(trees: list[TraceTree]) -> list[dict[str, Any]]:
    """Traces with more than one root span, by the set of their roots' (service, operation)."""
    counts: Counter[tuple[tuple[str, str], ...]] = Counter()
    examples: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for tree in trees:
        if len(tree.roots) > 1:
            key = tuple(sorted({(r.service, r.name) for r in tree.roots}))
            counts[key] += 1
            _remember(examples.setdefault(key, []), tree.roots[0].trace_id.hex())
    return [{"roots": [{"service": s, "operation": o} for s, o in key], "count": n,
             "exampleTraceIDs": examples[key]}
            for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
