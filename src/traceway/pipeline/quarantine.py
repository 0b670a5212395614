"""Quarantine: what the store refuses is set aside, never allowed to fail its neighbours.

Ingest validates every field the store narrows, so a span the store still
refuses means a gap in that validation (or a record from an older version in
the spool). Such a span must not fail the group commit it shares with other
requests' spans, nor stop the next start-up when the spool is replayed.
``write_isolating`` splits a refused batch in halves until the refused spans
stand alone; those go to ``<data dir>/quarantine/spans.jsonl`` (one JSON
object per span, every field kept, the protobuf parts in base64) with a log
line naming the trace and the ``traceway_spans_quarantined`` counter. A spool
record that cannot be decoded at all is copied there as raw bytes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from pathlib import Path

from traceway.model import SpanBatch, SpanRecord
from traceway.storage.api import RejectedSpansError, Writer
from traceway.telemetry import Telemetry

log = logging.getLogger(__name__)

SPANS_FILE = "spans.jsonl"


class Quarantine:
    """Where refused spans and undecodable spool records go; ``directory``
    None keeps only the log line and the counter (tests, memory stores)."""

    def __init__(self, directory: Path | None, telemetry: Telemetry) -> None:
        self.directory = directory
        self._telemetry = telemetry
        self._lock = threading.Lock()

    def spans(self, batch: SpanBatch, reason: str) -> None:
        """Set ``batch`` aside: it will not be written to the store."""
        for record in batch.rows():
            log.error("quarantined span %s of trace %s (service %r, operation %r): %s",
                      record.span_id.hex(), record.trace_id.hex(), record.service,
                      record.name, reason)
        self._telemetry.spans_quarantined.labels("store_rejected").inc(len(batch))
        lines = [json.dumps({"quarantined_at": time.time(), "reason": reason,
                             **_span_json(record)}) for record in batch.rows()]
        self._append(SPANS_FILE, ("\n".join(lines) + "\n").encode())

    def record(self, data: bytes, origin: str, reason: str) -> None:
        """Set aside raw bytes (a spool record) that could not be decoded."""
        log.error("quarantined an undecodable record of %d bytes from %s: %s",
                  len(data), origin, reason)
        self._telemetry.spool_records_quarantined.inc()
        name = f"record-{time.time_ns()}-{origin.replace(os.sep, '_')}.bin"
        self._append(name, data)

    def _append(self, name: str, data: bytes) -> None:
        if self.directory is None:
            return
        try:
            with self._lock:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    os.write(fd, data)
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:  # the log line above still names what was set aside
            log.error("cannot write the quarantine file %s: %s", name, exc)


def _span_json(record: SpanRecord) -> dict[str, object]:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return {"trace_id": record.trace_id.hex(), "span_id": record.span_id.hex(),
            "parent_span_id": record.parent_span_id.hex(), "service": record.service,
            "name": record.name, "kind": record.kind, "start_ns": record.start_ns,
            "duration_ns": record.duration_ns, "status_code": record.status_code,
            "status_message": record.status_message, "detail": b64(record.detail),
            "resource": b64(record.resource), "scope": b64(record.scope)}


def write_isolating(writer: Writer, batch: SpanBatch, quarantine: Quarantine) -> int:
    """Write ``batch``; spans the store refuses are quarantined, the rest stored.

    Returns how many spans were quarantined. Errors other than
    RejectedSpansError (disk full, I/O) propagate: what was not written may be
    tried again (spans written before such an error are written twice then,
    which readers de-duplicate).
    """
    try:
        writer.write(batch)
        return 0
    except RejectedSpansError as exc:
        if len(batch) > 1:
            log.warning("store refused a write of %d spans (%s); isolating the refused spans",
                        len(batch), exc)
        return _isolate(writer, batch, quarantine, exc)


def _isolate(writer: Writer, batch: SpanBatch, quarantine: Quarantine,
             error: RejectedSpansError) -> int:
    if len(batch) == 1:
        quarantine.spans(batch, str(error))
        return 1
    half = len(batch) // 2
    quarantined = 0
    for part in (batch.take(range(half)), batch.take(range(half, len(batch)))):
        try:
            writer.write(part)
        except RejectedSpansError as exc:
            quarantined += _isolate(writer, part, quarantine, exc)
    return quarantined
