"""TailSampler: the pipeline stage between Ingest and the WriteQueue when tail sampling is on.

``submit(batch)`` has the WriteQueue's contract (a future that resolves once the
spans are durable), so Ingest does not know which stage it feeds:

* spans of traces already decided follow the decision (kept: queued for the
  store; dropped: acknowledged and counted);
* the other spans are added to their held trace in memory and appended to the
  :class:`Spool`; the future resolves when the spool fsynced them.

A decider thread decides traces ``decision_wait`` after their last span and
writes kept traces whole (every span tagged ``traceway.sampling.policy``).
Held traces are kept in arrival order of their latest span, so finding the
expired ones and the oldest (when ``max_traces`` or ``max_held_bytes`` forces an early decision) is
O(1) per trace. Work on the ingest path is one dict lookup per span (grouping
by trace) plus O(1) per trace; nothing is decoded.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent import futures
from concurrent.futures import Future
from itertools import chain
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from traceway.model import SpanBatch
from traceway.pipeline.batcher import QueueClosedError, QueueFullError, WriteQueue
from traceway.pipeline.sampling.policies import (
    Chunk,
    Policy,
    TraceView,
    build_policy,
    decide,
    gather,
    group_facts,
)
from traceway.pipeline.sampling.settings import TailConfig
from traceway.pipeline.spool import Spool
from traceway.telemetry import Telemetry

log = logging.getLogger(__name__)

POLICY_ATTRIBUTE = "traceway.sampling.policy"
COMPACT_MIN_SPANS = 100_000
# Ids, times, names and list slots of a held span beyond its encoded detail, roughly.
SPAN_OVERHEAD_BYTES = 200
_MISSING = object()


def policy_suffix(name: str) -> bytes:
    """Bytes that, appended to a Span's encoding, add the attribute naming ``name``.

    Repeated protobuf fields concatenate, so appending one more ``attributes``
    entry (field 9) to ``detail`` is a valid encoding: no decode needed.
    """
    kv: bytes = KeyValue(key=POLICY_ATTRIBUTE,
                         value=AnyValue(string_value=name)).SerializeToString()
    return b"\x4a" + _varint(len(kv)) + kv


def tune_gc_for_holding() -> None:
    """Fewer young-generation collections while traces are held.

    Held traces are many long-lived small containers; with the default gen-0
    threshold (700) collections run every few requests and cost ~0.7 µs a span
    (bench/tail_sampling.py). The server calls this when tail sampling is on.
    """
    gc.set_threshold(max(gc.get_threshold()[0], 20_000), 20, 10)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class _Held:
    __slots__ = ("bytes", "chunks", "end_ns", "first_seen", "last_seen", "segments", "spans",
                 "start_ns", "status_mask")

    def __init__(self, now: float, chunk: Chunk, spans: int, size: int, start_ns: int,
                 end_ns: int, status_mask: int, segment: int) -> None:
        self.chunks: list[Chunk] = [chunk]
        self.spans = spans
        self.bytes = size
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.status_mask = status_mask
        self.first_seen = now
        self.last_seen = now
        self.segments: list[int] = [segment]  # ascending: segment ids only grow


def by_trace(batch: SpanBatch) -> dict[bytes, list[int]]:
    """The indices of ``batch``'s spans, by trace id in first-seen order."""
    groups: dict[bytes, list[int]] = {}
    for i, tid in enumerate(batch.trace_id):
        groups.setdefault(tid, []).append(i)
    return groups


def all_of(futures: list[Future[None]]) -> Future[None]:
    """A future that resolves when every one of ``futures`` has, failing if any failed."""
    if len(futures) == 1:
        return futures[0]
    out: Future[None] = Future()
    left = [len(futures)]
    lock = threading.Lock()

    def done(_: Future[None]) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            out.set_exception(errors[0])
        else:
            out.set_result(None)

    for future in futures:
        future.add_done_callback(done)
    return out


