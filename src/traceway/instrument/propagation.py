"""Choose the global propagators and carry context through any dict-like headers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, TextMapPropagator

DEFAULT_PROPAGATORS = ("tracecontext", "baggage")


def propagator_by_name(name: str) -> TextMapPropagator | None:
    """The propagator for an ``OTEL_PROPAGATORS`` name; None for "none"."""
    name = name.strip().lower()
    if name == "tracecontext":
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        return TraceContextTextMapPropagator()
    if name == "baggage":
        from opentelemetry.baggage.propagation import W3CBaggagePropagator

        return W3CBaggagePropagator()
    if name == "b3":
        from opentelemetry.propagators.b3 import B3SingleFormat

        return B3SingleFormat()
    if name == "b3multi":
        from opentelemetry.propagators.b3 import B3MultiFormat

        return B3MultiFormat()
    if name == "jaeger":
        from opentelemetry.propagators.jaeger import JaegerPropagator

        return JaegerPropagator()
    if name == "none":
        return None
    raise ValueError(f"unknown propagator {name!r}; use tracecontext, baggage, b3, b3multi, jaeger or none")


def build_propagator(propagators: Iterable[str | TextMapPropagator] | str | None = None) -> CompositePropagator:
    """Propagators from the argument, else ``OTEL_PROPAGATORS``, else W3C tracecontext + baggage."""
    if propagators is None:
        raw = os.environ.get("OTEL_PROPAGATORS")
        propagators = raw.split(",") if raw else DEFAULT_PROPAGATORS
    elif isinstance(propagators, str):
        propagators = propagators.split(",")
    chosen = []
    for item in propagators:
        p = propagator_by_name(item) if isinstance(item, str) else item
        if p is not None:
            chosen.append(p)
    return CompositePropagator(chosen)


class _CaseInsensitiveGetter(Getter[Mapping[str, Any]]):
    """Header lookups that ignore case, for plain dicts filled from HTTP or message headers."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            for k, v in carrier.items():
                if isinstance(k, str) and k.lower() == lowered:
                    value = v
                    break
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, (list, tuple)):
            return [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in value]
        return [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier.keys())


_getter = _CaseInsensitiveGetter()


def inject(carrier: MutableMapping[str, str], context: Context | None = None) -> MutableMapping[str, str]:
    """Write the current (or given) context into ``carrier`` with the global propagators; returns ``carrier``."""
    propagate.inject(carrier, context=context)
    return carrier


def extract(carrier: Mapping[str, Any], context: Context | None = None) -> Context:
    """Context read from ``carrier`` (header names in any case); an empty carrier gives ``context`` unchanged."""
    return propagate.extract(carrier, context=context, getter=_getter)
