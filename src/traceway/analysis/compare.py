"""Compare traces as trees of (service, operation): what only one has, and by how much
counts and latencies differ where both have it. Pure.

A trace's *shape* maps each path of (service, operation) pairs from a top span down
to how many spans sit there and their mean duration. Two shapes compare path by path;
the *typical* shape of several traces (say, all of one endpoint's traces in the last
hour) takes, for each path, the median count over the traces (0 where absent) and the
median of the traces' mean durations, keeping the paths whose median count is not 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from traceway.analysis.tree import TraceTree
from traceway.model import SpanBatch, StatusCode

Step = tuple[str, str]  # (service, operation)
Path = tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class NodeStats:
    count: float  # spans on this path (a median for a typical shape)
    duration_ns: float  # their mean duration (a median of means for a typical shape)
    errors: float = 0


Shape = dict[Path, NodeStats]  # in depth-first order of first appearance


@dataclass(frozen=True, slots=True)
class DiffRow:
    path: Path
    a: NodeStats | None
    b: NodeStats | None

    @property
    def status(self) -> str:
        return "both" if self.a and self.b else "onlyA" if self.a else "onlyB"


def trace_shape(batch: SpanBatch) -> Shape:
    tree = TraceTree.of(batch)
    paths: dict[bytes, Path] = {}
    sums: dict[Path, list[int]] = {}  # count, total duration, errors
    for _, span in tree.walk():
        path = paths.get(span.parent_span_id, ()) + ((span.service, span.name),)
        paths[span.span_id] = path
        entry = sums.setdefault(path, [0, 0, 0])
        entry[0] += 1
        entry[1] += span.duration_ns
        entry[2] += span.status_code == StatusCode.ERROR
    return {path: NodeStats(count, total / count, errors)
            for path, (count, total, errors) in sums.items()}


def typical_shape(shapes: list[Shape]) -> Shape:
    """The median shape of ``shapes`` (see the module docstring); empty for no shapes."""
    order: dict[Path, None] = {}
    for shape in shapes:
        order.update(dict.fromkeys(shape))
    typical: Shape = {}
    for path in order:
        present = [shape[path] for shape in shapes if path in shape]
        count = median([s.count for s in present] + [0] * (len(shapes) - len(present)))
        if count:
            typical[path] = NodeStats(count, median(s.duration_ns for s in present),
                                      median([s.errors for s in present]
                                             + [0] * (len(shapes) - len(present))))
    return typical


def compare_shapes(a: Shape, b: Shape) -> list[DiffRow]:
    """Every path of either shape, as a tree in depth-first order: each path follows its
    parent, siblings in order of first appearance (``a``'s first)."""
    children: dict[Path, list[Path]] = {}
    for path in {**dict.fromkeys(a), **dict.fromkeys(b)}:
        children.setdefault(path[:-1], []).append(path)
    rows: list[DiffRow] = []
    stack = list(reversed(children.get((), [])))
    while stack:
        path = stack.pop()
        rows.append(DiffRow(path, a.get(path), b.get(path)))
        stack.extend(reversed(children.get(path, [])))
    return rows
