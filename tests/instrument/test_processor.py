"""The span processor never loses a span without counting it, logging and exposing a metric."""

from __future__ import annotations

import logging
import threading

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util._once import Once

from traceway.instrument import BatchSettings, TracewaySpanProcessor
from traceway.instrument.testing import InMemorySpanExporter


class GatedExporter(SpanExporter):
    """Blocks every export until ``gate`` is set, so the queue fills up."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.spans = []

    def export(self, spans):
        self.entered.set()
        self.gate.wait(10)
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.gate.set()


def _provider(processor):
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("t"), provider


def _make_spans(tracer, n):
    for i in range(n):
        with tracer.start_as_current_span(f"s{i}"):
            pass


def test_exports_everything_that_fits(sink):
    from traceway.instrument import OTLPSpanExporter

    processor = TracewaySpanProcessor(OTLPSpanExporter.for_protocol("http/protobuf", sink.endpoint), BatchSettings(max_export_batch_size=64))
    tracer, provider = _provider(processor)
    _make_spans(tracer, 1000)
    assert provider.force_flush(10_000)
    assert sink.span_count == 1000
    assert processor.stats.snapshot()["exported"] == 1000
    assert processor.stats.dropped == 0
    provider.shutdown()


def test_full_queue_in_drop_mode_counts_logs_and_reports(caplog):
    exporter = GatedExporter()
    settings = BatchSettings(max_queue_size=10, max_export_batch_size=5, on_full="drop", schedule_delay_s=0.01)
    processor = TracewaySpanProcessor(exporter, settings)
    tracer, provider = _provider(processor)
    _make_spans(tracer, 5)
    assert exporter.entered.wait(5)  # worker holds 5 spans inside export; queue is empty again
    with caplog.at_level(logging.WARNING, logger="traceway.instrument.processor"):
        _make_spans(tracer, 30)
    assert processor.stats.get("dropped_queue_full") == 20
    warnings = [r for r in caplog.records if "dropped spans" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: one warning for twenty drops
    exporter.gate.set()
    assert provider.force_flush(10_000)
    assert len(exporter.spans) == 15
    snapshot = processor.stats.snapshot()
    assert snapshot["exported"] + snapshot["dropped"] == 35
    provider.shutdown()


def test_full_queue_in_block_mode_waits_for_the_worker():
    exporter = InMemorySpanExporter()
    settings = BatchSettings(max_queue_size=4, max_export_batch_size=2, on_full="block", block_timeout_s=5)
    processor = TracewaySpanProcessor(exporter, settings)
    tracer, provider = _provider(processor)
    _make_spans(tracer, 200)
    assert provider.force_flush(10_000)
    assert len(exporter.get_finished_spans()) == 200
    assert processor.stats.dropped == 0
    provider.shutdown()


def test_block_mode_drops_with_a_count_when_the_exporter_is_stuck():
    exporter = GatedExporter()
    settings = BatchSettings(max_queue_size=4, max_export_batch_size=2, on_full="block", block_timeout_s=0.05, schedule_delay_s=0.01)
    processor = TracewaySpanProcessor(exporter, settings)
    tracer, provider = _provider(processor)
    _make_spans(tracer, 2)
    assert exporter.entered.wait(5)
    _make_spans(tracer, 10)  # 4 fit; the first extra blocks then drops, the rest drop at once
    assert processor.stats.get("dropped_queue_full") == 6
    exporter.gate.set()
    provider.shutdown()


def test_failed_exports_are_counted_as_drops():
    class Failing(SpanExporter):
        def export(self, spans):
            return SpanExportResult.FAILURE

    processor = TracewaySpanProcessor(Failing())
    tracer, provider = _provider(processor)
    _make_spans(tracer, 7)
    provider.force_flush(5_000)
    assert processor.stats.get("dropped_export_failed") == 7
    provider.shutdown()


def test_drops_are_an_otel_metric():
    reader = InMemoryMetricReader()
    metrics._internal._METER_PROVIDER_SET_ONCE = Once()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        exporter = GatedExporter()
        processor = TracewaySpanProcessor(exporter, BatchSettings(max_queue_size=2, max_export_batch_size=1, on_full="drop", schedule_delay_s=0.01))

        tracer, provider = _provider(processor)
        _make_spans(tracer, 1)
        assert exporter.entered.wait(5)
        _make_spans(tracer, 5)
        data = reader.get_metrics_data()
        points = {
            (m.name, tuple(sorted(p.attributes.items()))): p.value
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics for p in m.data.data_points
        }
        assert points[("traceway.instrument.spans.dropped", (("outcome", "dropped"), ("reason", "queue_full")))] == 3
        exporter.gate.set()
        provider.shutdown()
    finally:
        metrics._internal._METER_PROVIDER_SET_ONCE = Once()
        metrics._internal._METER_PROVIDER = None


def test_spans_ended_after_shutdown_are_counted():
    processor = TracewaySpanProcessor(InMemorySpanExporter())
    tracer, provider = _provider(processor)
    span = tracer.start_span("late")
    provider.shutdown()
    span.end()
    assert processor.stats.get("dropped_after_shutdown") == 1


def test_batch_settings_from_env():
    settings = BatchSettings.from_env({"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_SCHEDULE_DELAY": "250", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "oops"})
    assert settings.max_queue_size == 100
    assert settings.schedule_delay_s == 0.25
    assert settings.max_export_batch_size == BatchSettings().max_export_batch_size
