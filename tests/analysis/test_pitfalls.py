"""Propagation health, coverage and attribute differences on hand-built traces with known answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import scenarios

from traceway.analysis.attributes import attribute_differences, nearest_rank
from traceway.analysis.coverage import service_coverage
from traceway.analysis.propagation import propagation_health
from traceway.model import SpanBatch

HERE = Path(__file__).parent
BASE_NS = 1_700_000_000 * 10**9
NOW_NS = BASE_NS + 3600 * 10**9


def _traces(records) -> list[SpanBatch]:  # type: ignore[no-untyped-def]
    return SpanBatch.from_rows(records).split_by_trace()


def check_golden(name: str, actual: object) -> None:
    """Compare with golden/pitfalls/<name>; UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    path = HERE / "golden" / "pitfalls" / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2) + "\n")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert json.loads(path.read_text()) == actual, f"{name} differs; UPDATE_GOLDEN=1 if intended"


def test_propagation_golden():
    check_golden("propagation.json", propagation_health(_traces(scenarios.shop(BASE_NS)), now_ns=NOW_NS))


def test_broken_hop_is_named_with_its_lost_continuations():
    answer = propagation_health(_traces(scenarios.shop(BASE_NS)), now_ns=NOW_NS)
    rows = {(r["clientService"], r["callerOperation"], r["clientOperation"]): r for r in answer["data"]}
    recs = rows.pop(("web", "GET /recs", "GET /stock"))
    assert (recs["serverService"], recs["broken"], recs["total"]) == ("stock", 3, 3)
    assert sorted(recs["exampleTraceIDs"]) == [f"{n:032x}" for n in (2, 3, 4)]
    assert sorted(recs["continuationTraceIDs"]) == [f"{n:032x}" for n in (102, 103, 104)]
    # The uninstrumented peers are broken calls with nothing to match; nothing else is broken.
    assert {k: (r["serverService"], r["broken"]) for k, r in rows.items()} == {
        ("web", "GET /home", "GET /geo"): (None, 1), ("web", "GET /home", "POST /mail"): (None, 1)}


def test_orphans_and_multiple_roots():
    answer = propagation_health(_traces(scenarios.shop(BASE_NS)), now_ns=NOW_NS)
    assert answer["orphans"] == [{"service": "pay", "operation": "refund", "count": 1,
                                  "exampleTraceIDs": [f"{10:032x}"]}]
    assert answer["multipleRoots"] == [{
        "roots": [{"service": "web", "operation": "GET /a"}, {"service": "web", "operation": "cron tick"}],
        "count": 1, "exampleTraceIDs": [f"{11:032x}"]}]


def test_calls_still_within_the_grace_period_are_not_judged():
    records = scenarios.recent_broken_call(NOW_NS)
    assert propagation_health(_traces(records), now_ns=NOW_NS)["data"] == []
    late = propagation_health(_traces(records), now_ns=NOW_NS, grace_ns=0)["data"]
    assert [(r["clientOperation"], r["broken"]) for r in late] == [("GET /slowpoke", 1)]


def test_the_continuation_must_start_inside_the_call():
    records = [r for r in scenarios.shop(BASE_NS) if r.trace_id[-1] not in (103, 104)]
    answer = propagation_health(_traces(records), now_ns=NOW_NS)
    recs = next(r for r in answer["data"] if r["callerOperation"] == "GET /recs")
    # Trace 102 starts inside trace 2's call only; calls 3 and 4 stay unmatched, the
    # group still names the service most of its matched calls lost.
    assert (recs["serverService"], recs["broken"], recs["continuationTraceIDs"]) == ("stock", 3, [f"{102:032x}"])


def test_coverage_golden():
    check_golden("coverage.json", service_coverage(_traces(scenarios.shop(BASE_NS))))


def test_coverage_names_uninstrumented_services_and_their_callers():
    rows = {r["service"]: r for r in service_coverage(_traces(scenarios.shop(BASE_NS)))}
    missing = {name: (r["callers"], r["calls"], r["type"]) for name, r in rows.items() if not r["instrumented"]}
    assert missing == {"cards": (["pay"], 1, "database"), "geo.example.com": (["web"], 1, "service"),
                       "mailer": (["web"], 1, "service")}
    # stock: one traced call plus three whose context was lost (named by peer.service).
    assert (rows["stock"]["instrumented"], rows["stock"]["callers"], rows["stock"]["calls"]) == (True, ["web"], 4)
    assert rows["worker"]["callers"] == ["web"] and rows["web"]["calls"] == 0


def test_coverage_counts_services_the_store_knows_as_instrumented():
    rows = {r["service"]: r for r in service_coverage(_traces(scenarios.shop(BASE_NS)), services=["mailer"])}
    assert rows["mailer"]["instrumented"] is True


def test_attributes_golden_by_latency_and_error():
    traces = _traces(scenarios.search(BASE_NS))
    check_golden("attributes-latency.json", attribute_differences(traces, service="api", operation="GET /search"))
    check_golden("attributes-error.json", attribute_differences(traces, by="error"))


def test_slow_requests_share_the_cache_miss_and_the_region():
    answer = attribute_differences(_traces(scenarios.search(BASE_NS)), service="api")
    assert (answer["selectedTraces"], answer["baselineTraces"]) == (2, 18)
    top = {(r["key"], r["value"]): r["score"] for r in answer["data"][:2]}
    assert top == {("cache.hit", "false"): 1.0, ("cloud.region", "eu"): 1.0}
    assert not any(r["key"] == "http.route" for r in answer["data"])  # common to all: score 0


def test_failing_requests_share_the_exception_type():
    answer = attribute_differences(_traces(scenarios.search(BASE_NS)), by="error", service="api")
    top = answer["data"][0]
    assert (top["key"], top["value"], top["selected"], top["baseline"], top["score"]) == (
        "exception.type", "TimeoutError", 3, 0, 1.0)


def test_an_explicit_threshold_moves_the_selection():
    traces = _traces(scenarios.search(BASE_NS))
    answer = attribute_differences(traces, service="api", threshold_ns=20 * scenarios.MS)
    assert (answer["selectedTraces"], answer["thresholdNs"]) == (11, 20 * scenarios.MS)
    assert attribute_differences(traces, threshold_ns=10**12)["data"] == []  # nothing slow


def test_nearest_rank_and_bad_by():
    assert nearest_rank(list(range(1, 21)), 90) == 18
    with pytest.raises(ValueError):
        attribute_differences([], by="size")
