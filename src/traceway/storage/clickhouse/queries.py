"""The SQL Traceway asks of ClickHouse, as (statement, parameters). Pure.

Every value travels as a bound parameter (``{name:Type}``); only table names,
checked by ``Location``, are part of the text. Kinds and statuses match both
spellings the exporter has used (``Server`` and ``SPAN_KIND_SERVER``).
"""

from __future__ import annotations

from typing import Any

from traceway.convert.derived import derived_condition, encoded_in_detail
from traceway.storage.api import TraceQuery
from traceway.storage.clickhouse.schema import Location, kind_forms, status_forms
from traceway.storage.tagmatch import encoded_patterns, key_bytes

Query = tuple[str, dict[str, Any]]

# How far a parent may start before its child, when joining for dependencies.
PARENT_MARGIN_NS = 3_600 * 10**9
_WINDOW = ("Timestamp BETWEEN fromUnixTimestamp64Nano({start_min:Int64}) "
           "AND fromUnixTimestamp64Nano({start_max:Int64})")


TraceRange = tuple[str, int, int]  # trace id, first start second, last start second


def trace_ranges(loc: Location, trace_ids: list[str]) -> Query:
    """First and last start second of each trace, from the lookup table."""
    return (f"SELECT TraceId, min(Start), max(End) FROM {loc.trace_id_ts} "
            "WHERE TraceId IN {ids:Array(String)} GROUP BY TraceId", {"ids": trace_ids})


def trace_spans(loc: Location, ranges: list[TraceRange], columns: str) -> Query:
    """Every span of the traces, each pruned to its own seconds from the lookup
    table (partition by day, primary key on the second, bloom filter on TraceId):
    the read for tables without Traceway's trace-ordered projection."""
    conditions, params = [], {}
    for i, (trace_id, first_s, last_s) in enumerate(ranges):
        # (DateTime64 against DateTime bounds trips a skip-index bug in 26.x.)
        conditions.append(f"(TraceId = {{id{i}:String}} AND Timestamp >= "
                          f"fromUnixTimestamp64Nano({{first{i}:Int64}}) AND Timestamp < "
                          f"fromUnixTimestamp64Nano({{last{i}:Int64}}))")
        params.update({f"id{i}": trace_id, f"first{i}": first_s * 10**9,
                       f"last{i}": (last_s + 1) * 10**9})
    return (f"SELECT {columns} FROM {loc.traces} WHERE " + "\n   OR ".join(conditions)
            + " ORDER BY Timestamp, SpanId", params)


def trace_by_id(loc: Location, trace_id: str, columns: str) -> Query:
    """Every span of one trace in one round trip, on tables without the
    projection: the lookup table's seconds become the bounds (scalar subqueries,
    folded to constants before the partition, primary key and bloom filter pick
    the granules)."""

    def second(aggregate: str) -> str:
        return (f"toInt64(toUnixTimestamp((SELECT {aggregate} FROM {loc.trace_id_ts} "
                "WHERE TraceId = {id:String})))")

    first, last = second("min(Start)"), second("max(End)")
    return (f"SELECT {columns} FROM {loc.traces}\nWHERE TraceId = {{id:String}}\n"
            f"  AND Timestamp >= fromUnixTimestamp64Nano({first} * 1000000000)\n"
            f"  AND Timestamp < fromUnixTimestamp64Nano(({last} + 1) * 1000000000)\n"
            "ORDER BY Timestamp, SpanId", {"id": trace_id})


def traces_in_order(loc: Location, trace_ids: list[str], columns: str) -> Query:
    """Every span of the traces from the ``traceway_trace_order`` projection
    (ClickHouse picks it: ordered by TraceId, it has the fewest granules to
    read). ``columns`` must be among ``schema.TRACE_ORDER_COLUMNS``."""
    return (f"SELECT {columns} FROM {loc.traces}\nWHERE TraceId IN {{ids:Array(String)}}\n"
            "ORDER BY Timestamp, SpanId", {"ids": trace_ids})


