"""TailSampler in-process: whole traces, policy mix, late spans, bounded memory, crash replay."""

from __future__ import annotations

import math
import tracemalloc

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sampling_rig import STANDARD_POLICIES
from sampling_traffic import generate

from traceway.convert.otlp import batch_to_otlp, spans_from_otlp_proto
from traceway.model import SpanBatch
from traceway.pipeline.sampling import POLICY_ATTRIBUTE
from traceway.pipeline.spool import Spool
from traceway.storage.memory import MemoryStore


def _stored(store: MemoryStore) -> dict[bytes, list]:
    return dict(store._traces.items())


def _policy_of(record) -> str:
    values = [kv.value.string_value for kv in Span.FromString(record.detail).attributes
              if kv.key == POLICY_ATTRIBUTE]
    assert len(values) == 1, "every kept span names the policy that kept its trace"
    return values[0]


def test_errors_and_slow_kept_whole_others_at_one_percent_none_partial(rig):
    r = rig()
    traffic = generate(10_000, seed=7)
    for batch in traffic.batches:
        r.send(batch)
    assert r.sampler.held_traces == 10_000
    assert r.decide_all_waiting() == 10_000
    r.flush()
    stored = _stored(r.store)
    for tid in traffic.errors | traffic.slow:
        assert tid in stored, "every error and slow trace is kept"
    for tid, records in stored.items():
        assert len(records) == traffic.spans_per_trace[tid], "no stored trace is partial"
        policies = {_policy_of(rec) for rec in records}
        assert len(policies) == 1
    for tid in traffic.errors:
        assert _policy_of(stored[tid][0]) == "errors"
    ordinary = set(traffic.spans_per_trace) - traffic.errors - traffic.slow
    kept = len(ordinary & set(stored))
    n, p = len(ordinary), 0.01
    sigma = math.sqrt(n * p * (1 - p))
    assert n * p - 4 * sigma <= kept <= n * p + 4 * sigma, f"{kept} of {n} kept"
    assert r.metric("traceway_sampling_traces_total", policy="errors", decision="kept") == len(
        traffic.errors)
    dropped = 10_000 - len(stored)
    assert r.metric("traceway_sampling_traces_total", policy="baseline",
                    decision="dropped") == dropped


def test_late_spans_follow_the_recorded_decision(rig):
    r = rig()
    traffic = generate(300, seed=3, error_rate=0.1)
    for batch in traffic.batches:
        r.send(batch)
    r.decide_all_waiting()
    error_tid = next(iter(traffic.errors))
    dropped_tid = next(t for t in traffic.spans_per_trace
                       if t not in traffic.errors and t not in traffic.slow
                       and not r.sampler._decisions[t])
    late = SpanBatch.concat([_late_span(error_tid, 1), _late_span(dropped_tid, 2)])
    r.send(late)
    assert r.sampler.held_traces == 0, "late spans are not held again"
    r.flush()
    stored = _stored(r.store)
    assert len(stored[error_tid]) == traffic.spans_per_trace[error_tid] + 1
    assert _policy_of(stored[error_tid][-1]) == "errors"
    assert dropped_tid not in stored
    assert r.metric("traceway_sampling_late_spans_total", decision="kept") == 1
    assert r.metric("traceway_sampling_late_spans_total", decision="dropped") == 1


def _late_span(tid: bytes, n: int) -> SpanBatch:
    return SpanBatch([tid], [n.to_bytes(8, "big")], [b""], ["late"], ["late"], [1],
                     [1_700_000_000_000_000_000], [1000], [0], [""], [b""], [b""], [b""])


def _bounded_run(r, spans: int) -> None:
    traffic_traces = spans // 5
    sent = 0
    seed = 0
    while sent < traffic_traces:
        chunk = generate(min(20_000, traffic_traces - sent), seed=seed, requests_per_trace=1)
        seed += 1
        for batch in chunk.batches:
            r.send(batch)
            assert r.sampler.held_traces <= r.config.max_traces
        sent += len(chunk.spans_per_trace)


