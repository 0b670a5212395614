"""Golden tests for convert/otlp.py: OTLP/JSON and protobuf in, SpanBatch out, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from goldens import (
    EXPECTED,
    batch_to_json,
    check_golden,
    decoded_to_json,
    otlp_json_to_proto,
    own_otlp_inputs,
    shared_otlp_inputs,
)

from traceway.convert.otlp import (
    InvalidPayloadError,
    batch_to_otlp,
    otlp_to_json,
    spans_from_otlp_json,
    spans_from_otlp_proto,
)

INPUTS = own_otlp_inputs() + shared_otlp_inputs()
EDGE_CASES = next(p for p in INPUTS if p.name == "edge-cases.json")


def _id(path: Path) -> str:
    return path.stem


@pytest.mark.parametrize("path", INPUTS, ids=_id)
def test_spans_from_otlp_json_golden(path: Path) -> None:
    decoded = spans_from_otlp_json(path.read_bytes())
    check_golden(EXPECTED / "otlp-spans" / f"{path.stem}.json", decoded_to_json(decoded))


@pytest.mark.parametrize("path", INPUTS, ids=_id)
def test_spans_from_otlp_proto_matches_json(path: Path) -> None:
    """The protobuf path gives exactly what the JSON path (checked by the golden file) gives."""
    from_proto = spans_from_otlp_proto(otlp_json_to_proto(path.read_bytes()))
    from_json = spans_from_otlp_json(path.read_bytes())
    assert decoded_to_json(from_proto) == decoded_to_json(from_json)


@pytest.mark.parametrize("path", INPUTS, ids=_id)
def test_batch_to_otlp_round_trip_golden(path: Path) -> None:
    batch = spans_from_otlp_json(path.read_bytes()).batch
    document = otlp_to_json(batch_to_otlp(batch))
    check_golden(EXPECTED / "otlp-round-trip" / f"{path.stem}.json", document)
    again = spans_from_otlp_json(json.dumps(document).encode())
    assert again.rejected == 0
    assert batch_to_json(again.batch) == batch_to_json(batch)


def test_shared_fixtures_present_or_skipped() -> None:
    if not shared_otlp_inputs():
        pytest.skip("shared/fixtures/otlp-json is not next to the repository")
    assert len(shared_otlp_inputs()) >= 3


# Edge cases, spelled out so a reader needn't diff the golden file to see them.

def _edge_spans() -> dict[str, dict]:
    decoded = spans_from_otlp_json(EDGE_CASES.read_bytes())
    return {span["name"]: span for span in batch_to_json(decoded.batch)}


def test_invalid_ids_are_rejected_and_siblings_kept() -> None:
    decoded = spans_from_otlp_json(EDGE_CASES.read_bytes())
    assert decoded.rejected == 2
    assert "got abcd" in decoded.error_message
    assert len(decoded.batch) == 4


def test_upper_case_hex_ids_and_int64_forms() -> None:
    span = _edge_spans()["POST /checkout"]
    assert span["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert span["spanId"] == "eee19b7ec3c1b174"
    assert span["parentSpanId"] == ""
    assert span["startNs"] == 1544712660000000000  # int64 given as a string
    assert span["durationNs"] == 1000000999  # end given as a JSON number
    attributes = {a["key"]: a["value"] for a in span["detail"]["attributes"]}
    assert attributes["int.as.number"] == {"intValue": "43"}
    assert attributes["int.beyond.2^53.number"] == {"intValue": "9007199254740995"}
    assert "unknownSpanField" not in span["detail"]


def test_enums_as_ints_and_as_names() -> None:
    spans = _edge_spans()
    assert spans["POST /checkout"]["kind"] == 2
    assert spans["POST /checkout"]["statusCode"] == 2
    assert spans["SELECT orders"]["kind"] == 3
    assert spans["SELECT orders"]["statusCode"] == 1


def test_zero_parent_is_root_and_end_before_start_is_zero_duration() -> None:
    spans = _edge_spans()
    assert spans["other trace root"]["parentSpanId"] == ""
    assert spans["consume"]["durationNs"] == 0


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2]", b'"x"', b'{"resourceSpans": [{"scopeSpans": {"spans": 1}}]}',
    b'{"resourceSpans": 5}', b'{"resourceSpans": [{"scopeSpans": 5}]}',
])
def test_malformed_json_raises(body: bytes) -> None:
    with pytest.raises(InvalidPayloadError):
        spans_from_otlp_json(body)


def test_malformed_proto_raises() -> None:
    with pytest.raises(InvalidPayloadError):
        spans_from_otlp_proto(b"\x0a\xff\xff\xff")
