"""Tail-sampling configuration: the OpenTelemetry Collector's tail_sampling vocabulary.

Parsing is strict (unknown keys are errors) so a typo does not silently keep or
drop traffic. Every error is a :class:`ConfigValueError` carrying the key's path
so ``traceway.config`` can name the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from traceway.durations import DurationError, parse_duration_ns
from traceway.settings import parse_size

Path_ = tuple[str | int, ...]

STATUS_CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}

POLICY_KEYS: dict[str, set[str]] = {
    "always_sample": set(),
    "status_code": {"status_codes"},
    "latency": {"threshold", "threshold_ms", "upper_threshold", "upper_threshold_ms",
                "learn_percentile", "learn_window", "learn_min_traces"},
    "probabilistic": {"percent", "sampling_percentage", "hash_salt"},
    "rate_limiting": {"spans_per_second"},
    "string_attribute": {"key", "values", "enabled_regex_matching", "invert_match"},
    "numeric_attribute": {"key", "min_value", "max_value", "invert_match"},
    "span_count": {"min_spans", "max_spans"},
    "and": {"and_sub_policy"},
    "composite": {"max_total_spans_per_second", "policy_order", "composite_sub_policy",
                  "rate_allocation"},
}


class ConfigValueError(Exception):
    def __init__(self, path: Path_, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class PolicyConfig:
    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    sub_policies: tuple[PolicyConfig, ...] = ()


@dataclass(frozen=True)
class TailConfig:
    decision_wait_ns: int = 10_000_000_000
    max_traces: int = 50_000
    decision_cache_size: int = 200_000
    max_held_bytes: int = 256 * 2**20
    policies: tuple[PolicyConfig, ...] = ()


def parse_duration(value: Any, path: Path_) -> int:
    """``"500ms"``, ``"10s"``, ``"1m30s"``, ``"7d"`` -> nanoseconds (``traceway.durations``)."""
    if not isinstance(value, str):
        raise ConfigValueError(path, f"{value!r} is not a duration string like "
                               f"\"500ms\" or \"10s\" (quote it)")
    try:
        return parse_duration_ns(value.strip())
    except DurationError as exc:
        raise ConfigValueError(path, str(exc)) from None


def _size(value: Any, path: Path_) -> int:
    """``"256MiB"``, ``"1GB"`` or a whole number of bytes, at least 1."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    try:
        size = parse_size(value) if isinstance(value, str) else 0
    except ValueError as exc:
        raise ConfigValueError(path, str(exc)) from None
    if size < 1:
        raise ConfigValueError(path, f"{value!r} is not a size like \"256MiB\" or \"1GB\"")
    return size


