"""OTLP AnyValue -> typed Jaeger tag values and their string forms. Pure."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# Jaeger JSON carries int64 as a JSON number; beyond this a JS client loses precision.
_MAX_SAFE_INT = 2**53


def plain_value(value: AnyValue) -> Any:
    """The value as plain Python/JSON data (arrays and maps nested)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [plain_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: plain_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def string_form(value: AnyValue) -> str:
    """How a value is written in a tag search: ``123``, ``72.5``, ``true``."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "int_value":
        return str(value.int_value)
    if which == "double_value":
        return format_double(value.double_value)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which is None:
        return ""
    return json.dumps(plain_value(value), separators=(",", ":"))


def format_double(number: float) -> str:
    """Like Go's strconv 'g' for common values: 123.0 -> "123", 72.5 -> "72.5"."""
    if math.isfinite(number) and number == int(number) and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def jaeger_tag(key: str, value: AnyValue) -> dict[str, Any]:
    """A typed Jaeger JSON tag: string, bool, int64, float64 or binary."""
    which = value.WhichOneof("value")
    if which == "bool_value":
        return {"key": key, "type": "bool", "value": value.bool_value}
    if which == "int_value":
        number = value.int_value
        shown: int | str = number if -_MAX_SAFE_INT <= number <= _MAX_SAFE_INT else str(number)
        return {"key": key, "type": "int64", "value": shown}
    if which == "double_value":
        double = value.double_value
        return {"key": key, "type": "float64",
                "value": double if math.isfinite(double) else str(double)}
    if which == "bytes_value":
        return {"key": key, "type": "binary",
                "value": base64.b64encode(value.bytes_value).decode()}
    return {"key": key, "type": "string", "value": string_form(value)}


def string_pairs(attributes: Iterable[KeyValue]) -> Iterator[tuple[str, str]]:
    for kv in attributes:
        yield kv.key, string_form(kv.value)
