"""The spool's records: OTLP bodies as they arrived, columns otherwise, and the older format."""

import pickle
import struct
import zlib

from traceway.convert.otlp import batch_to_otlp, spans_from_otlp_proto
from traceway.pipeline.quarantine import Quarantine
from traceway.pipeline.spool import Spool
from traceway.storage.testspans import batch_of, make_span
from traceway.telemetry import Telemetry

T0 = 1_700_000_000_000_000_000


def _request(*spans) -> bytes:
    return batch_to_otlp(batch_of(*spans)).SerializeToString()


def _spool_of(directory, *appends) -> bytes:
    """The segment a crashed server leaves after acknowledging ``appends``."""
    spool = Spool(directory, segment_age_s=3600)
    spool.start()
    for batch, request in appends:
        spool.append(batch, lambda segment: 1, request).result(10)
    spool.close()  # held, so the segment stays as after a kill -9
    (segment,) = directory.glob("segment-*.spool")
    return segment.read_bytes()


def _replayed(directory, quarantine=None):
    return [batch for _, batch in Spool(directory, quarantine=quarantine).replay()]


def test_an_otlp_request_is_stored_as_it_arrived_and_replays_to_the_same_spans(tmp_path):
    body = _request(make_span(1, 1, start_ns=T0, attributes={"http.route": "/cart"}),
                    make_span(1, 2, start_ns=T0 + 5, parent=1, service="payments"))
    decoded = spans_from_otlp_proto(body)
    assert decoded.request is body
    segment = _spool_of(tmp_path, (decoded.batch, decoded.request))
    assert body in segment, "the body is written without being re-encoded"
    (replayed,) = _replayed(tmp_path)
    assert replayed == decoded.batch


def test_requests_with_refused_spans_are_stored_as_the_accepted_spans(tmp_path):
    body = _request(make_span(2, 1, start_ns=T0), make_span(2, 2, start_ns=T0, kind=300))
    decoded = spans_from_otlp_proto(body)
    assert decoded.rejected == 1 and decoded.request is None
    _spool_of(tmp_path, (decoded.batch, decoded.request))
    (replayed,) = _replayed(tmp_path)
    assert replayed.span_id == [make_span(2, 1, start_ns=T0).span_id]


def test_batches_without_a_request_are_stored_as_columns(tmp_path):
    batch = batch_of(make_span(3, 1, start_ns=T0, service="from-zipkin", kind=300))
    _spool_of(tmp_path, (batch, None))
    assert _replayed(tmp_path) == [batch]


def test_a_spool_from_the_previous_format_still_replays(tmp_path):
    """Before format bytes, a record was the pickled tuple of columns."""
    batch = batch_of(make_span(4, 1, start_ns=T0), make_span(4, 2, start_ns=T0, parent=1))
    legacy = pickle.dumps(tuple(column for _, column in batch.columns()), protocol=5)
    (tmp_path / "segment-000000000007.spool").write_bytes(
        struct.pack("<II", len(legacy), zlib.crc32(legacy)) + legacy)
    assert _replayed(tmp_path) == [batch]


def test_an_otlp_record_this_version_refuses_in_part_is_replayed_and_kept_aside(tmp_path):
    """A record written as fully accepted whose spans a stricter decoder refuses
    (an upgrade): the rest are replayed, the record goes to the quarantine."""
    good = make_span(5, 1, start_ns=T0)
    body = _request(good, make_span(5, 2, start_ns=T0, kind=300))
    record = b"\x01" + body
    (tmp_path / "segment-000000000000.spool").write_bytes(
        struct.pack("<II", len(record), zlib.crc32(record)) + record)
    telemetry = Telemetry()
    quarantine = Quarantine(tmp_path / "quarantine", telemetry)
    (replayed,) = _replayed(tmp_path, quarantine)
    assert replayed.span_id == [good.span_id]
    (kept,) = (tmp_path / "quarantine").glob("record-*.bin")
    assert kept.read_bytes() == record
    assert telemetry.registry.get_sample_value("traceway_spool_records_quarantined_total") == 1


def test_a_record_of_an_unknown_format_is_quarantined_and_the_rest_replayed(tmp_path):
    batch = batch_of(make_span(6, 1, start_ns=T0))
    segment = _spool_of(tmp_path, (batch, None))
    future = b"\x07something newer"
    path = next(tmp_path.glob("segment-*.spool"))
    path.write_bytes(struct.pack("<II", len(future), zlib.crc32(future)) + future + segment)
    quarantine = Quarantine(tmp_path / "quarantine", Telemetry())
    assert _replayed(tmp_path, quarantine) == [batch]
    (kept,) = (tmp_path / "quarantine").glob("record-*.bin")
    assert kept.read_bytes() == future


def test_a_torn_otlp_record_is_ignored(tmp_path):
    body = _request(make_span(7, 1, start_ns=T0))
    first = spans_from_otlp_proto(body)
    segment = _spool_of(tmp_path, (first.batch, first.request), (first.batch, first.request))
    path = next(tmp_path.glob("segment-*.spool"))
    path.write_bytes(segment[:-3])  # the second record's write was cut short by the crash
    assert _replayed(tmp_path) == [first.batch]