def number(table: dict[str, Any], key: str, path: Path_, *, minimum: float | None = None,
           maximum: float | None = None, integer: bool = False) -> float:
    value = table[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigValueError(path + (key,), f"must be {'an integer' if integer else 'a number'}, "
                               f"not {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigValueError(path + (key,), f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ConfigValueError(path + (key,), f"must be at most {maximum}, not {value}")
    return value


def check_keys(table: dict[str, Any], allowed: set[str], path: Path_) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigValueError(path + (key,), f"unknown key {key!r}; expected one of "
                                   f"{', '.join(sorted(allowed))}")


def parse_tail(table: Any) -> TailConfig:
    path: Path_ = ("sampling", "tail")
    if not isinstance(table, dict):
        raise ConfigValueError(path, "must be a table")
    check_keys(table, {"decision_wait", "max_traces", "max_held_bytes", "decision_cache_size",
                       "policy"}, path)
    defaults = TailConfig()
    wait = (parse_duration(table["decision_wait"], path + ("decision_wait",))
            if "decision_wait" in table else defaults.decision_wait_ns)
    max_traces = int(number(table, "max_traces", path, minimum=1, integer=True)
                     ) if "max_traces" in table else defaults.max_traces
    cache = int(number(table, "decision_cache_size", path, minimum=0, integer=True)
                ) if "decision_cache_size" in table else defaults.decision_cache_size
    held_bytes = (_size(table["max_held_bytes"], path + ("max_held_bytes",))
                  if "max_held_bytes" in table else defaults.max_held_bytes)
    raw = table.get("policy", [])
    if not isinstance(raw, list):
        raise ConfigValueError(path + ("policy",), "must be an array of tables [[sampling.tail.policy]]")
    policies = tuple(parse_policy(p, path + ("policy", i)) for i, p in enumerate(raw))
    names = [p.name for p in policies]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigValueError(path + ("policy", i, "name"), f"duplicate policy name {name!r}")
    return TailConfig(wait, max_traces, cache, held_bytes, policies)


def parse_policy(table: Any, path: Path_) -> PolicyConfig:
    if not isinstance(table, dict):
        raise ConfigValueError(path, "a policy must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigValueError(path + ("name",), "every policy needs a name")
    kind = table.get("type")
    if kind not in POLICY_KEYS:
        raise ConfigValueError(path + ("type",), f"unknown policy type {kind!r}; expected one of "
                               f"{', '.join(sorted(POLICY_KEYS))}")
    check_keys(table, POLICY_KEYS[kind] | {"name", "type"}, path)
    options = {k: v for k, v in table.items() if k not in ("name", "type")}
    subs: tuple[PolicyConfig, ...] = ()
    if kind in ("and", "composite"):
        key = f"{kind}_sub_policy"
        raw = options.pop(key, None)
        if not isinstance(raw, list) or not raw:
            raise ConfigValueError(path + (key,), f"an {kind!r} policy needs [[...{key}]] tables")
        subs = tuple(parse_policy(p, path + (key, i)) for i, p in enumerate(raw))
    _validate(kind, options, path)
    return PolicyConfig(name, kind, options, subs)


def _validate(kind: str, o: dict[str, Any], path: Path_) -> None:
    def need(key: str) -> None:
        if key not in o:
            raise ConfigValueError(path, f"a {kind!r} policy needs {key!r}")

    if kind == "status_code":
        need("status_codes")
        codes = o["status_codes"]
        if not isinstance(codes, list) or not all(c in STATUS_CODES for c in codes):
            raise ConfigValueError(path + ("status_codes",), "must be a list of "
                                   "\"ERROR\", \"OK\", \"UNSET\"")
    elif kind == "latency":
        for key in ("threshold", "upper_threshold"):
            if key in o:
                o[key + "_ns"] = parse_duration(o.pop(key), path + (key,))
        for key in ("threshold_ms", "upper_threshold_ms"):
            if key in o:
                o[key[:-3] + "_ns"] = int(number(o, key, path, minimum=0) * 1_000_000)
                o.pop(key)
        if "learn_percentile" in o:
            number(o, "learn_percentile", path, minimum=50, maximum=100)
        elif "threshold_ns" not in o:
            raise ConfigValueError(path, "a 'latency' policy needs 'threshold' "
                                   "(or 'learn_percentile' to learn it per operation)")
    elif kind == "probabilistic":
        key = "percent" if "percent" in o else "sampling_percentage"
        need(key)
        o["percent"] = number(o, key, path, minimum=0, maximum=100)
    elif kind == "rate_limiting":
        need("spans_per_second")
        number(o, "spans_per_second", path, minimum=1)
    elif kind == "string_attribute":
        need("key")
        need("values")
        if not isinstance(o["values"], list) or not all(isinstance(v, str) for v in o["values"]):
            raise ConfigValueError(path + ("values",), "must be a list of strings")
        if o.get("enabled_regex_matching"):
            for v in o["values"]:
                try:
                    re.compile(v)
                except re.error as exc:
                    raise ConfigValueError(path + ("values",), f"bad regex {v!r}: {exc}") from None
    elif kind == "numeric_attribute":
        need("key")
        if "min_value" not in o and "max_value" not in o:
            raise ConfigValueError(path, "a 'numeric_attribute' policy needs min_value or max_value")
        for key in ("min_value", "max_value"):
            if key in o:
                number(o, key, path)
    elif kind == "span_count":
        need("min_spans")
        number(o, "min_spans", path, minimum=0, integer=True)
        if "max_spans" in o:
            number(o, "max_spans", path, minimum=0, integer=True)
    elif kind == "composite":
        need("max_total_spans_per_second")
        number(o, "max_total_spans_per_second", path, minimum=1)
        for _i, item in enumerate(o.get("rate_allocation", [])):
            if not isinstance(item, dict) or "policy" not in item or "percent" not in item:
                raise ConfigValueError(path + ("rate_allocation",),
                                       "each rate_allocation needs policy and percent")
            number(item, "percent", path + ("rate_allocation",), minimum=0, maximum=100)
