"""Tail-sampling policies: each looks at one whole trace and says keep or not.

A trace is held as chunks ``(batch, indices)`` of the batches its spans arrived
in, so nothing is copied per span until a trace is kept. :class:`TraceView`
computes what policies ask (status, duration, root operation, attributes)
lazily and once, so the common cheap policies never decode a span's protobuf.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import fields
from itertools import chain
from operator import add, itemgetter
from typing import Any, Protocol

import numpy as np

from traceway.model import SpanBatch, SpanRecord
from traceway.pipeline.sampling.settings import STATUS_CODES, PolicyConfig
from traceway.storage.tagmatch import span_tag_pairs

Chunk = tuple[SpanBatch, list[int]]
COLUMNS = [f.name for f in fields(SpanBatch)]


def pick(column: list[Any], idx: list[int]) -> list[Any]:
    """``[column[i] for i in idx]``, with the loop in C."""
    if len(idx) == 1:
        return [column[idx[0]]]
    return list(itemgetter(*idx)(column))


def gather(chunks: list[Chunk], suffixes: list[bytes] | None = None) -> SpanBatch:
    """One batch of every span in ``chunks`` (the chunks of one batch hold distinct
    indices, as held traces do); ``suffixes``, one per chunk, are appended to the
    ``detail`` of its spans.

    The spans of one batch come together: in the batch's own order when every one
    of them is there (its columns are copied whole), else in chunk order, picked
    once per column. Picking chunk by chunk cost ~1 µs a span for traces of 8."""
    by_batch: dict[int, tuple[SpanBatch, list[int]]] = {}  # batch, its chunks' numbers
    for k, (batch, _) in enumerate(chunks):
        by_batch.setdefault(id(batch), (batch, []))[1].append(k)
    out = SpanBatch()
    for batch, ks in by_batch.values():
        count = sum(len(chunks[k][1]) for k in ks)
        order: list[int] | None = None  # None: the whole batch as it is
        if count != len(batch):
            order = chunks[ks[0]][1] if len(ks) == 1 else list(
                chain.from_iterable(chunks[k][1] for k in ks))
        for name in COLUMNS:
            column = getattr(batch, name)
            getattr(out, name).extend(column if order is None else pick(column, order))
        if suffixes is not None:
            _append_suffixes(out.detail, len(out.detail) - count, chunks, ks, suffixes,
                             whole=order is None)
    return out


def _append_suffixes(detail: list[bytes], first: int, chunks: list[Chunk], ks: list[int],
                     suffixes: list[bytes], whole: bool) -> None:
    """Append ``suffixes[k]`` to the spans of chunks ``ks``, gathered into
    ``detail[first:]`` (in their batch's order if ``whole``, else chunk order)."""
    if len({suffixes[k] for k in ks}) == 1:
        suffix = suffixes[ks[0]]
        detail[first:] = [d + suffix for d in detail[first:]]
        return
    per_span: list[bytes] = []
    if whole:
        per_span = [b""] * (len(detail) - first)
        for k in ks:
            suffix = suffixes[k]
            for i in chunks[k][1]:
                per_span[i] = suffix
    else:
        for k in ks:
            per_span += [suffixes[k]] * len(chunks[k][1])
    detail[first:] = list(map(add, detail[first:], per_span))


def group_facts(batch: SpanBatch, groups: dict[bytes, list[int]]
                ) -> tuple[list[int], list[int], list[int]]:
    """Per group of ``batch`` (in ``groups`` order): earliest start, latest end, and
    a bitmask of the status codes present. numpy's reduceat does the per-span
    work in C, so holding a trace costs O(1) Python operations per group."""
    count = len(groups)
    order = np.fromiter(chain.from_iterable(groups.values()), dtype=np.int64, count=len(batch))
    offsets = np.zeros(count, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, groups.values()), dtype=np.int64, count=count)[:-1],
              out=offsets[1:])
    starts = np.array(batch.start_ns, dtype=np.int64)[order]
    ends = starts + np.array(batch.duration_ns, dtype=np.int64)[order]
    codes = np.left_shift(1, np.minimum(np.array(batch.status_code, dtype=np.int64), 62))[order]
    return (np.minimum.reduceat(starts, offsets).tolist(),
            np.maximum.reduceat(ends, offsets).tolist(),
            np.bitwise_or.reduceat(codes, offsets).tolist())