def find_trace_ids(loc: Location, query: TraceQuery, own_columns: bool) -> Query:
    """Ids of up to ``limit`` traces with a span meeting every condition, by
    their latest matching span, newest first."""
    where, params = _conditions(query, own_columns)
    params["limit"] = query.limit
    return (f"SELECT TraceId FROM {loc.traces}\nWHERE {where}\n"
            "GROUP BY TraceId ORDER BY max(Timestamp) DESC, TraceId LIMIT {limit:UInt32}", params)


def candidate_spans(loc: Location, query: TraceQuery, own_columns: bool, columns: str,
                    cap: int) -> Query:
    """Newest spans meeting every condition SQL can decide, for searches with
    tag patterns: each pattern's key must be present; ``span_matches`` decides."""
    where, params = _conditions(query, own_columns)
    for i, pattern in enumerate(query.tag_patterns):
        if pattern.key not in DERIVED_KEYS:
            where += "\n  AND " + _has_key(i, pattern.key, own_columns, params)
    params["cap"] = cap
    return (f"SELECT {columns} FROM {loc.traces}\nWHERE {where}\n"
            "ORDER BY Timestamp DESC LIMIT {cap:UInt32}", params)


# Keys a pattern may match through a derived tag rather than an attribute.
DERIVED_KEYS = frozenset({"otel.scope.name", "otel.scope.version", "span.kind", "otel.status_code",
                          "otel.status_description", "w3c.tracestate", "event"})


def _has_key(i: int, key: str, own_columns: bool, params: dict[str, Any]) -> str:
    name = f"pattern{i}_key"
    params[name] = key
    options = [f"mapContains(SpanAttributes, {{{name}:String}})",
               f"mapContains(ResourceAttributes, {{{name}:String}})",
               f"arrayExists(m -> mapContains(m, {{{name}:String}}), `Events.Attributes`)",
               f"arrayExists(m -> mapContains(m, {{{name}:String}}), `Links.Attributes`)"]
    if own_columns:  # scope attributes live only in Traceway's scope bytes
        params[f"{name}_bytes"] = key_bytes(key)
        options.append(f"position(TracewayScope, {{{name}_bytes:String}}) > 0")
    return "(" + " OR ".join(options) + ")"


def _conditions(query: TraceQuery, own_columns: bool) -> tuple[str, dict[str, Any]]:
    conditions = [_WINDOW]
    params: dict[str, Any] = {"start_min": query.start_min_ns, "start_max": query.start_max_ns}
    if query.service is not None:
        conditions.append("ServiceName = {service:String}")
        params["service"] = query.service
    if query.operation is not None:
        conditions.append("SpanName = {operation:String}")
        params["operation"] = query.operation
    if query.span_kind is not None:
        conditions.append("SpanKind IN {kinds:Array(String)}")
        params["kinds"] = kind_forms(query.span_kind)
    if query.duration_min_ns is not None:
        conditions.append("Duration >= {duration_min:UInt64}")
        params["duration_min"] = query.duration_min_ns
    if query.duration_max_ns is not None:
        conditions.append("Duration <= {duration_max:UInt64}")
        params["duration_max"] = query.duration_max_ns
    for i, (key, value) in enumerate(sorted(query.tags.items())):
        conditions.append(tag_condition(i, key, value, own_columns, params))
    return "\n  AND ".join(conditions), params


def tag_condition(i: int, key: str, value: str, own_columns: bool,
                  params: dict[str, Any]) -> str:
    """True for a span showing ``key`` with string value ``value``: in its
    attributes, resource, events', links' attributes, or a derived tag."""
    k, v = f"tag{i}_key", f"tag{i}_value"
    params[k], params[v] = key, value

    def has(m: str) -> str:
        if value:  # a missing key reads as '': one map lookup decides
            return f"{m}[{{{k}:String}}] = {{{v}:String}}"
        return f"(mapContains({m}, {{{k}:String}}) AND {m}[{{{k}:String}}] = {{{v}:String}})"

    options = [has("SpanAttributes"), has("ResourceAttributes"),
               f"arrayExists(m -> {has('m')}, `Events.Attributes`)",
               f"arrayExists(m -> {has('m')}, `Links.Attributes`)"]
    if own_columns:  # the exporter's schema has no scope attributes
        params[f"tag{i}_encoded"] = encoded_patterns(key, value)
        options.append(f"multiSearchAny(TracewayScope, {{tag{i}_encoded:Array(String)}})")
    derived = _derived(i, key, value, own_columns, params)
    if derived:
        options.append(derived)
    return "(" + " OR ".join(options) + ")"


