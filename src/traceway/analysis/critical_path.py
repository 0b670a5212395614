"""The critical path of a trace: the chain of work the request actually waited for. Pure.

Jaeger UI's algorithm (``TracePage/CriticalPath``), computed on the server:

1. Keep only the children a parent blocks on: a CONSUMER child of a PRODUCER runs
   on its own, and so does a child whose parent reference is FOLLOWS_FROM (a link to
   the parent without ``opentracing.ref_type=child_of``); both are left out with
   everything below them.
2. Clip each child to its parent's (already clipped) interval; a child wholly outside
   it is left out with its descendants.
3. From the end of a top span, walk back: the span is on the path from the end of its
   last-finishing child to the current point; continue inside that child; when a span
   has no such child, it is on the path from its own start, and the walk returns to
   its parent at that start, where the child that finished last before it is next.

A child fully overlapped by a sibling that finishes later is therefore never on the
path. One deliberate difference: a child that ends exactly when the next one starts
(sequential calls) is on the path here; Jaeger asks for a strictly earlier end and
gives that time to the parent.

Several top spans (roots, or orphans whose parent is missing) each get their own
path. The segments of one top span cover its interval exactly, without overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.analysis.tree import TraceTree
from traceway.convert.otlp import decode_stored
from traceway.model import SpanBatch, SpanKind, SpanRecord

_REF_TYPE_ATTRIBUTE = "opentracing.ref_type"


@dataclass(frozen=True, slots=True)
class PathSegment:
    """``span_id`` was the span the request waited on from ``start_ns`` to ``end_ns``."""

    span_id: bytes
    start_ns: int
    end_ns: int


def critical_path(batch: SpanBatch) -> list[PathSegment]:
    """The critical path of the trace in ``batch``, segments in time order."""
    tree = TraceTree.of(batch)
    segments: list[PathSegment] = []
    for top in tree.tops():
        segments.extend(_path_of(tree, top))
    segments.sort(key=lambda s: (s.start_ns, s.end_ns))
    return segments


def is_follows_from(record: SpanRecord) -> bool:
    """Whether the span's parent reference is FOLLOWS_FROM, as the Jaeger view shows it:
    a link to the parent span that does not say ``opentracing.ref_type=child_of``."""
    if not record.parent_span_id or not record.detail:
        return False
    for link in decode_stored(Span, record.detail, "span detail")[0].links:
        if link.span_id == record.parent_span_id and link.trace_id == record.trace_id:
            return not any(kv.key == _REF_TYPE_ATTRIBUTE and kv.value.string_value == "child_of"
                           for kv in link.attributes)
    return False


def blocks_parent(parent: SpanRecord, child: SpanRecord) -> bool:
    """Whether ``parent`` waits for ``child`` (see step 1 of the module docstring)."""
    if parent.kind == SpanKind.PRODUCER and child.kind == SpanKind.CONSUMER:
        return False
    return not is_follows_from(child)


@dataclass(slots=True)
class _Node:
    span_id: bytes
    start_ns: int
    end_ns: int
    parent: _Node | None
    children: list[_Node]  # latest end first; equal ends in start order
    next_child: int = 0  # children before this index can no longer be on the path


def _clipped_tree(tree: TraceTree, top: SpanRecord) -> _Node:
    root = _Node(top.span_id, top.start_ns, top.end_ns, None, [])
    stack = [(top, root)]
    seen = {top.span_id}
    while stack:
        record, node = stack.pop()
        for child in tree.children_of(record.span_id):
            if child.span_id in seen or not blocks_parent(record, child):
                continue
            if child.start_ns >= node.end_ns or (child.start_ns < node.start_ns
                                                 and child.end_ns <= node.start_ns):
                continue  # wholly outside the parent: not something it waited for
            seen.add(child.span_id)
            clipped = _Node(child.span_id, max(child.start_ns, node.start_ns),
                            min(child.end_ns, node.end_ns), node, [])
            node.children.append(clipped)
            stack.append((child, clipped))
        node.children.sort(key=lambda c: -c.end_ns)  # stable: ties stay in start order
    return root


def _path_of(tree: TraceTree, top: SpanRecord) -> list[PathSegment]:
    top_node = _clipped_tree(tree, top)
    segments: list[PathSegment] = []
    node, until = top_node, top_node.end_ns
    while True:
        child = _last_finishing_child(node, until)
        start = child.end_ns if child is not None else node.start_ns
        if start < until:
            segments.append(PathSegment(node.span_id, start, until))
        if child is not None:
            node, until = child, child.end_ns
        elif node.parent is not None:
            node, until = node.parent, node.start_ns
        else:
            return segments


def _last_finishing_child(node: _Node, until: int) -> _Node | None:
    """The child that finished last at or before ``until`` and started before it.

    ``until`` only decreases between calls for one node, so a child passed over once
    is never a candidate again: the scan resumes where it stopped.
    """
    children, i = node.children, node.next_child
    while i < len(children) and (children[i].end_ns > until or children[i].start_ns >= until):
        i += 1
    node.next_child = i
    return children[i] if i < len(children) else None
