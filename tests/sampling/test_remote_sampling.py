"""Jaeger remote sampling: the served JSON matches Jaeger's schema and drives the kit's sampler."""

from __future__ import annotations

import json
import time
import urllib.request

import jsonschema
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceway.instrument.remote_sampler import (
    JaegerRemoteSampler,
    sampler_from_strategy,
)
from traceway.model import SpanBatch
from traceway.pipeline.sampling.strategies import Strategies, parse_remote, water_level
from traceway.testing import ServerProcess, free_port

# jaeger-idl proto/api_v2/sampling.proto, SamplingStrategyResponse in proto3 JSON form
# (enums as names, or numbers as older thrift-JSON clients send them).
_PROBABILISTIC = {
    "type": "object",
    "properties": {"samplingRate": {"type": "number", "minimum": 0, "maximum": 1}},
    "additionalProperties": False,
}
JAEGER_SAMPLING_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "strategyType": {"enum": ["PROBABILISTIC", "RATE_LIMITING", 0, 1]},
        "probabilisticSampling": _PROBABILISTIC,
        "rateLimitingSampling": {
            "type": "object",
            "properties": {"maxTracesPerSecond": {"type": "integer", "minimum": -(2**31),
                                                  "maximum": 2**31 - 1}},
            "additionalProperties": False,
        },
        "operationSampling": {
            "type": "object",
            "properties": {
                "defaultSamplingProbability": {"type": "number"},
                "defaultLowerBoundTracesPerSecond": {"type": "number"},
                "defaultUpperBoundTracesPerSecond": {"type": "number"},
                "perOperationStrategies": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"operation": {"type": "string"},
                                   "probabilisticSampling": _PROBABILISTIC},
                    "additionalProperties": False,
                }},
            },
            "additionalProperties": False,
        },
    },
    "required": ["strategyType"],
    "additionalProperties": False,
}

REMOTE = """\
[sampling.remote.default_strategy]
type = "probabilistic"
param = {default}

[[sampling.remote.service_strategies]]
service = "limited"
type = "ratelimiting"
param = 7

[[sampling.remote.service_strategies]]
service = "shop"
type = "probabilistic"
param = {shop}
[[sampling.remote.service_strategies.operation_strategies]]
operation = "GET /health"
type = "probabilistic"
param = 0.0
"""


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def server(tmp_path):
    config = tmp_path / "traceway.toml"
    config.write_text(REMOTE.format(default=0.5, shop=0.0))
    process = ServerProcess(tmp_path / "data", extra_args=["--config", str(config)]).start()
    process.config_path = config  # type: ignore[attr-defined]
    yield process
    process.stop()


