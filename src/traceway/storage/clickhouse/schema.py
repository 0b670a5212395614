"""The OpenTelemetry Collector ClickHouse exporter's trace schema, as DDL. Pure.

``otel_traces``, ``otel_traces_trace_id_ts`` and ``otel_traces_trace_id_ts_mv``
are the exporter's (``exporter/clickhouseexporter/internal/sqltemplates``):
same columns, types, codecs, indexes, partitioning and ORDER BY, and the same
value forms (hex ids, ``SpanKind`` ``Server``, ``StatusCode`` ``Error``). So
Traceway reads what the exporter wrote, and what Traceway writes is read by
anything that reads that schema (Grafana's ClickHouse trace view).

Where that schema loses what Traceway shows (typed attribute values, dropped
counts, scope attributes, link and event details), tables Traceway creates get
three columns of its own: the span's OTLP ``detail``, resource and scope bytes
(``model.SpanRecord``). Rows without them (the exporter's) are rebuilt from
the exporter's columns with string-typed values. ``otel_traces_operations``
(+ ``_mv``) is Traceway's too: distinct (service, span name, kind) for the
service and operation lists without scanning spans. And ``otel_traces`` made
by Traceway has a projection of its own, ``traceway_trace_order``: the columns
a trace read needs, ordered by ``TraceId``. The exporter's ORDER BY puts a
trace's spans in as many granules as it has (service, span name) pairs, so
reading one trace decompressed ~8 granules of 8,192 rows; the projection holds
them together (``bench/clickhouse.py``). It lives in the table's parts, so a
``kill -9`` never leaves it behind the spans, unlike a view's table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from traceway.analysis.red import LOG_GAMMA
from traceway.model import SpanKind, StatusCode
from traceway.storage.api import StorageError

# Value forms: what the exporter writes now, and what older versions wrote.
KIND_NAMES = {SpanKind.UNSPECIFIED: "Unspecified", SpanKind.INTERNAL: "Internal",
              SpanKind.SERVER: "Server", SpanKind.CLIENT: "Client",
              SpanKind.PRODUCER: "Producer", SpanKind.CONSUMER: "Consumer"}
STATUS_NAMES = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}
KIND_BY_NAME = {**{name: int(k) for k, name in KIND_NAMES.items()},
                **{f"SPAN_KIND_{k.name}": int(k) for k in SpanKind}}
STATUS_BY_NAME = {**{name: int(c) for c, name in STATUS_NAMES.items()},
                  **{f"STATUS_CODE_{c.name}": int(c) for c in StatusCode}}


def kind_forms(kind: int) -> list[str]:
    """Every spelling of an OTLP kind number in ``SpanKind``."""
    return [name for name, number in KIND_BY_NAME.items() if number == kind]


def status_forms(code: int) -> list[str]:
    return [name for name, number in STATUS_BY_NAME.items() if number == code]


OWN_COLUMNS = ("TracewaySpan", "TracewayResource", "TracewayScope")
TRACE_ORDER = "traceway_trace_order"
# What a trace read of Traceway's rows selects (``rows.NARROW_READ_COLUMNS``).
TRACE_ORDER_COLUMNS = ("TraceId", "SpanId", "ParentSpanId", "ServiceName", "SpanName", "SpanKind",
                       "Timestamp", "Duration", "StatusCode", "StatusMessage", *OWN_COLUMNS)
_TRACE_ORDER_SELECT = ", ".join(TRACE_ORDER_COLUMNS)
# A trace sits in one projection granule per part; a granule (and the compressed
# blocks holding it) of 512 spans is what a read decompresses. At 8,192 rows and
# 1 MiB blocks, 20 traces over 5 parts read 120 ms; with these, 41 ms
# (``bench/clickhouse.py``). Servers older than 26.4 take no projection settings:
# they get the projection at the table's granularity (``ClickHouseStore``).
TRACE_ORDER_SETTINGS = (" WITH SETTINGS (index_granularity = 512, min_compress_block_size = 16384,"
                        " max_compress_block_size = 32768)")
# Merged parts split each attribute map into ~sqrt(keys per span) buckets by key
# hash, so a tag condition (``SpanAttributes['k'] = 'v'``) decompresses one
# bucket instead of every key and value: a service + tag search at 10M spans
# went from 125 to 84 ms p50, and the maps took ~15% less disk. Parts an insert
# makes keep the basic form (the default), as bucketing them costs ~14% more
# insert CPU. Servers that predate these settings refuse them (``ClickHouseStore``).
MAP_BUCKET_SETTINGS = (", map_serialization_version = 'with_buckets', map_buckets_min_avg_size = 0")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Location:
    """Where the tables are: the exporter's defaults unless the URL says otherwise."""

    database: str = "default"
    table: str = "otel_traces"
    cluster: str = ""
    ttl_s: int = 0  # 0: keep forever
    create: bool = True
    trace_order: bool = True  # the trace-ordered projection on a new otel_traces

    @classmethod
    def from_options(cls, options: dict[str, str], retention_ns: int = 0) -> Location:
        unknown = set(options) - {"database", "table", "cluster", "create", "trace_order",
                                  "secure", "verify", "ca_cert", "client_cert", "client_cert_key"}
        if unknown:
            raise StorageError(f"unknown --storage option(s): {', '.join(sorted(unknown))}")
        location = cls(database=options.get("database", cls.database),
                       table=options.get("table", cls.table),
                       cluster=options.get("cluster", ""), ttl_s=retention_ns // 10**9,
                       create=_flag(options, "create"), trace_order=_flag(options, "trace_order"))
        location.check()
        return location

    def with_database(self, database: str) -> Location:
        changed = replace(self, database=database)
        changed.check()
        return changed

    def check(self) -> None:
        for value in (self.database, self.table, *([self.cluster] if self.cluster else [])):
            if not _NAME.fullmatch(value):
                raise StorageError(f"{value!r} is not a plain ClickHouse name ([A-Za-z0-9_])")

    def name(self, suffix: str = "") -> str:
        return f"`{self.database}`.`{self.table}{suffix}`"

    @property
    def traces(self) -> str:
        return self.name()

    @property
    def trace_id_ts(self) -> str:
        return self.name("_trace_id_ts")

    @property
    def operations(self) -> str:
        return self.name("_operations")


