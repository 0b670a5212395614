"""A Jaeger remote sampler for OpenTelemetry Python: strategies polled from Traceway (or Jaeger).

    sampler = JaegerRemoteSampler("checkout", "http://127.0.0.1:5778/sampling")
    configure("checkout", sampler=ParentBased(sampler))
    # or: configure("checkout", sampler="jaeger_remote")

It polls ``GET <endpoint>?service=NAME`` every ``poll_interval_s`` and applies
Jaeger's SamplingStrategyResponse: probabilistic, rate limiting, or
per-operation probabilities with a default and a lower bound of traces per
second per operation. Until the first answer the ``initial`` sampler decides;
when the server is unreachable or answers nonsense, the last good strategy
stays. The strategy is swapped atomically, so ``should_sample`` takes no lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

_logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://127.0.0.1:5778/sampling"
MAX_OPERATIONS = 2000  # as Jaeger's clients: a bound on per-operation samplers


class RateLimiter:
    """A token bucket of ``rate`` per second holding ``max(rate, 1)`` tokens."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class RateLimitingSampler(Sampler):
    def __init__(self, max_traces_per_second: float) -> None:
        self._limiter = RateLimiter(max_traces_per_second)
        self._description = f"RateLimitingSampler{{{max_traces_per_second}}}"

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        if self._limiter.allow():
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
        return SamplingResult(Decision.DROP, None, trace_state)

    def get_description(self) -> str:
        return self._description


class GuaranteedThroughputSampler(Sampler):
    """Probabilistic, plus at least ``lower_bound`` traces per second (Jaeger's per-operation rule)."""

    def __init__(self, probability: float, lower_bound: float) -> None:
        self._ratio = TraceIdRatioBased(probability)
        self._floor = RateLimiter(lower_bound) if lower_bound > 0 else None
        self.probability = probability

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        result = self._ratio.should_sample(parent_context, trace_id, name, kind, attributes,
                                           links, trace_state)
        sampled = result.decision == Decision.RECORD_AND_SAMPLE
        if sampled or self._floor is None or not self._floor.allow():
            return result
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)

    def get_description(self) -> str:
        return f"GuaranteedThroughputSampler{{{self.probability}}}"


class PerOperationSampler(Sampler):
    def __init__(self, default_probability: float, lower_bound: float,
                 operations: Mapping[str, float]) -> None:
        self._lower_bound = lower_bound
        self._default_probability = default_probability
        self._by_operation = {op: GuaranteedThroughputSampler(p, lower_bound)
                              for op, p in list(operations.items())[:MAX_OPERATIONS]}
        self._default = GuaranteedThroughputSampler(default_probability, lower_bound)
        self._lock = threading.Lock()

    def _for(self, name: str) -> Sampler:
        sampler = self._by_operation.get(name)
        if sampler is not None:
            return sampler
        # An operation the server did not list gets its own floor, like Jaeger's clients.
        with self._lock:
            if len(self._by_operation) >= MAX_OPERATIONS:
                return self._default
            return self._by_operation.setdefault(name, GuaranteedThroughputSampler(
                self._default_probability, self._lower_bound))

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        return self._for(name).should_sample(parent_context, trace_id, name, kind, attributes,
                                             links, trace_state)

    def get_description(self) -> str:
        return f"PerOperationSampler{{default={self._default_probability}}}"


class StrategyError(ValueError):
    """The server's answer is not a sampling strategy this sampler understands."""


def sampler_from_strategy(strategy: Mapping[str, Any]) -> Sampler:
    """A Sampler for one Jaeger SamplingStrategyResponse (JSON; enum as name or number)."""
    try:
        operations = strategy.get("operationSampling")
        if operations:
            return PerOperationSampler(
                float(operations.get("defaultSamplingProbability", 0.0)),
                float(operations.get("defaultLowerBoundTracesPerSecond", 0.0)),
                {item["operation"]: float(item["probabilisticSampling"]["samplingRate"])
                 for item in operations.get("perOperationStrategies") or []})
        kind = strategy.get("strategyType", "PROBABILISTIC")
        if kind in ("RATE_LIMITING", 1):
            return RateLimitingSampler(float(strategy["rateLimitingSampling"]["maxTracesPerSecond"]))
        if kind in ("PROBABILISTIC", 0):
            rate = float(strategy["probabilisticSampling"]["samplingRate"])
            if not 0.0 <= rate <= 1.0:
                raise StrategyError(f"samplingRate {rate} is outside [0, 1]")
            return TraceIdRatioBased(rate)
    except (KeyError, TypeError, ValueError) as exc:
        raise StrategyError(f"malformed strategy {strategy!r}: {exc}") from None
    raise StrategyError(f"unknown strategyType {kind!r}")


class JaegerRemoteSampler(Sampler):
    """Samples by the strategy the remote endpoint serves for ``service_name``."""

    def __init__(self, service_name: str, endpoint: str = DEFAULT_ENDPOINT, *,
                 poll_interval_s: float = 60.0, initial: Sampler | None = None,
                 timeout_s: float = 5.0, start: bool = True,
                 headers: Mapping[str, str] | None = None) -> None:
        # headers: e.g. {"Authorization": "Bearer <ingest token>"} for a server with tokens.
        if not urllib.parse.urlsplit(endpoint).path.strip("/"):
            endpoint = endpoint.rstrip("/") + "/sampling"
        query = urllib.parse.urlencode({"service": service_name})
        self.url = f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
        self.service_name = service_name
        self.headers = dict(headers or {})
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self._sampler: Sampler = initial or TraceIdRatioBased(0.001)
        self._strategy: Any = None
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._poll, name="traceway-remote-sampler",
                                            daemon=True)
            self._thread.start()

    @property
    def strategy(self) -> Any:
        """The last strategy applied (the server's JSON), None before the first."""
        return self._strategy

    def update(self) -> bool:
        """Fetch and apply the strategy now; False (keeping the current one) on any failure."""
        try:
            request = urllib.request.Request(self.url, headers=self.headers)
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                strategy = json.loads(answer.read())
            if strategy != self._strategy:  # unchanged: keep rate limiters' state
                self._sampler = sampler_from_strategy(strategy)
                self._strategy = strategy
        except (OSError, ValueError) as exc:
            self.failures += 1
            _logger.debug("traceway: sampling strategy from %s unavailable (%s); keeping the "
                          "last one", self.url, exc)
            return False
        return True

    def _poll(self) -> None:
        while True:
            self.update()
            if self._stop.wait(self.poll_interval_s):
                return

    def close(self) -> None:
        self._stop.set()

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        return self._sampler.should_sample(parent_context, trace_id, name, kind, attributes,
                                           links, trace_state)

    def get_description(self) -> str:
        return f"JaegerRemoteSampler{{{self._sampler.get_description()}}}"


def from_sampler_arg(service_name: str, arg: str) -> JaegerRemoteSampler:
    """From ``OTEL_TRACES_SAMPLER_ARG``: ``endpoint=URL,pollingIntervalMs=N,initialSamplingRate=P``."""
    options: dict[str, str] = {}
    for item in arg.split(","):
        key, sep, value = item.partition("=")
        if sep:
            options[key.strip()] = value.strip()
    try:
        interval_s = float(options.get("pollingIntervalMs", "60000")) / 1000
        initial = float(options.get("initialSamplingRate", "0.001"))
    except ValueError:
        interval_s, initial = 60.0, 0.001
    return JaegerRemoteSampler(service_name, options.get("endpoint") or DEFAULT_ENDPOINT,
                               poll_interval_s=interval_s, initial=TraceIdRatioBased(initial))
