"""Traceway's own metrics, exposed as Prometheus text on ``/metrics``.

One ``Telemetry`` per server (its own registry), so several servers can run
in one process (tests) without clashing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

CONTENT_TYPE = CONTENT_TYPE_LATEST

# (sample name, labels, value) of a counter, as a receiver worker reports it.
CounterSample = tuple[str, dict[str, str], float]

# The *_created series only add noise to scrapes.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.spans_received = Counter(
            "traceway_spans_received", "Spans received, valid or not.", ["protocol"], registry=r)
        self.spans_accepted = Counter(
            "traceway_spans_accepted", "Spans committed to the store.", ["protocol"], registry=r)
        self.spans_rejected = Counter(
            "traceway_spans_rejected", "Invalid spans refused at ingest (bad ids, enums, times).", ["protocol"], registry=r)
        self.spans_dropped = Counter(
            "traceway_spans_dropped",
            "Valid spans not stored: queue full or write failure (the sender was told).",
            ["protocol", "reason"], registry=r)
        self.spans_quarantined = Counter(
            "traceway_spans_quarantined", "Acknowledged spans the store refused, set aside in "
            "<data dir>/quarantine/ instead of failing their group commit.", ["reason"],
            registry=r)
        self.spool_records_quarantined = Counter(
            "traceway_spool_records_quarantined", "Spool records that could not be decoded "
            "at start-up, copied to <data dir>/quarantine/ (the replay goes on).", registry=r)
        self.requests = Counter(
            "traceway_requests", "Export requests by outcome.", ["protocol", "outcome"], registry=r)
        self.unauthenticated = Counter(
            "traceway_unauthenticated_requests", "Requests refused for a missing or wrong "
            "bearer token, by the side whose token was needed (ingest, query).", ["side"],
            registry=r)
        self.queue_spans = Gauge(
            "traceway_queue_spans", "Spans waiting to be written.", registry=r)
        self.queue_bytes = Gauge(
            "traceway_queue_bytes", "Approximate bytes of spans waiting to be written.", registry=r)
        self.write_batch_spans = Histogram(
            "traceway_write_batch_spans", "Spans per store write (group commit).", registry=r,
            buckets=(1, 10, 100, 512, 1000, 2500, 5000, 10000, 20000, 50000, 122880))
        self.write_seconds = Histogram(
            "traceway_write_duration_seconds", "Latency of one store write.", registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.write_path_healthy = Gauge(
            "traceway_write_path_healthy", "1 while this part of the write path works, 0 "
            "while it fails (last store write failed; spool cannot write or open a segment). "
            "GET /ready says why.", ["component"], registry=r)
        self.store_bytes = Gauge(
            "traceway_store_size_bytes", "Size of the store on disk.", registry=r)
        self.retention_deleted = Counter(
            "traceway_retention_deleted_spans", "Spans deleted by retention.", registry=r)

        self.sampling_traces = Counter(
            "traceway_sampling_traces", "Traces decided by tail sampling: kept by the named "
            "policy, or dropped (counted for every policy, as none kept it).",
            ["policy", "decision"], registry=r)
        self.sampling_spans = Counter(
            "traceway_sampling_spans", "Spans of the traces in traceway_sampling_traces.",
            ["policy", "decision"], registry=r)
        self.sampling_late_spans = Counter(
            "traceway_sampling_late_spans", "Spans arriving after their trace was decided; "
            "they follow the decision.", ["decision"], registry=r)
        self.sampling_decided_early = Counter(
            "traceway_sampling_traces_decided_early",
            "Traces decided before decision_wait because max_traces was reached.", registry=r)
        self.sampling_decision_seconds = Histogram(
            "traceway_sampling_decision_seconds",
            "From a trace's first span to its decision (every kept trace, 1 in 8 dropped ones).",
            registry=r,
            buckets=(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120))
        self.sampling_held_traces = Gauge(
            "traceway_sampling_held_traces", "Traces waiting for a sampling decision.", registry=r)
        self.sampling_held_spans = Gauge(
            "traceway_sampling_held_spans", "Spans waiting for a sampling decision.", registry=r)
        self.spans_from_workers = Counter(
            "traceway_spans_from_workers", "Spans receiver workers (--workers) accepted that "
            "this process read from their spools and stored (or handed to tail sampling).",
            registry=r)
        self.receiver_workers = Gauge(
            "traceway_receiver_workers", "Receiver worker processes (--workers N runs N-1) "
            "receiving now.", registry=r)
        self._counter_sources: list[Callable[[], Iterable[CounterSample]]] = []
        self.config_reloads = Counter(
            "traceway_config_reloads", "Config file reloads (SIGHUP) by outcome.", ["outcome"],
            registry=r)

    def watch_write_path(self, store_ok: Callable[[], bool], spool_ok: Callable[[], bool]) -> None:
        """1 while the part works; 0 while it fails (the server answers 503 then)."""
        self.write_path_healthy.labels("store").set_function(lambda: float(store_ok()))
        self.write_path_healthy.labels("spool").set_function(lambda: float(spool_ok()))

    def count_unauthenticated(self, side: str) -> None:
        self.unauthenticated.labels(side).inc()

    def watch_store_size(self, size: Callable[[], int]) -> None:
        self.store_bytes.set_function(size)

    def counter_samples(self) -> list[CounterSample]:
        """Every counter's value now (what a receiver worker hands to the main process)."""
        return [(sample.name, sample.labels, sample.value) for family in self.registry.collect()
                if family.type == "counter" for sample in family.samples]

    def add_counters_from(self, source: Callable[[], Iterable[CounterSample]]) -> None:
        """Add ``source``'s counter values to this registry's in ``render`` (receiver
        workers count the requests they answer; /metrics shows the sum)."""
        self._counter_sources.append(source)

    def render(self) -> bytes:
        if not self._counter_sources:
            return generate_latest(self.registry)
        extra: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for source in self._counter_sources:
            for name, labels, value in source():
                key = (name, tuple(sorted(labels.items())))
                extra[key] = extra.get(key, 0.0) + value
        return generate_latest(_Summed(self.registry, extra))


class _Summed:
    """A registry's metrics with ``extra`` counter values added (a collector-like view)."""

    def __init__(self, registry: CollectorRegistry,
                 extra: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> None:
        self._registry = registry
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        extra = dict(self._extra)
        for family in self._registry.collect():
            if family.type == "counter":
                samples: list[Any] = []
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    samples.append(sample._replace(value=sample.value + extra.pop(key, 0.0)))
                for key in [key for key in extra if key[0] == family.name + "_total"]:
                    samples.append(Sample(key[0], dict(key[1]), extra.pop(key)))
                family.samples = samples
            yield family
