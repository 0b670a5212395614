"""One trace as a tree: spans by id, children by parent, roots and orphans. Pure.

Every analysis that walks a trace starts here, so "root", "orphan" and the order of
children mean the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from traceway.model import SpanBatch, SpanRecord


@dataclass(slots=True)
class TraceTree:
    """The spans of one trace, indexed.

    ``roots`` are spans without a parent id; ``orphans`` have a parent id that is not in
    the trace (a lost parent, or one not arrived yet). Both are in start order, and so
    is each ``children`` list. A span id that occurs twice keeps its first record.
    """

    spans: dict[bytes, SpanRecord] = field(default_factory=dict)
    children: dict[bytes, list[SpanRecord]] = field(default_factory=dict)
    roots: list[SpanRecord] = field(default_factory=list)
    orphans: list[SpanRecord] = field(default_factory=list)

    @classmethod
    def of(cls, batch: SpanBatch) -> TraceTree:
        tree = cls()
        records = sorted(batch.rows(), key=lambda r: (r.start_ns, -r.duration_ns))
        for record in records:
            tree.spans.setdefault(record.span_id, record)
        for record in tree.spans.values():
            parent = record.parent_span_id
            if not parent:
                tree.roots.append(record)
            elif parent in tree.spans and parent != record.span_id:
                tree.children.setdefault(parent, []).append(record)
            else:
                tree.orphans.append(record)
        return tree

    def children_of(self, span_id: bytes) -> list[SpanRecord]:
        return self.children.get(span_id, [])

    def tops(self) -> list[SpanRecord]:
        """Spans with no parent in the trace (roots, then orphans), in start order."""
        return sorted(self.roots + self.orphans, key=lambda r: (r.start_ns, -r.duration_ns))

    def root(self) -> SpanRecord | None:
        """The span the trace is named after: the earliest without a parent id, else the
        earliest top span; None for an empty trace."""
        return self.roots[0] if self.roots else (self.orphans[0] if self.orphans else None)

    def walk(self) -> Iterator[tuple[int, SpanRecord]]:
        """Depth-first from each top span, children in start order: (depth, span)."""
        stack = [(0, span) for span in reversed(self.tops())]
        seen: set[bytes] = set()
        while stack:
            depth, span = stack.pop()
            if span.span_id in seen:  # a cycle of parent ids in hostile data
                continue
            seen.add(span.span_id)
            yield depth, span
            stack.extend((depth + 1, child) for child in reversed(self.children_of(span.span_id)))
