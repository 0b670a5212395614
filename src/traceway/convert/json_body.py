"""JSON request bodies, parsed strictly enough that nothing odd reaches a converter.

Python's ``json`` accepts what JSON does not (``NaN``, ``Infinity``), turns
``1e400`` into an infinite float, lets lone UTF-16 surrogates (``"\\ud800"``)
into strings that cannot be encoded again, and raises RecursionError on deep
nesting. Each of those is a JSONBodyError here, which receivers answer with 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A \\u escape in the surrogate range (D800-DFFF); only then are strings checked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONBodyError(ValueError):
    """The body is not JSON a converter can use; the message says why."""


def parse_json_body(body: bytes) -> Any:
    """The parsed document; JSONBodyError for anything but finite, valid JSON."""
    try:
        document = json.loads(body, parse_float=_finite_float, parse_constant=_no_constant)
    except JSONBodyError:
        raise
    except RecursionError:
        raise JSONBodyError("body is JSON nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise JSONBodyError(f"body is not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(body):
        _refuse_lone_surrogates(document)
    return document


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONBodyError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> float:
    raise JSONBodyError(f"{name} is not a JSON value")


def _refuse_lone_surrogates(document: Any) -> None:
    """Walk the document without recursion (it may be nested ~1,000 deep)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise JSONBodyError(
                    f"JSON string {value[:40]!r} holds a lone surrogate (\\ud800-\\udfff "
                    "escapes must come in pairs)") from None