def _flag(options: dict[str, str], name: str) -> bool:
    """A URL option that is on unless it says 0, false or no."""
    return options.get(name, "true").lower() not in ("0", "false", "no")


def _on_cluster(loc: Location) -> str:
    return f" ON CLUSTER `{loc.cluster}`" if loc.cluster else ""


def _engine(loc: Location, kind: str = "MergeTree") -> str:
    return f"Replicated{kind}()" if loc.cluster else f"{kind}()"


def _ttl(loc: Location, column: str) -> str:
    return f"TTL {column} + toIntervalSecond({loc.ttl_s})\n" if loc.ttl_s else ""


def _local(loc: Location) -> Location:
    """With a cluster, each shard holds ``<table>_local`` tables; ``<table>`` is
    a Distributed table over them (the layout Jaeger's ClickHouse backend uses)."""
    return replace(loc, table=f"{loc.table}_local") if loc.cluster else loc


def traces_table(loc: Location, tuned: bool = True) -> str:
    """``tuned``: with the settings only recent servers take (the projection's
    granules, bucketed maps)."""
    projection = ""
    if loc.trace_order:
        projection = (f",\n    PROJECTION {TRACE_ORDER} (SELECT {_TRACE_ORDER_SELECT} ORDER BY TraceId)"
                      + (TRACE_ORDER_SETTINGS if tuned else ""))
    return f"""CREATE TABLE IF NOT EXISTS {loc.traces}{_on_cluster(loc)} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    TracewaySpan String CODEC(ZSTD(3)),
    TracewayResource String CODEC(ZSTD(1)),
    TracewayScope String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8{projection}
) ENGINE = {_engine(loc)}
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
{_ttl(loc, "toDateTime(Timestamp)")}SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000{MAP_BUCKET_SETTINGS if tuned else ""}"""


def trace_id_ts_table(loc: Location) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {loc.trace_id_ts}{_on_cluster(loc)} (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = {_engine(loc)}
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
{_ttl(loc, "toDateTime(Start)")}SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""


def trace_id_ts_view(loc: Location) -> str:
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {loc.name("_trace_id_ts_mv")}{_on_cluster(loc)}
TO {loc.trace_id_ts}
AS SELECT
    TraceId,
    min(Timestamp) as Start,
    max(Timestamp) as End
FROM {loc.traces}
WHERE TraceId != ''
GROUP BY TraceId"""


def operations_table(loc: Location) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {loc.operations}{_on_cluster(loc)} (
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    LastSeen SimpleAggregateFunction(max, DateTime)
) ENGINE = {_engine(loc, "AggregatingMergeTree")}
ORDER BY (ServiceName, SpanName, SpanKind)
{_ttl(loc, "LastSeen")}"""


OPERATIONS_SELECT = """SELECT ServiceName, SpanName, SpanKind, max(toDateTime(Timestamp)) AS LastSeen
FROM {traces}
GROUP BY ServiceName, SpanName, SpanKind"""


def operations_view(loc: Location) -> str:
    return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {loc.name('_operations_mv')}"
            f"{_on_cluster(loc)}\nTO {loc.operations}\nAS "
            + OPERATIONS_SELECT.format(traces=loc.traces))


