from traceway.analysis.tree import TraceTree
from traceway.model import SpanBatch
from traceway.storage.testspans import make_span


def _batch(*records):
    return SpanBatch.from_rows(records)


def test_roots_orphans_and_children_in_start_order():
    batch = _batch(
        make_span(1, 3, parent=1, start_ns=30),
        make_span(1, 1, start_ns=0, duration_ns=100),
        make_span(1, 2, parent=1, start_ns=10),
        make_span(1, 4, parent=99, start_ns=5),  # its parent never arrived
    )
    tree = TraceTree.of(batch)
    assert [r.span_id[-1] for r in tree.roots] == [1]
    assert [r.span_id[-1] for r in tree.orphans] == [4]
    assert [r.span_id[-1] for r in tree.children_of(tree.roots[0].span_id)] == [2, 3]
    assert [(d, r.span_id[-1]) for d, r in tree.walk()] == [(0, 1), (1, 2), (1, 3), (0, 4)]


def test_duplicate_span_ids_and_self_parent_do_not_loop():
    batch = _batch(make_span(1, 1, start_ns=0), make_span(1, 1, start_ns=0),
                   make_span(1, 2, parent=2, start_ns=1))
    tree = TraceTree.of(batch)
    assert len(tree.spans) == 2
    assert [r.span_id[-1] for _, r in tree.walk()] == [1, 2]
