"""Diagnosis: pure functions over spans (``SpanBatch``/``SpanRecord``), served by the query API.

One module per question (critical path, error origin, statistics, comparison, RED metrics,
propagation health, ...). Functions take spans and return plain dataclasses or JSON-ready
values; they never touch storage or HTTP, and each is tested against golden answers on
hand-built traces. ``tree.py`` is the shared view of one trace as parents and children.
"""
