"""ClickHouse DDL and query builders against golden files (a schema or query
change is a readable diff). ``UPDATE_GOLDEN=1`` rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from traceway.model import SpanKind
from traceway.storage.api import StorageError, TraceQuery
from traceway.storage.clickhouse import queries
from traceway.storage.clickhouse.rows import NARROW_READ_COLUMNS
from traceway.storage.clickhouse.schema import Location, create_statements

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; UPDATE_GOLDEN=1 rewrites it"


def render(statements: list[str]) -> str:
    return ";\n\n".join(statements) + ";\n"


def test_ddl_on_one_server() -> None:
    check("ddl_default.sql", render(create_statements(Location(), existing=set())))


def test_ddl_on_a_cluster_with_retention() -> None:
    location = Location(database="tracing", cluster="prod", ttl_s=7 * 86400)
    check("ddl_cluster_ttl.sql", render(create_statements(location, existing=set())))


def test_exporter_tables_are_never_altered_only_completed() -> None:
    existing = {"otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv"}
    statements = create_statements(Location(), existing)
    assert not any("otel_traces (" in s or "ALTER" in s for s in statements)
    # Traceway's operations table is new, so it is filled from the spans already there.
    assert statements[-1].startswith("INSERT INTO `default`.`otel_traces_operations`")


def test_search_query() -> None:
    query = TraceQuery(start_min_ns=1, start_max_ns=2, service="checkout", operation="GET /",
                       span_kind=SpanKind.SERVER, tags={"http.status_code": "500", "error": "true"},
                       duration_min_ns=1000, duration_max_ns=9000, limit=20)
    sql, params = queries.find_trace_ids(Location(), query, own_columns=True)
    check("find_trace_ids.sql", f"{sql}\n-- {sorted(params.items())!r}\n")


def test_trace_and_dependency_queries() -> None:
    parts = [queries.traces_in_order(Location(), ["ab" * 16, "cd" * 16], NARROW_READ_COLUMNS),
             queries.trace_by_id(Location(), "ab" * 16, NARROW_READ_COLUMNS),
             queries.trace_ranges(Location(), ["ab" * 16]),
             queries.trace_spans(Location(), [("ab" * 16, 10, 12), ("cd" * 16, 11, 11)],
                                 NARROW_READ_COLUMNS),
             queries.dependencies(Location(), 1, 2)]
    check("trace_and_dependencies.sql",
          "\n\n".join(f"{sql}\n-- {sorted(params.items())!r}" for sql, params in parts) + "\n")


@pytest.mark.parametrize("options", [{"table": "x; DROP TABLE y"}, {"database": "a`b"},
                                     {"unknown": "1"}])
def test_names_in_the_url_are_checked(options: dict[str, str]) -> None:
    with pytest.raises(StorageError):
        Location.from_options(options)


def test_trace_order_false_creates_otel_traces_without_the_projection() -> None:
    location = Location.from_options({"trace_order": "false"})
    traces = create_statements(location, existing=set())[1]
    assert traces.startswith("CREATE TABLE IF NOT EXISTS `default`.`otel_traces` (")
    assert "PROJECTION" not in traces and traces.count("INDEX ") == 7
    assert "PROJECTION traceway_trace_order" in create_statements(Location(), existing=set())[1]


def test_rollup_and_dedup_queries() -> None:
    from traceway.storage.clickhouse import dedup, rollups

    minute = 60 * 10**9
    parts = [rollups.red_query(Location(), True, 10 * minute, 70 * minute, 5 * minute,
                               ["checkout"], [SpanKind.SERVER], by_operation=True),
             rollups.red_query(Location(), False, 10 * minute, 70 * minute + 1, minute,
                               None, None, by_operation=False),
             rollups.calls_query(Location(), 10 * minute, 70 * minute),
             dedup.known_traces(Location(), ["ab" * 16]),
             dedup.stored_spans(Location(), ["ab" * 16], 1, 2, own_columns=True),
             *dedup.rederived(Location(), ["ab" * 16], 1, 2, operations=True)]
    check("rollups_and_dedup.sql",
          "\n\n".join(f"{sql}\n-- {sorted(params.items())!r}" for sql, params in parts) + "\n")


def test_trace_summary_query() -> None:
    from traceway.storage.clickhouse.summaries import summary_query

    sql, params = summary_query(Location(), [("ab" * 16, 10, 12)])
    check("trace_summaries.sql", f"{sql}\n-- {sorted(params.items())!r}\n")
