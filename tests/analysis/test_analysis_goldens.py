"""Every analysis on every hand-built trace, against golden files in ``golden/``.

Run with ``UPDATE_GOLDEN=1`` to rewrite them, then review the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hand_traces import TRACES

from traceway.analysis.clock_skew import clock_skew
from traceway.analysis.compare import compare_shapes, trace_shape
from traceway.analysis.critical_path import critical_path
from traceway.analysis.error_origin import error_origins
from traceway.analysis.statistics import trace_statistics
from traceway.query.trace_analysis_api import (
    compare_json,
    critical_path_json,
    error_origins_json,
    statistics_json,
)

GOLDEN = Path(__file__).parent / "golden"


def analyse(name: str) -> dict:
    batch = TRACES[name]()
    return {
        "criticalPath": critical_path_json(critical_path(batch)),
        "errorOrigins": error_origins_json(error_origins(batch)),
        "statistics": statistics_json(trace_statistics(batch)),
        "shape": compare_json(compare_shapes(trace_shape(batch), {})),
        "clockSkew": [{"spanID": a.span_id.hex(), "deltaUs": a.delta_ns // 1000, "host": a.host,
                       "measuredAt": a.measured_at.hex()} for a in clock_skew(batch)],
    }


@pytest.mark.parametrize("name", sorted(TRACES))
def test_golden(name: str) -> None:
    actual = analyse(name)
    path = GOLDEN / f"{name}.json"
    text = json.dumps(actual, indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert actual == json.loads(path.read_text()), (
        f"{path.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1")