@pytest.mark.parametrize("spans", [50_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
def test_memory_stays_bounded_by_max_traces(rig, spans):
    r = rig({"decision_wait": "10s", "max_traces": 2000,
             "policy": [{"name": "baseline", "type": "probabilistic", "percent": 1.0}]})
    tracemalloc.start()
    try:
        _bounded_run(r, spans // 10)  # warm up: the held set fills to max_traces
        warm, _ = tracemalloc.get_traced_memory()
        _bounded_run(r, spans)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.sampler.held_traces == 2000
    assert r.sampler.held_spans <= 2000 * 8
    assert r.metric("traceway_sampling_traces_decided_early_total") > spans / 8 - 2000
    # Held memory does not grow with traffic, only with max_traces (+ the decision cache).
    assert after - warm < 64 << 20, f"grew by {(after - warm) >> 20} MiB"


def test_held_bytes_stay_under_max_held_bytes(rig):
    r = rig({"decision_wait": "10s", "max_traces": 1_000_000, "max_held_bytes": "200KiB",
             "policy": [{"name": "all", "type": "always_sample"}]})
    traffic = generate(3_000, seed=21)
    for batch in traffic.batches:
        r.send(batch)
        assert r.sampler.held_bytes <= 200 * 1024
    assert 0 < r.sampler.held_traces < 3_000
    early = r.metric("traceway_sampling_traces_decided_early_total")
    assert early == 3_000 - r.sampler.held_traces
    r.flush()  # decided early, not dropped: every trace ends up whole in the store
    for tid, count in traffic.spans_per_trace.items():
        assert len(r.store.get_trace(tid)) == count


def test_close_decides_every_held_trace_and_empties_the_spool(rig):
    r = rig({"decision_wait": "1h", "policy": STANDARD_POLICIES})
    traffic = generate(300, seed=22, error_rate=0.2)
    for batch in traffic.batches:
        r.send(batch)
    assert r.sampler.held_traces == 300
    r.flush()
    assert r.sampler.held_traces == 0
    for tid in traffic.errors:
        assert len(r.store.get_trace(tid)) == traffic.spans_per_trace[tid]
    assert not list(r.directory.glob("segment-*")), "decided traces leave nothing in the spool"


def test_spool_replays_held_spans_after_a_crash(tmp_path):
    directory = tmp_path / "spool"
    from sampling_rig import Rig

    first = Rig(directory, {"decision_wait": "10s",
                            "policy": [{"name": "all", "type": "always_sample"}]})
    traffic = generate(200, seed=5)
    for batch in traffic.batches:
        first.send(batch)
    # A crash: no close, nothing decided; only the spool's fsynced segments remain.
    first.sampler._spool._closed = True
    second = Rig(directory, {"decision_wait": "10s",
                             "policy": [{"name": "all", "type": "always_sample"}]})
    assert second.sampler.held_traces == 200
    second.decide_all_waiting()
    second.flush()
    stored = _stored(second.store)
    assert {t: len(v) for t, v in stored.items()} == traffic.spans_per_trace
    assert Spool(directory).existing_segments() == [], "decided segments are deleted"


def _as_requests(batches: list[SpanBatch]) -> list[tuple[SpanBatch, bytes]]:
    """Each batch as an OTLP request arrives: the decoded spans and the body."""
    out = []
    for batch in batches:
        decoded = spans_from_otlp_proto(batch_to_otlp(batch).SerializeToString())
        assert decoded.request is not None
        out.append((decoded.batch, decoded.request))
    return out


def test_spool_of_request_bodies_replays_held_spans_after_a_crash(tmp_path):
    directory = tmp_path / "spool"
    from sampling_rig import Rig

    keep_all = {"decision_wait": "10s", "policy": [{"name": "all", "type": "always_sample"}]}
    first = Rig(directory, keep_all)
    traffic = generate(200, seed=6)
    for batch, request in _as_requests(traffic.batches):
        first.send(batch, request)
    first.sampler._spool._closed = True  # a crash: only the fsynced segments remain
    second = Rig(directory, keep_all)
    assert second.sampler.held_traces == 200
    second.decide_all_waiting()
    second.flush()
    assert {t: len(v) for t, v in _stored(second.store).items()} == traffic.spans_per_trace


def test_late_spans_of_a_request_are_not_replayed_after_a_crash(tmp_path):
    """A request mixing a decided (dropped) trace's late span with a new trace's
    span: only the new one is held, and the late one does not come back from the
    spool (the decided trace's first request does: its segment was still open)."""
    directory = tmp_path / "spool"
    from sampling_rig import Rig

    drop_all = {"decision_wait": "10s", "policy": [{"name": "big", "type": "span_count",
                                                     "min_spans": 1000}]}
    first = Rig(directory, drop_all)
    decided = _spans([b"d" * 16], 1)
    first.send(*_as_requests([decided])[0])
    first.decide_all_waiting()
    ((mixed, request),) = _as_requests([SpanBatch.concat([_spans([b"d" * 16], 2),
                                                          _spans([b"n" * 16], 3)])])
    first.send(mixed, request)
    assert first.sampler.held_traces == 1
    first.sampler._spool._closed = True
    second = Rig(directory, {"decision_wait": "10s",
                             "policy": [{"name": "all", "type": "always_sample"}]})
    second.decide_all_waiting()
    second.flush()
    stored = _stored(second.store)
    assert [s.span_id for s in stored[b"d" * 16]] == decided.span_id
    assert len(stored[b"n" * 16]) == 1


def test_spool_ignores_a_torn_tail(tmp_path):
    spool = Spool(tmp_path, segment_age_s=3600)
    spool.start()
    traffic = generate(20, seed=1)
    spool.append(traffic.batches[0], lambda segment: 1).result()
    spool.close()
    path = next(tmp_path.glob("segment-*.spool"))
    path.write_bytes(path.read_bytes() + b"\x10\x00\x00\x00garbage")
    replayed = list(Spool(tmp_path).replay())
    assert [len(b) for _, b in replayed] == [len(traffic.batches[0])]


def test_reconfigure_keeps_held_traces(rig):
    r = rig({"decision_wait": "10s", "policy": [{"name": "none", "type": "span_count",
                                                 "min_spans": 1000}]})
    traffic = generate(50, seed=2)
    for batch in traffic.batches:
        r.send(batch)
    from traceway.pipeline.sampling.settings import parse_tail
    r.sampler.reconfigure(parse_tail({"decision_wait": "10s",
                                      "policy": [{"name": "all", "type": "always_sample"}]}))
    assert r.sampler.held_traces == 50
    r.decide_all_waiting()
    r.flush()
    assert len(_stored(r.store)) == 50



def _spans(tids: list[bytes], first_span: int) -> SpanBatch:
    n = len(tids)
    return SpanBatch(list(tids), [(first_span + i).to_bytes(8, "big") for i in range(n)],
                     [b"p" * 8] * n, ["svc"] * n, ["op"] * n, [1] * n,
                     [1_700_000_000_000_000_000] * n, [1000] * n, [0] * n, [""] * n,
                     [b"x" * 200] * n, [b""] * n, [b""] * n)


def test_long_lived_traces_do_not_pin_the_requests_they_came_in(rig):
    r = rig({"decision_wait": "10s", "policy": [{"name": "all", "type": "always_sample"}]})
    r.sampler.compact_min_spans = 0
    long_lived = [b"L" * 15 + bytes([k]) for k in range(20)]
    for n in range(200):
        short = [n.to_bytes(8, "big") + k.to_bytes(8, "big") for k in range(500)]
        r.send(_spans(long_lived + short, n * 1000))
        r.clock.now += 1.0  # the short traces expire; the long ones keep getting spans
        r.sampler.decide_expired()
        assert r.sampler.pinned_spans <= 4 * r.sampler.held_spans + 520
    assert 20 < r.sampler.held_traces <= 20 + 500 * 10
    r.decide_all_waiting()
    r.flush()
    stored = _stored(r.store)
    assert all(len(stored[tid]) == 200 for tid in long_lived), "compaction keeps traces whole"
