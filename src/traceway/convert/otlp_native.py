"""The compiled decoder for OTLP protobuf requests (``_otlp_columns.c``), when it is built.

``spans_from_otlp_native`` returns the same ``DecodedSpans`` as the pure-Python path or None,
and None means "let Python decide": the C code declines anything but canonical, valid
requests, so malformed input, invalid spans and their error messages stay with one
implementation. Set ``TRACEWAY_NATIVE_DECODER=0`` to use only the Python path.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from traceway.model import SpanBatch

_native: ModuleType | None
try:
    _native = importlib.import_module("traceway.convert._otlp_columns")
except ImportError:  # not compiled (no C compiler at install time): Python does it all
    _native = None

if os.environ.get("TRACEWAY_NATIVE_DECODER", "1") == "0":
    _native = None

AVAILABLE = _native is not None


def batch_from_otlp_native(body: bytes | bytearray | memoryview) -> SpanBatch | None:
    """The spans of an ExportTraceServiceRequest/TracesData body, or None to use Python."""
    if _native is None:
        return None
    columns = _native.decode(body)
    return None if columns is None else SpanBatch(*columns)