class TailSampler:
    def __init__(self, queue: WriteQueue, spool: Spool, config: TailConfig,
                 telemetry: Telemetry, clock: Callable[[], float] = time.monotonic) -> None:
        self._queue = queue
        self._spool = spool
        self._telemetry = telemetry
        self._clock = clock
        self._lock = threading.Lock()
        self._held: OrderedDict[bytes, _Held] = OrderedDict()
        self._held_spans = 0
        self._held_bytes = 0
        self._in_flight: set[Future[None]] = set()  # kept traces on their way to the store
        # Held traces point into the batches their spans came in. A batch stays
        # in memory while any of its groups is held, so a few long-lived traces
        # could pin many big requests: id(batch) -> [batch, groups held, groups].
        self._pinned: dict[int, list[Any]] = {}
        self._pinned_spans = 0
        self.compact_min_spans = COMPACT_MIN_SPANS
        self._decisions: OrderedDict[bytes, str | None] = OrderedDict()
        self._unwritten: list[tuple[SpanBatch, list[list[int]]]] = []  # kept, queue was full
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconfigure(config)

    def reconfigure(self, config: TailConfig) -> None:
        """Swap policies and limits; held traces stay held and are decided by the new policies."""
        policies: list[Policy] = [build_policy(p) for p in config.policies]
        suffixes = {p.name: policy_suffix(p.name) for p in config.policies}
        with self._lock:
            self.config = config
            self._policies = policies
            self._suffixes = suffixes

    # -- start-up --------------------------------------------------------------
    def replay(self) -> int:
        """Hold again every span the spool kept from the last run; returns the span count."""
        count = 0
        with self._lock:
            for segment, batch in self._spool.replay():
                added = self._hold(batch, segment)
                self._spool.hold(segment, added)
                count += len(batch)
                self._evict_over_limit()  # a spool from a larger max_traces
        self._spool.replay_done()
        self._update_gauges()
        return count

    def start(self, decider: bool = True) -> None:
        """Start the spool writer and (unless a test drives ``decide_expired``) the decider."""
        self._spool.start()
        if decider:
            self._thread = threading.Thread(target=self._run, name="traceway-tail-sampler",
                                            daemon=True)
            self._thread.start()

    # -- the ingest path -------------------------------------------------------
    def submit(self, batch: SpanBatch, request: bytes | None = None) -> Future[None]:
        """Accept ``batch``; the future resolves once every span is durable (spool or store).

        ``request`` is the OTLP body ``batch`` is every span of: the spool keeps it
        unless some spans follow earlier decisions (then it keeps the rest's columns)."""
        futures: list[Future[None]] = []
        with self._lock:
            groups = by_trace(batch)
            decisions = self._decisions
            late = {tid: idx for tid, idx in groups.items() if tid in decisions} if decisions else {}
            if late:
                kept, undecided = self._follow_decisions(batch, late)
                if kept is not None:
                    futures.append(self._queue.submit(kept))  # may raise QueueFullError: nothing changed
                batch, request = undecided, None
                groups = by_trace(batch)
            if len(batch):
                held, held_groups = batch, groups
                futures.append(self._spool.append(
                    held, lambda segment: self._hold(held, segment, held_groups), request))
                self._evict_over_limit()
        self._update_gauges()
        if not futures:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        return all_of(futures)

    def _follow_decisions(self, batch: SpanBatch, late: dict[bytes, list[int]]
                          ) -> tuple[SpanBatch | None, SpanBatch]:
        t = self._telemetry
        keep: list[int] = []
        suffixes: list[bytes] = []
        for tid, idx in late.items():
            policy = self._decisions[tid]
            if policy is None:
                t.sampling_late_spans.labels("dropped").inc(len(idx))
                continue
            t.sampling_late_spans.labels("kept").inc(len(idx))
            keep.extend(idx)
            suffixes.extend([self._suffix(policy)] * len(idx))
        kept = None
        if keep:
            kept = batch.take(keep)
            kept.detail = [d + s for d, s in zip(kept.detail, suffixes)]
        skip = {i for idx in late.values() for i in idx}
        undecided = batch.take(i for i in range(len(batch)) if i not in skip)
        return kept, undecided

    def _suffix(self, policy: str) -> bytes:
        suffix = self._suffixes.get(policy)
        if suffix is None:  # a policy renamed by a reload
            suffix = self._suffixes[policy] = policy_suffix(policy)
        return suffix

    def _hold(self, batch: SpanBatch, segment: int,
              groups: dict[bytes, list[int]] | None = None) -> int:
        """Add ``batch`` (its spans ``groups``ed by trace) to its held traces;
        returns how many traces newly touch ``segment``."""
        if groups is None:
            groups = by_trace(batch)
        now = self._clock()
        held = self._held
        added = 0
        span_bytes = sum(map(len, batch.detail)) / max(1, len(batch)) + SPAN_OVERHEAD_BYTES
        starts, ends, masks = group_facts(batch, groups)
        for (tid, idx), start, end, mask in zip(groups.items(), starts, ends, masks):
            spans = len(idx)
            trace = held.get(tid)
            if trace is None:  # a new trace, built in one call
                held[tid] = _Held(now, (batch, idx), spans, round(span_bytes * spans), start, end,
                                  mask, segment)
                added += 1
                continue
            held.move_to_end(tid)
            trace.last_seen = now
            if start < trace.start_ns:
                trace.start_ns = start
            if end > trace.end_ns:
                trace.end_ns = end
            trace.status_mask |= mask
            trace.chunks.append((batch, idx))
            trace.spans += spans
            trace.bytes += round(span_bytes * spans)
            if trace.segments[-1] != segment:
                trace.segments.append(segment)
                added += 1
        self._held_spans += len(batch)
        self._held_bytes += round(span_bytes * len(batch))
        self._pinned[id(batch)] = [batch, len(groups), len(groups)]
        self._pinned_spans += len(batch)
        return added

    def _evict_over_limit(self) -> None:
        """Decide the oldest traces now while more than ``max_traces`` traces or
        ``max_held_bytes`` of spans are held."""
        held, config = self._held, self.config
        early = []
        held_bytes = self._held_bytes
        while held and (len(held) > config.max_traces or held_bytes > config.max_held_bytes):
            tid, trace = held.popitem(last=False)
            held_bytes -= trace.bytes
            early.append((tid, trace))
        if early:
            self._telemetry.sampling_decided_early.inc(len(early))
            self._decide(early)

    # -- decisions -------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            wait_s = self.config.decision_wait_ns / 1e9
            self._stop.wait(min(0.2, max(0.005, wait_s / 10)))
            self.decide_expired()

    def decide_expired(self, everything: bool = False) -> int:
        """Decide every trace idle for ``decision_wait`` (or all); returns how many."""
        with self._lock:
            deadline = self._clock() - self.config.decision_wait_ns / 1e9
            expired = []
            held = self._held
            while held:
                tid, trace = held.popitem(last=False)
                if not everything and trace.last_seen > deadline:
                    held[tid] = trace  # not yet: put it back in front
                    held.move_to_end(tid, last=False)
                    break
                expired.append((tid, trace))
            if expired:
                self._decide(expired)
            if self._pinned_spans > 4 * self._held_spans + self.compact_min_spans:
                self._compact()
            self._retry_unwritten()
        self._update_gauges()
        return len(expired)

    def _decide(self, traces: list[tuple[bytes, _Held]]) -> None:
        now = self._clock()
        policies = self._policies
        decisions = self._decisions
        kept_chunks: list[Chunk] = []
        kept_suffixes: list[bytes] = []  # one per chunk
        kept_segments: list[list[int]] = []
        released: list[int] = []
        kept: dict[str, list[int]] = {}  # policy -> [traces, spans]
        dropped = [0, 0]
        latencies = []
        self._unpin(chain.from_iterable(trace.chunks for _, trace in traces))
        self._held_spans -= sum(trace.spans for _, trace in traces)
        self._held_bytes -= sum(trace.bytes for _, trace in traces)
        for n, (tid, trace) in enumerate(traces):
            policy = decide(policies, TraceView(tid, trace.chunks, trace.spans, trace.start_ns,
                                                trace.end_ns, trace.status_mask), now)
            decisions[tid] = policy
            if policy is None:
                dropped[0] += 1
                dropped[1] += trace.spans
                released += trace.segments
                if n % 8 == 0:  # a sample: a Histogram.observe per trace costs ~0.3 µs a span
                    latencies.append(now - trace.first_seen)
                continue
            latencies.append(now - trace.first_seen)
            counts = kept.setdefault(policy, [0, 0])
            counts[0] += 1
            counts[1] += trace.spans
            kept_chunks += trace.chunks
            kept_suffixes += [self._suffix(policy)] * len(trace.chunks)
            kept_segments.append(trace.segments)
        for _ in range(len(decisions) - self.config.decision_cache_size):
            decisions.popitem(last=False)  # the oldest decisions
        self._count(kept, dropped, latencies)
        if released:
            self._spool.release(released)
        if kept_chunks:
            self._write(gather(kept_chunks, kept_suffixes), kept_segments)

    def _count(self, kept: dict[str, list[int]], dropped: list[int], latencies: list[float]) -> None:
        t = self._telemetry
        for policy, (traces, spans) in kept.items():
            t.sampling_traces.labels(policy, "kept").inc(traces)
            t.sampling_spans.labels(policy, "kept").inc(spans)
        if dropped[0]:
            for p in self._policies:  # none of them kept these
                t.sampling_traces.labels(p.name, "dropped").inc(dropped[0])
                t.sampling_spans.labels(p.name, "dropped").inc(dropped[1])
        for latency in latencies:
            t.sampling_decision_seconds.observe(latency)

    def _unpin(self, chunks: Iterable[Chunk]) -> None:
        pinned = self._pinned
        for batch, _ in chunks:
            entry = pinned[id(batch)]
            entry[1] -= 1
            if not entry[1]:
                del pinned[id(batch)]
                self._pinned_spans -= len(batch)

    def _compact(self) -> None:
        """Copy out the held spans of mostly-decided batches so those batches can go."""
        wasteful = {key for key, (_, live, groups) in self._pinned.items() if live * 4 < groups}
        for trace in self._held.values():
            if not any(id(batch) in wasteful for batch, _ in trace.chunks):
                continue
            self._unpin(trace.chunks)
            own = gather(trace.chunks)
            trace.chunks = [(own, list(range(len(own))))]
            self._pinned[id(own)] = [own, 1, 1]
            self._pinned_spans += len(own)

    @property
    def pinned_spans(self) -> int:
        """Spans kept in memory for held traces, including their batches' decided spans."""
        return self._pinned_spans

    def _write(self, batch: SpanBatch, segments: list[list[int]]) -> None:
        try:
            future = self._queue.submit(batch)
        except QueueFullError:
            self._unwritten.append((batch, segments))  # the decider retries; the spool keeps them
            return
        except QueueClosedError:
            return  # stopping: the spool keeps them for the next start
        spool = self._spool
        in_flight = self._in_flight
        in_flight.add(future)

        def written(f: Future[None]) -> None:
            in_flight.discard(f)
            if f.exception() is None:
                spool.release(s for trace_segments in segments for s in trace_segments)

        future.add_done_callback(written)

    def _retry_unwritten(self) -> None:
        waiting, self._unwritten = self._unwritten, []
        for batch, segments in waiting:
            self._write(batch, segments)

    def _update_gauges(self) -> None:
        self._telemetry.sampling_held_traces.set(len(self._held))
        self._telemetry.sampling_held_spans.set(self._held_spans)

    @property
    def held_traces(self) -> int:
        return len(self._held)

    @property
    def held_spans(self) -> int:
        return self._held_spans

    @property
    def held_bytes(self) -> int:
        """Encoded bytes of the held spans (as counted against ``max_held_bytes``)."""
        return self._held_bytes

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop: decide every held trace now and write the kept ones to the store.

        Call it before the WriteQueue closes. Once the kept traces are stored,
        their spool segments go; whatever cannot be written within ``timeout_s``
        (a full queue that does not drain) stays in the spool for the next start.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            early = list(self._held.items())
            self._held.clear()
            if early:
                self._telemetry.sampling_decided_early.inc(len(early))
                log.info("tail sampling: deciding %d held traces now, at shutdown", len(early))
                self._decide(early)
        deadline = time.monotonic() + timeout_s
        while self._unwritten and time.monotonic() < deadline:
            time.sleep(0.05)
            with self._lock:
                self._retry_unwritten()
        futures.wait(list(self._in_flight), max(0.0, deadline - time.monotonic()))
        self._update_gauges()
        self._spool.close()