def _derived(i: int, key: str, value: str, own_columns: bool, params: dict[str, Any]) -> str | None:
    found = derived_condition(key, value)
    if found is None:
        return None
    field, wanted = found
    name = f"tag{i}_derived"
    if field == "kind":
        params[name] = kind_forms(int(wanted))
        return f"SpanKind IN {{{name}:Array(String)}}"
    if field == "status_code":
        params[name] = status_forms(int(wanted))
        return f"StatusCode IN {{{name}:Array(String)}}"
    columns = {"status_message": "StatusMessage", "scope_name": "ScopeName",
               "scope_version": "ScopeVersion", "trace_state": "TraceState"}
    params[name] = wanted
    if field in columns:
        return f"{columns[field]} = {{{name}:String}}"
    if field == "event_name":
        return f"has(`Events.Name`, {{{name}:String}})"
    if not own_columns:  # dropped counts: only Traceway's own span bytes keep them
        return None
    params[name] = encoded_in_detail(field, wanted)
    return f"position(TracewaySpan, {{{name}:String}}) > 0"


def operations(table: str, service: str | None) -> Query:
    """Services (``service`` None) or a service's (name, kind) pairs, from
    Traceway's operations table or, when absent, the spans table."""
    if service is None:
        return f"SELECT DISTINCT ServiceName FROM {table} ORDER BY ServiceName", {}
    return (f"SELECT DISTINCT SpanName, SpanKind FROM {table} "
            "WHERE ServiceName = {service:String}", {"service": service})


def callee_join(loc: Location, child_window: str, parent_window: str, measures: str) -> str:
    """Callee spans in ``child_window`` joined to their parents (in
    ``parent_window``) across services, grouped by (Parent, Child) with
    ``measures`` over the callees (``c.CalleeStatus``, ``c.CalleeDuration``).
    Identical copies of a callee count once; a span id Zipkin shares between a
    CLIENT and a SERVER half is the SERVER's. Spans are matched on 64-bit
    hashes of (trace id, span id) rather than the two strings: 2.4x less CPU
    for an hour of 1M spans/hour (a collision needs ~2^32 spans in a window)."""
    return f"""SELECT p.CallerService AS Parent, c.CalleeService AS Child, {measures}
FROM (SELECT any(cityHash64(TraceId, ParentSpanId)) AS ParentKey, any(ServiceName) AS CalleeService,
             any(StatusCode) AS CalleeStatus, any(Duration) AS CalleeDuration
      FROM {loc.traces}
      WHERE {child_window} AND ParentSpanId != ''
      GROUP BY cityHash64(TraceId, SpanId, ParentSpanId, ServiceName, StatusCode, Duration)) AS c
INNER JOIN (SELECT cityHash64(TraceId, SpanId) AS Key,
                   argMin(ServiceName, SpanKind NOT IN {{servers:Array(String)}}) AS CallerService
            FROM {loc.traces}
            WHERE {parent_window}
            GROUP BY Key) AS p
  ON c.ParentKey = p.Key
WHERE p.CallerService != c.CalleeService
GROUP BY Parent, Child ORDER BY Parent, Child"""


def dependencies(loc: Location, start_min_ns: int, start_max_ns: int) -> Query:
    """Caller -> callee calls: child spans in the window joined to their
    parents (which may start up to an hour earlier)."""
    parents = ("Timestamp BETWEEN fromUnixTimestamp64Nano({parent_min:Int64}) "
               "AND fromUnixTimestamp64Nano({start_max:Int64})")
    return (callee_join(loc, _WINDOW, parents,
                        "count() AS calls, countIf(c.CalleeStatus IN {errors:Array(String)}) AS failed"),
            {"start_min": start_min_ns, "start_max": start_max_ns,
             "parent_min": start_min_ns - PARENT_MARGIN_NS, "errors": status_forms(2),
             "servers": kind_forms(2)})