def test_both_endpoints_serve_jaeger_schema(server):
    for service in ("anything", "limited", "shop"):
        port_answer = get(f"{server.remote_sampling_url}?service={service}")
        ui_answer = server.api(f"/api/sampling?service={service}")
        assert port_answer == ui_answer
        jsonschema.validate(port_answer, JAEGER_SAMPLING_SCHEMA)
    assert get(f"{server.remote_sampling_url}?service=limited") == {
        "strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 7}}
    shop = get(f"{server.remote_sampling_url}?service=shop")
    assert shop["operationSampling"]["perOperationStrategies"] == [
        {"operation": "GET /health", "probabilisticSampling": {"samplingRate": 0.0}}]


def _sampled(provider: TracerProvider, exporter: InMemorySpanExporter, name: str, n: int) -> int:
    exporter.clear()
    tracer = provider.get_tracer("test")
    for _ in range(n):
        with tracer.start_as_current_span(name):
            pass
    return len(exporter.get_finished_spans())


def test_a_strategy_change_and_sighup_changes_what_a_process_samples(server):
    sampler = JaegerRemoteSampler("shop", server.remote_sampling_url, poll_interval_s=0.1)
    provider = TracerProvider(sampler=sampler)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        _wait_for(lambda: sampler.strategy is not None)
        assert _sampled(provider, exporter, "GET /cart", 200) == 0
        server.config_path.write_text(REMOTE.format(default=0.5, shop=1.0))
        server.reload()
        _wait_for(lambda: sampler.strategy["probabilisticSampling"]["samplingRate"] == 1.0)
        assert _sampled(provider, exporter, "GET /cart", 200) == 200
        assert _sampled(provider, exporter, "GET /health", 200) <= 2, "only the lower bound"
    finally:
        sampler.close()
        provider.shutdown()


def test_the_sampler_keeps_the_last_good_strategy_when_unreachable(server):
    sampler = JaegerRemoteSampler("limited", server.remote_sampling_url, start=False)
    assert sampler.update()
    server.stop()
    assert not sampler.update()
    assert sampler.strategy["strategyType"] == "RATE_LIMITING"
    assert "RateLimitingSampler" in sampler.get_description()
    unreachable = JaegerRemoteSampler("x", f"http://127.0.0.1:{free_port()}", start=False)
    assert not unreachable.update()
    assert "TraceIdRatioBased" in unreachable.get_description(), "the initial sampler decides"


def test_sampler_from_strategy_reads_numbers_and_names():
    assert "RateLimiting" in sampler_from_strategy(
        {"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 3}}).get_description()
    assert "0.25" in sampler_from_strategy(
        {"strategyType": "PROBABILISTIC",
         "probabilisticSampling": {"samplingRate": 0.25}}).get_description()


def test_configure_selects_the_remote_sampler(monkeypatch):
    from traceway import instrument
    from traceway.instrument.testing import reset

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG",
                       f"endpoint=http://127.0.0.1:{free_port()}/sampling,pollingIntervalMs=60000")
    reset()
    try:
        handle = instrument.configure("svc", exporter=InMemorySpanExporter(), auto_instrument=False)
        assert "JaegerRemoteSampler" in handle.provider.sampler.get_description()
    finally:
        reset()


def _roots(service: str, op: str, n: int) -> SpanBatch:
    return SpanBatch([b"t" * 16] * n, [b"s" * 8] * n, [b""] * n, [service] * n, [op] * n,
                     [2] * n, [0] * n, [1] * n, [0] * n, [""] * n, [b""] * n, [b""] * n, [b""] * n)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_adaptive_probabilities_meet_the_target_and_keep_rare_operations():
    clock = Clock()
    strategies = Strategies(parse_remote({"adaptive": {
        "target_traces_per_second": 10, "initial_sampling_probability": 1.0,
        "calculation_interval": "10s", "lower_bound_traces_per_second": 0.1}}), clock)
    strategies.observe(_roots("shop", "GET /busy", 1000))  # 100/s over 10 s
    strategies.observe(_roots("shop", "GET /rare", 10))  # 1/s
    clock.now = 10.0
    answer = strategies.for_service("shop")
    jsonschema.validate(answer, JAEGER_SAMPLING_SCHEMA)
    rates = {s["operation"]: s["probabilisticSampling"]["samplingRate"]
             for s in answer["operationSampling"]["perOperationStrategies"]}
    assert rates["GET /rare"] == 1.0
    assert rates["GET /busy"] == pytest.approx(0.09)  # 100/s * 0.09 + 1/s = 10/s
    assert answer["operationSampling"]["defaultLowerBoundTracesPerSecond"] == 0.1
    # The SDKs now send 9/s of the busy operation: the estimate stays at 100/s.
    strategies.observe(_roots("shop", "GET /busy", 90))
    strategies.observe(_roots("shop", "GET /rare", 10))
    clock.now = 20.0
    again = strategies.for_service("shop")["operationSampling"]["perOperationStrategies"]
    assert {s["operation"]: s["probabilisticSampling"]["samplingRate"] for s in again}[
        "GET /busy"] == pytest.approx(0.09)


def test_water_level():
    assert water_level([100, 1], 10) == pytest.approx(9)
    assert water_level([1, 2], 10) == float("inf")


def _wait_for(condition, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_adaptive_strategies_learn_from_spans_sent_to_the_server(tmp_path):
    import httpx
    from sampling_traffic import generate, to_otlp

    config = tmp_path / "adaptive.toml"
    config.write_text('[sampling.remote.adaptive]\ntarget_traces_per_second = 1\n'
                      'calculation_interval = "300ms"\ninitial_sampling_probability = 1.0\n')
    process = ServerProcess(tmp_path / "data", extra_args=["--config", str(config)]).start()
    try:
        traffic = generate(400, seed=21)
        with httpx.Client(timeout=30) as client:
            for batch in traffic.batches:
                client.post(process.otlp_http_url + "/v1/traces", content=to_otlp(batch),
                            headers={"Content-Type": "application/x-protobuf"})
        time.sleep(0.4)
        answer = get(f"{process.remote_sampling_url}?service=frontend")
        jsonschema.validate(answer, JAEGER_SAMPLING_SCHEMA)
        learned = answer["operationSampling"]["perOperationStrategies"]
        assert [s["operation"] for s in learned] == ["GET /"]
        assert learned[0]["probabilisticSampling"]["samplingRate"] < 1.0
    finally:
        process.stop()