def operations_backfill(loc: Location) -> str:
    """Fill a new operations table from spans stored before it existed."""
    return f"INSERT INTO {loc.operations}\n" + OPERATIONS_SELECT.format(traces=loc.traces)


def red_table(loc: Location) -> str:
    """Per-minute RED partial rows (``clickhouse/rollups.py``); reads merge them."""
    return f"""CREATE TABLE IF NOT EXISTS {loc.name("_red")}{_on_cluster(loc)} (
    Minute DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    StatusCode LowCardinality(String),
    Calls SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    Sketch SimpleAggregateFunction(sumMap, Tuple(Array(Int16), Array(UInt64)))
) ENGINE = {_engine(loc, "AggregatingMergeTree")}
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Minute, SpanName, SpanKind, StatusCode)
{_ttl(loc, "Minute")}SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""


# The latency sketch bucket of ``analysis.red`` (``sketch_buckets``) in SQL.
SKETCH_BUCKET = f"toInt16(ceil(log(greatest(Duration, 1)) / {LOG_GAMMA!r}))"
SPAN_MINUTE = "toStartOfMinute(toDateTime(Timestamp))"


def red_view(loc: Location) -> str:
    return f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {loc.name('_red_mv')}{_on_cluster(loc)}
TO {loc.name('_red')}
AS SELECT {SPAN_MINUTE} AS Minute, ServiceName, SpanName, SpanKind, StatusCode,
    count() AS Calls, sum(Duration) AS DurationSum,
    sumMap([{SKETCH_BUCKET}], [toUInt64(1)]) AS Sketch
FROM {loc.traces}
GROUP BY Minute, ServiceName, SpanName, SpanKind, StatusCode"""


def _distributed(loc: Location, suffix: str, key: str) -> str:
    local = _local(loc)
    return (f"CREATE TABLE IF NOT EXISTS {loc.name(suffix)}{_on_cluster(loc)} "
            f"AS {local.name(suffix)}\nENGINE = Distributed(`{loc.cluster}`, "
            f"`{loc.database}`, `{local.table}{suffix}`, {key})")


def create_statements(loc: Location, existing: set[str], tuned: bool = True) -> list[str]:
    """DDL for the tables and views missing from ``existing`` (names in the
    database), in creation order. Existing tables are never altered."""
    local = _local(loc)
    wanted = [
        (f"{local.table}", traces_table(local, tuned)),
        (f"{local.table}_trace_id_ts", trace_id_ts_table(local)),
        (f"{local.table}_trace_id_ts_mv", trace_id_ts_view(local)),
        (f"{local.table}_operations", operations_table(local)),
        (f"{local.table}_operations_mv", operations_view(local)),
    ]
    # Rollups only beside spans they saw from the start: on tables the exporter
    # (or an older Traceway) made, RED is aggregated from the spans.
    rollups = local.table not in existing
    if rollups:
        wanted += [(f"{local.table}_red", red_table(local)),
                   (f"{local.table}_red_mv", red_view(local))]
    if loc.cluster and rollups:
        wanted += [(f"{loc.table}_red", _distributed(loc, "_red", "rand()"))]
    if loc.cluster:
        wanted += [(loc.table, _distributed(loc, "", "cityHash64(TraceId)")),
                   (f"{loc.table}_trace_id_ts", _distributed(loc, "_trace_id_ts",
                                                             "cityHash64(TraceId)")),
                   (f"{loc.table}_operations", _distributed(loc, "_operations", "rand()"))]
    statements = [f"CREATE DATABASE IF NOT EXISTS `{loc.database}`{_on_cluster(loc)}"]
    statements += [sql for name, sql in wanted if name not in existing]
    if f"{local.table}_operations" not in existing and local.table in existing:
        statements.append(operations_backfill(local))
    return statements