class TraceView:
    """Facts about one held trace. Start, end and status codes are kept up to date
    while the trace is held; the rest is computed on first use."""

    __slots__ = ("_root", "_tags", "chunks", "end_ns", "span_count", "start_ns",
                 "status_mask", "trace_id")

    def __init__(self, trace_id: bytes, chunks: list[Chunk], spans: int, start_ns: int,
                 end_ns: int, status_mask: int) -> None:
        self.trace_id = trace_id
        self.chunks = chunks
        self.span_count = spans
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.status_mask = status_mask  # bit c set: a span has status code c
        self._root: tuple[str, str] | None = None
        self._tags: dict[str, set[str]] | None = None

    @classmethod
    def of(cls, trace_id: bytes, chunks: list[Chunk]) -> TraceView:
        """A view computing every fact from ``chunks`` (tests, small tools)."""
        batch = gather(chunks)
        return cls(trace_id, chunks, len(batch), min(batch.start_ns),
                   max(s + d for s, d in zip(batch.start_ns, batch.duration_ns)),
                   sum(1 << c for c in set(batch.status_code)))

    @property
    def duration_ns(self) -> int:
        """From the earliest start to the latest end of any span."""
        return self.end_ns - self.start_ns

    @property
    def root(self) -> tuple[str, str]:
        """(service, operation) of the root span, else of the earliest span."""
        if self._root is None:
            best: tuple[int, str, str] | None = None
            for batch, idx in self.chunks:
                for i in idx:
                    if not batch.parent_span_id[i]:
                        self._root = batch.service[i], batch.name[i]
                        return self._root
                    if best is None or batch.start_ns[i] < best[0]:
                        best = (batch.start_ns[i], batch.service[i], batch.name[i])
            self._root = (best[1], best[2]) if best else ("", "")
        return self._root

    def records(self) -> Iterator[SpanRecord]:
        return gather(self.chunks).rows()

    @property
    def tag_values(self) -> dict[str, set[str]]:
        """Every (key -> string values) of every span, resource attributes included."""
        if self._tags is None:
            out: dict[str, set[str]] = {}
            for record in self.records():
                for key, value in span_tag_pairs(record):
                    out.setdefault(key, set()).add(value)
            self._tags = out
        return self._tags


class Policy(Protocol):
    name: str

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        """True to keep the whole trace. May update internal state (rates, learning)."""
        ...


class AlwaysSample:
    def __init__(self, config: PolicyConfig) -> None:
        self.name = config.name

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        return True


class StatusCode:
    def __init__(self, config: PolicyConfig) -> None:
        self.name = config.name
        self.mask = sum(1 << STATUS_CODES[c] for c in set(config.options["status_codes"]))

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        return bool(trace.status_mask & self.mask)


class Latency:
    """Keep traces longer than a threshold, or than the learned per-operation percentile.

    Learning keeps the last ``learn_window`` durations of each root operation;
    until ``learn_min_traces`` were seen the fixed ``threshold`` (if any) applies.
    """

    def __init__(self, config: PolicyConfig) -> None:
        o = config.options
        self.name = config.name
        self.threshold_ns: int | None = o.get("threshold_ns")
        self.upper_ns: int | None = o.get("upper_threshold_ns")
        self.percentile: float | None = o.get("learn_percentile")
        self.window = int(o.get("learn_window", 1000))
        self.min_traces = int(o.get("learn_min_traces", 100))
        self._recent: dict[tuple[str, str], deque[int]] = {}
        self._sorted: dict[tuple[str, str], list[int]] = {}

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        duration = trace.duration_ns
        if self.upper_ns is not None and duration > self.upper_ns:
            return False
        threshold = self.threshold_ns
        if self.percentile is not None:
            learned = self._learn(trace.root, duration)
            if learned is not None:
                threshold = learned if threshold is None else max(threshold, learned)
        return threshold is not None and duration >= threshold

    def _learn(self, operation: tuple[str, str], duration: int) -> int | None:
        recent = self._recent.setdefault(operation, deque())
        ordered = self._sorted.setdefault(operation, [])
        learned = None
        if len(ordered) >= self.min_traces:
            assert self.percentile is not None
            learned = ordered[min(len(ordered) - 1, int(len(ordered) * self.percentile / 100))]
        recent.append(duration)
        bisect.insort(ordered, duration)
        if len(recent) > self.window:
            del ordered[bisect.bisect_left(ordered, recent.popleft())]
        return learned


class Probabilistic:
    """Decided by the trace id alone, so every collector decides the same way."""

    def __init__(self, config: PolicyConfig) -> None:
        self.name = config.name
        self.bound = int(config.options["percent"] / 100 * (1 << 64))
        salt = config.options.get("hash_salt")
        self.salt = salt.encode() if salt else None

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        tid = trace.trace_id
        if self.salt is not None:
            tid = hashlib.blake2b(self.salt + tid, digest_size=8).digest()
        # The low 64 bits, as OpenTelemetry's TraceIdRatioBased uses them.
        return int.from_bytes(tid[-8:], "big") < self.bound


