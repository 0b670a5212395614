"""Head-sampling strategies for SDKs, in Jaeger's remote sampling schema.

Static strategies come from ``[sampling.remote]`` (the shape of Jaeger's
strategies file: ``default_strategy``, ``service_strategies``,
``operation_strategies``, each with ``type`` and ``param``). With
``[sampling.remote.adaptive]`` the probabilities of services without a static
entry are learned from the root spans flowing through Ingest, so that each
service sends about ``target_traces_per_second``; see :class:`Strategies`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from traceway.model import SpanBatch
from traceway.pipeline.sampling.settings import (
    ConfigValueError,
    check_keys,
    number,
    parse_duration,
)

Path_ = tuple[str | int, ...]
_TYPES = {"probabilistic": "PROBABILISTIC", "ratelimiting": "RATE_LIMITING",
          "rate_limiting": "RATE_LIMITING"}


@dataclass(frozen=True)
class Strategy:
    type: str  # "PROBABILISTIC" or "RATE_LIMITING"
    param: float  # a probability, or max traces per second
    operations: dict[str, float] = field(default_factory=dict)  # operation -> probability
    lower_bound_tps: float = 0.0


@dataclass(frozen=True)
class AdaptiveConfig:
    target_traces_per_second: float = 1.0
    initial_sampling_probability: float = 0.001
    min_sampling_probability: float = 1e-5
    lower_bound_traces_per_second: float = 1 / 60
    calculation_interval_s: float = 60.0


@dataclass(frozen=True)
class RemoteConfig:
    default: Strategy = Strategy("PROBABILISTIC", 0.001)
    services: dict[str, Strategy] = field(default_factory=dict)
    adaptive: AdaptiveConfig | None = None


def parse_remote(table: Any) -> RemoteConfig:
    path: Path_ = ("sampling", "remote")
    if not isinstance(table, dict):
        raise ConfigValueError(path, "must be a table")
    check_keys(table, {"default_strategy", "service_strategies", "adaptive"}, path)
    default = (_strategy(table["default_strategy"], path + ("default_strategy",), None)
               if "default_strategy" in table else RemoteConfig().default)
    services = {}
    for i, raw in enumerate(table.get("service_strategies", [])):
        where = path + ("service_strategies", i)
        if not isinstance(raw, dict) or not isinstance(raw.get("service"), str):
            raise ConfigValueError(where, "each service strategy needs service = \"name\"")
        services[raw["service"]] = _strategy(raw, where, default)
    adaptive = _adaptive(table["adaptive"], path + ("adaptive",)) if "adaptive" in table else None
    return RemoteConfig(default, services, adaptive)


def _strategy(raw: Any, path: Path_, default: Strategy | None) -> Strategy:
    if not isinstance(raw, dict):
        raise ConfigValueError(path, "must be a table")
    check_keys(raw, {"service", "type", "param", "operation_strategies",
                     "default_lower_bound_traces_per_second"}, path)
    kind = _TYPES.get(raw.get("type", ""))
    if kind is None:
        raise ConfigValueError(path + ("type",), f"type must be \"probabilistic\" or "
                               f"\"ratelimiting\", not {raw.get('type')!r}")
    if "param" not in raw:
        raise ConfigValueError(path, "a strategy needs param")
    param = number(raw, "param", path, minimum=0,
                   maximum=1 if kind == "PROBABILISTIC" else None)
    operations = dict(default.operations) if default else {}
    for i, op in enumerate(raw.get("operation_strategies", [])):
        where = path + ("operation_strategies", i)
        if not isinstance(op, dict) or not isinstance(op.get("operation"), str):
            raise ConfigValueError(where, "each operation strategy needs operation = \"name\"")
        check_keys(op, {"operation", "type", "param"}, where)
        if op.get("type", "probabilistic") != "probabilistic":
            raise ConfigValueError(where + ("type",), "operation strategies are probabilistic")
        operations[op["operation"]] = number(op, "param", where, minimum=0, maximum=1)
    lower = (number(raw, "default_lower_bound_traces_per_second", path, minimum=0)
             if "default_lower_bound_traces_per_second" in raw
             else (default.lower_bound_tps if default else 0.0))
    return Strategy(kind, float(param), operations, float(lower))


def _adaptive(raw: Any, path: Path_) -> AdaptiveConfig:
    if not isinstance(raw, dict):
        raise ConfigValueError(path, "must be a table")
    check_keys(raw, {"target_traces_per_second", "initial_sampling_probability",
                     "min_sampling_probability", "lower_bound_traces_per_second",
                     "calculation_interval"}, path)
    d = AdaptiveConfig()
    return AdaptiveConfig(
        float(number(raw, "target_traces_per_second", path, minimum=0))
        if "target_traces_per_second" in raw else d.target_traces_per_second,
        float(number(raw, "initial_sampling_probability", path, minimum=0, maximum=1))
        if "initial_sampling_probability" in raw else d.initial_sampling_probability,
        float(number(raw, "min_sampling_probability", path, minimum=0, maximum=1))
        if "min_sampling_probability" in raw else d.min_sampling_probability,
        float(number(raw, "lower_bound_traces_per_second", path, minimum=0))
        if "lower_bound_traces_per_second" in raw else d.lower_bound_traces_per_second,
        parse_duration(raw["calculation_interval"], path + ("calculation_interval",)) / 1e9
        if "calculation_interval" in raw else d.calculation_interval_s)


def water_level(rates: list[float], target: float) -> float:
    """The level L with sum(min(rate, L)) == target (inf when all rates fit)."""
    if sum(rates) <= target:
        return float("inf")
    remaining, left = target, len(rates)
    for rate in sorted(rates):
        if rate * left >= remaining:
            return remaining / left
        remaining -= rate
        left -= 1
    return float("inf")


class Strategies:
    """What ``/sampling?service=`` answers; learns from traffic in adaptive mode.

    Adaptive: every ``calculation_interval`` the root spans counted per
    (service, operation) give an observed rate; divided by the probability the
    SDKs were told, that estimates the real rate (smoothed over intervals).
    The service's target is shared between its operations by water-filling, so
    busy operations are cut and quiet ones keep probability 1; the minimum
    probability and the lower bound of traces per second keep rare operations
    visible.
    """

    def __init__(self, config: RemoteConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}
        self._rates: dict[str, dict[str, float]] = {}
        self._probabilities: dict[str, dict[str, float]] = {}
        self._window_start = clock()

    def reconfigure(self, config: RemoteConfig) -> None:
        with self._lock:
            self.config = config

    def observe(self, batch: SpanBatch) -> None:
        """Count ``batch``'s root spans; called by Ingest for every accepted batch."""
        if self.config.adaptive is None:
            return
        parents, services, names = batch.parent_span_id, batch.service, batch.name
        with self._lock:
            counts = self._counts
            for i, parent in enumerate(parents):
                if not parent:
                    ops = counts.setdefault(services[i], {})
                    ops[names[i]] = ops.get(names[i], 0) + 1
        self._maybe_recalculate()

    def _maybe_recalculate(self) -> None:
        adaptive = self.config.adaptive
        if adaptive is None:
            return
        now = self._clock()
        elapsed = now - self._window_start
        if elapsed < adaptive.calculation_interval_s:
            return
        with self._lock:
            counts, self._counts, self._window_start = self._counts, {}, now
            for service, ops in counts.items():
                self._recalculate(service, ops, elapsed, adaptive)

    def _recalculate(self, service: str, ops: dict[str, int], elapsed: float,
                     adaptive: AdaptiveConfig) -> None:
        rates = self._rates.setdefault(service, {})
        probabilities = self._probabilities.setdefault(service, {})
        for op, count in ops.items():
            told = probabilities.get(op, adaptive.initial_sampling_probability) or 1.0
            estimate = count / elapsed / told
            rates[op] = estimate if op not in rates else 0.5 * rates[op] + 0.5 * estimate
        level = water_level(list(rates.values()), adaptive.target_traces_per_second)
        for op, rate in rates.items():
            p = 1.0 if rate <= 0 else min(1.0, level / rate)
            probabilities[op] = max(adaptive.min_sampling_probability, p)

    def for_service(self, service: str) -> dict[str, Any]:
        """Jaeger's SamplingStrategyResponse as JSON (proto3 JSON field names)."""
        self._maybe_recalculate()
        config = self.config
        strategy = config.services.get(service)
        if strategy is None and config.adaptive is not None:
            a = config.adaptive
            with self._lock:
                learned = dict(self._probabilities.get(service, {}))
            strategy = Strategy("PROBABILISTIC", a.initial_sampling_probability, learned,
                                a.lower_bound_traces_per_second)
        return strategy_json(strategy or config.default)


def strategy_json(strategy: Strategy) -> dict[str, Any]:
    if strategy.type == "RATE_LIMITING":
        return {"strategyType": "RATE_LIMITING",
                "rateLimitingSampling": {"maxTracesPerSecond": int(strategy.param)}}
    out: dict[str, Any] = {"strategyType": "PROBABILISTIC",
                           "probabilisticSampling": {"samplingRate": strategy.param}}
    if strategy.operations or strategy.lower_bound_tps:
        out["operationSampling"] = {
            "defaultSamplingProbability": strategy.param,
            "defaultLowerBoundTracesPerSecond": strategy.lower_bound_tps,
            "perOperationStrategies": [
                {"operation": op, "probabilisticSampling": {"samplingRate": p}}
                for op, p in sorted(strategy.operations.items())],
        }
    return out
