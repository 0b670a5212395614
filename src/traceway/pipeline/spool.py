"""The spool: acknowledged spans on disk until the store (or the tail sampler) is done with them.

Tail sampling holds spans in memory for ``decision_wait``; the house rule says
an acknowledged span survives ``kill -9``. So every accepted batch is appended
to the current segment file and fsynced before the sender is answered, with
group commit as in the WriteQueue: one writer thread takes everything queued,
writes it with one ``write`` and one ``fdatasync`` and resolves every waiter.

Segments are deleted, not compacted: each counts the held traces that have
spans in it (``holds``); the sampler releases a trace's segments once the trace
is decided and, if kept, committed to the store. A closed segment with no holds
left is unlinked. Records are ``<length, crc32>`` + a format byte + what arrived,
so a torn tail from a crash (never acknowledged) is detected and ignored on replay:

* ``FORMAT_OTLP``: the OTLP protobuf request body as it arrived (decompressed), when
  the batch is every span decoding it gives. Nothing is encoded on the way in; the
  replay decodes it again (in C when built).
* ``FORMAT_COLUMNS``: the batch's columns, pickled on the writer thread, for
  everything else (OTLP/JSON, Zipkin, requests with refused spans, the part of a
  request the tail sampler holds when some of its spans follow earlier decisions).
* A record starting with a pickle's own first byte is the format before these
  bytes existed (pickled columns): spools left by an older version replay too.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path

from traceway.convert.otlp import DecodedSpans, spans_from_otlp_proto
from traceway.model import SpanBatch
from traceway.pipeline.batcher import QueueClosedError, StageUnavailableError, settle
from traceway.pipeline.quarantine import Quarantine

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
FORMAT_OTLP = b"\x01"
FORMAT_COLUMNS = b"\x02"
_LEGACY_PICKLE = b"\x80"  # pickle's PROTO opcode: a record from before format bytes
_NAME = "segment-{:012d}.spool"
_IOV_MAX = 512
_RETRY_MIN_S = 0.1
_RETRY_MAX_S = 5.0


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int = 64 << 20,
                 segment_age_s: float = 5.0, quarantine: Quarantine | None = None) -> None:
        self.directory = Path(directory)
        self._quarantine = quarantine
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.segment_age_s = segment_age_s
        self._cond = threading.Condition()
        self._pending: list[tuple[SpanBatch, bytes | None, Future[None]]] = []
        self._holds: dict[int, int] = {}
        self._closed_segments: set[int] = set()
        existing = self.existing_segments()
        self._current = (existing[-1] + 1) if existing else 0
        self._current_bytes = 0
        self._current_opened = time.monotonic()
        self._fd = -1
        self._closed = False
        self._thread: threading.Thread | None = None
        # Why the last write or segment open failed; None while all is well.
        self.problem: str | None = None

    def existing_segments(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("segment-*.spool"))

    def _path(self, segment: int) -> Path:
        return self.directory / _NAME.format(segment)

    # -- start-up --------------------------------------------------------------
    def replay(self) -> Iterator[tuple[int, SpanBatch]]:
        """Every intact record of the segments left by the last run, oldest first.

        Those segments count as closed; the caller must ``hold`` them for the
        traces it keeps and then call ``replay_done``. A record that passes its
        checksum but cannot be decoded (written by another version, say) is
        quarantined and the replay goes on, as are the bytes after a record
        that fails its checksum with more data behind it.
        """
        for segment in self.existing_segments():
            if segment >= self._current:
                continue
            self._closed_segments.add(segment)
            for batch, _ in self.read(segment):
                yield segment, batch

    def read(self, segment: int) -> Iterator[tuple[SpanBatch, bytes | None]]:
        """Every intact record of one segment no one appends to any more, in order
        (a torn or undecodable record is handled as ``replay`` says): its spans, and
        the OTLP body they are every span of when the record kept one (so another
        spool can keep it too, with nothing encoded)."""
        data = self._path(segment).read_bytes()
        position = 0
        while position + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, position)
            start = position + _HEADER.size
            body = data[start:start + length]
            if not length or len(body) < length or zlib.crc32(body) != crc:
                self._bad_tail(segment, data, position, start + length)
                break
            position = start + length
            decoded = self._decode(body, f"segment-{segment}-at-{start}")
            if decoded is not None:
                yield decoded.batch, decoded.request

    def _bad_tail(self, segment: int, data: bytes, position: int, record_end: int) -> None:
        if record_end >= len(data) or not any(data[position:]):
            log.warning("spool %s: ignoring a torn record at byte %d (never acknowledged)",
                        segment, position)
        elif self._quarantine is not None:
            self._quarantine.record(data[position:], f"segment-{segment}-from-{position}",
                                    "checksum mismatch with data after it")

    def _decode(self, body: bytes, origin: str) -> DecodedSpans | None:
        try:
            decoded = decode_record(body)
        except Exception as exc:  # anything unpickling or a foreign record raises
            if self._quarantine is not None:
                self._quarantine.record(body, origin, f"{type(exc).__name__}: {exc}")
            else:
                log.error("spool %s: skipping an undecodable record: %s", origin, exc)
            return None
        if decoded.rejected:  # acknowledged once, refused by this version's decoder
            reason = f"replayed without spans this version refuses: {decoded.error_message}"
            if self._quarantine is not None:
                self._quarantine.record(body, origin, reason)
            else:
                log.error("spool %s: %s", origin, reason)
        return decoded

    def discard(self, segment: int) -> None:
        """Delete a segment another process has consumed (a receiver worker's, read by
        the writer); this spool must not be appending to it."""
        self._path(segment).unlink(missing_ok=True)

    def replay_done(self) -> None:
        with self._cond:
            for segment in list(self._closed_segments):
                self._maybe_delete(segment)

    def start(self) -> None:
        self._open_current()
        self._thread = threading.Thread(target=self._run, name="traceway-spool", daemon=True)
        self._thread.start()

    # -- the hot path ----------------------------------------------------------
    def append(self, batch: SpanBatch, holds: Callable[[int], int],
               request: bytes | None = None) -> Future[None]:
        """Queue ``batch`` for the current segment; the future resolves once it is fsynced.

        ``request``, when given, is the OTLP protobuf body whose spans are exactly
        ``batch`` (every span it holds, none refused): the spool keeps those bytes
        and replays by decoding them again. ``holds(segment)`` runs under the
        spool's lock and returns how many new traces now have spans in ``segment``.
        """
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise QueueClosedError("server is shutting down")
            if not self.available:
                raise StageUnavailableError(f"{self.problem}; retry later")
            self._pending.append((batch, request, future))
            added = holds(self._current)
            if added:
                self._holds[self._current] = self._holds.get(self._current, 0) + added
            self._cond.notify()
        return future

    def hold(self, segment: int, count: int) -> None:
        with self._cond:
            self._holds[segment] = self._holds.get(segment, 0) + count

    def release(self, segments: Iterable[int]) -> None:
        """One trace with spans in each of ``segments`` no longer needs them."""
        with self._cond:
            for segment in segments:
                left = self._holds.get(segment, 0) - 1
                self._holds[segment] = left
                if left <= 0:
                    self._maybe_delete(segment)

    def _maybe_delete(self, segment: int) -> None:
        if segment in self._closed_segments and self._holds.get(segment, 0) <= 0:
            self._closed_segments.discard(segment)
            self._holds.pop(segment, None)
            try:
                self._path(segment).unlink()
            except FileNotFoundError:
                pass

    # -- the writer thread -----------------------------------------------------
    def _open_current(self) -> None:
        path = self._path(self._current)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._current_bytes = os.fstat(self._fd).st_size
        self._current_opened = time.monotonic()

    def _take(self) -> tuple[list[tuple[SpanBatch, bytes | None, Future[None]]],
                             int | None] | None:
        """Pending appends, and the segment to close after writing them (if rotating)."""
        with self._cond:
            while not self._pending and not self._closed:
                if self._current_bytes and time.monotonic() - self._current_opened > self.segment_age_s:
                    break
                if self._fd < 0:  # a failed open: try again
                    return [], None
                self._cond.wait(self.segment_age_s / 2)
            if self._closed and not self._pending:
                return None
            taken, self._pending = self._pending, []
            rotate = self._current_bytes > 0 and (
                self._current_bytes >= self.segment_bytes
                or time.monotonic() - self._current_opened > self.segment_age_s)
            if rotate:
                closing = self._current
                self._current += 1  # later appends (and their holds) go to the next one
                return taken, closing
            return taken, None

    def _run(self) -> None:
        """The writer thread. It never dies of an OSError (EMFILE, ENOSPC, EIO): the
        waiters hear of it, ``problem`` says it (readiness, metrics) and appends are
        refused until a segment can be opened again, retried with backoff."""
        retry_s = _RETRY_MIN_S
        while (work := self._take()) is not None:
            taken, closing = work
            error: OSError | None = None
            try:
                if taken:
                    self._ensure_open()
                    self._write(taken)
            except OSError as exc:
                error = exc
            settle([future for _, _, future in taken], error)
            if closing is not None:
                self._close_segment(closing)
            try:
                self._ensure_open()
            except OSError as exc:
                error = error or exc
            if error is None:
                retry_s = _RETRY_MIN_S
                self._set_problem(None)
                continue
            self._set_problem(f"spool write failed: {error}")
            with self._cond:  # close() wakes this early
                if not self._closed:
                    self._cond.wait(retry_s)
            retry_s = min(retry_s * 2, _RETRY_MAX_S)

    def _ensure_open(self) -> None:
        if self._fd < 0:
            self._open_current()

    def _close_segment(self, segment: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._current_bytes = 0
        with self._cond:
            self._closed_segments.add(segment)
            self._maybe_delete(segment)

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            if problem is None:
                log.warning("spool recovered: appends are accepted again")
            elif self._fd < 0:
                log.error("%s; refusing appends until a segment can be opened", problem)
            else:
                log.error("%s", problem)
        self.problem = problem

    @property
    def available(self) -> bool:
        """False while the spool cannot take appends (no open segment after a failure)."""
        return self.problem is None or self._fd >= 0

    def _write(self, taken: list[tuple[SpanBatch, bytes | None, Future[None]]]) -> None:
        parts: list[bytes] = []
        for batch, request, _ in taken:
            kind, payload = FORMAT_OTLP, request
            if payload is None:
                kind = FORMAT_COLUMNS
                payload = pickle.dumps(tuple(column for _, column in batch.columns()),
                                       protocol=5)
            # The payload is written as it is (no joined copy); the checksum covers both.
            parts += (_HEADER.pack(1 + len(payload), zlib.crc32(payload, zlib.crc32(kind))),
                      kind, payload)
        size = sum(map(len, parts))
        # writev: no joined copy of the whole group in memory.
        views: list[bytes | memoryview] = list(parts)
        first = 0
        try:
            while first < len(views):
                done = os.writev(self._fd, views[first:first + _IOV_MAX])
                while first < len(views) and done >= len(views[first]):
                    done -= len(views[first])
                    first += 1
                if done:
                    views[first] = memoryview(views[first])[done:]
            os.fdatasync(self._fd)
        except OSError:
            # A partial record would hide every later one from the replay.
            os.ftruncate(self._fd, self._current_bytes)
            raise
        self._current_bytes += size

    def close(self) -> None:
        """Write what is queued and stop; held spans stay on disk for the next start."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if self._holds.get(self._current, 0) <= 0:  # nothing in it is needed any more
                self._path(self._current).unlink(missing_ok=True)


def decode_record(record: bytes) -> DecodedSpans:
    """The spans of one spool record (after its ``<length, crc32>``).

    ``rejected`` counts spans of an OTLP record that this version's decoder
    refuses although they were acknowledged when written. Raises
    InvalidPayloadError for an OTLP body that does not decode, ValueError for an
    unknown format, and whatever unpickling raises for damaged columns.
    """
    kind = record[:1]
    if kind == FORMAT_OTLP:
        return spans_from_otlp_proto(record[1:])
    if kind == FORMAT_COLUMNS:
        columns = pickle.loads(memoryview(record)[1:])
    elif kind == _LEGACY_PICKLE:
        columns = pickle.loads(record)
    else:
        raise ValueError(f"unknown spool record format {kind.hex() or 'empty'}")
    batch = SpanBatch(*columns)
    if len({len(column) for _, column in batch.columns()}) != 1:
        raise ValueError("columns of different lengths")
    return DecodedSpans(batch)