class TokenBuckets:
    """Per-key token buckets refilled at ``rate`` per second, holding one second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, amount: float, now_s: float) -> bool:
        tokens, at = self._buckets.get(key, (self.rate, now_s))
        tokens = min(self.rate, tokens + (now_s - at) * self.rate)
        if tokens >= amount:
            self._buckets[key] = (tokens - amount, now_s)
            return True
        self._buckets[key] = (tokens, now_s)
        return False


class RateLimiting:
    """At most ``spans_per_second`` spans kept per (root) service."""

    def __init__(self, config: PolicyConfig) -> None:
        self.name = config.name
        self.buckets = TokenBuckets(float(config.options["spans_per_second"]))

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        return self.buckets.take(trace.root[0], trace.span_count, now_s)


class StringAttribute:
    def __init__(self, config: PolicyConfig) -> None:
        o = config.options
        self.name = config.name
        self.key = o["key"]
        self.invert = bool(o.get("invert_match", False))
        self.values = set(o["values"])
        self.patterns = [re.compile(v) for v in o["values"]] if o.get("enabled_regex_matching") else []

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        found = trace.tag_values.get(self.key, set())
        if self.patterns:
            hit = any(p.fullmatch(v) for v in found for p in self.patterns)
        else:
            hit = not self.values.isdisjoint(found)
        return hit != self.invert


class NumericAttribute:
    def __init__(self, config: PolicyConfig) -> None:
        o = config.options
        self.name = config.name
        self.key = o["key"]
        self.low = o.get("min_value", float("-inf"))
        self.high = o.get("max_value", float("inf"))
        self.invert = bool(o.get("invert_match", False))

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        hit = False
        for value in trace.tag_values.get(self.key, ()):
            try:
                number = float(value)
            except ValueError:
                continue
            if self.low <= number <= self.high:
                hit = True
                break
        return hit != self.invert


class SpanCount:
    def __init__(self, config: PolicyConfig) -> None:
        self.name = config.name
        self.low = int(config.options["min_spans"])
        self.high = int(config.options.get("max_spans", 1 << 62))

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        return self.low <= trace.span_count <= self.high


class And:
    def __init__(self, config: PolicyConfig) -> None:
        self.name = config.name
        self.subs = [build_policy(sub) for sub in config.sub_policies]

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        return all(sub.keeps(trace, now_s) for sub in self.subs)


class Composite:
    """Sub-policies in ``policy_order`` share ``max_total_spans_per_second``.

    The first sub-policy that keeps a trace spends from its share (its
    ``rate_allocation`` percent, else an equal split); a trace is kept only if
    that share still has room this second.
    """

    def __init__(self, config: PolicyConfig) -> None:
        o = config.options
        self.name = config.name
        subs = {sub.name: build_policy(sub) for sub in config.sub_policies}
        order = o.get("policy_order") or list(subs)
        self.subs = [subs[name] for name in order if name in subs]
        total = float(o["max_total_spans_per_second"])
        shares = {a["policy"]: a["percent"] for a in o.get("rate_allocation", [])}
        default = 100 / len(self.subs)
        self.buckets = {sub.name: TokenBuckets(max(1.0, total * shares.get(sub.name, default) / 100))
                        for sub in self.subs}

    def keeps(self, trace: TraceView, now_s: float) -> bool:
        for sub in self.subs:
            if sub.keeps(trace, now_s):
                return self.buckets[sub.name].take("", trace.span_count, now_s)
        return False


BUILDERS: dict[str, Callable[[PolicyConfig], Policy]] = {
    "always_sample": AlwaysSample,
    "status_code": StatusCode,
    "latency": Latency,
    "probabilistic": Probabilistic,
    "rate_limiting": RateLimiting,
    "string_attribute": StringAttribute,
    "numeric_attribute": NumericAttribute,
    "span_count": SpanCount,
    "and": And,
    "composite": Composite,
}


def build_policy(config: PolicyConfig) -> Policy:
    return BUILDERS[config.type](config)


def decide(policies: list[Policy], trace: TraceView, now_s: float | None = None) -> str | None:
    """The name of the first policy that keeps ``trace``, or None to drop it."""
    now_s = time.monotonic() if now_s is None else now_s
    for policy in policies:
        if policy.keeps(trace, now_s):
            return policy.name
    return None
