"""Run as a script: make a chdb database the way the OpenTelemetry Collector's
ClickHouse exporter does (its exact DDL from exporter/clickhouseexporter/
internal/sqltemplates, default engine MergeTree(), no TTL) and insert spans
the way its exporter_traces.go writes them (hex ids, string-valued maps,
``Server``/``Error``; one span in the older ``SPAN_KIND_*``/``STATUS_CODE_*``
forms). A separate process, because chdb opens one engine path per process.

    python otel_exporter_tables.py <chdb path>
"""

import sys

import clickhouse_connect

TRACES_TABLE = """CREATE TABLE IF NOT EXISTS "default"."otel_traces"  (
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
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)

SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

ID_TS_TABLE = """CREATE TABLE IF NOT EXISTS "default"."otel_traces_trace_id_ts"  (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = MergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)

SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

ID_TS_VIEW = """CREATE MATERIALIZED VIEW IF NOT EXISTS "default"."otel_traces_trace_id_ts_mv"
TO "default"."otel_traces_trace_id_ts"
AS SELECT
              TraceId,
              min(Timestamp) as Start,
              max(Timestamp) as End
   FROM "default"."otel_traces"
   WHERE TraceId != ''
   GROUP BY TraceId
"""

INSERT = """INSERT INTO "default"."otel_traces" (Timestamp, TraceId, SpanId, ParentSpanId,
    TraceState, SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion,
    SpanAttributes, Duration, StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`,
    `Events.Attributes`, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`)
VALUES
(fromUnixTimestamp64Nano(T0), 'TRACE', 'a1a1a1a1a1a1a1a1', '', 'vendor=1',
 'GET /checkout', 'Server', 'frontend', map('service.name', 'frontend', 'host.name', 'web-1'),
 'io.opentelemetry.flask', '0.45b0', map('http.route', '/checkout', 'http.status_code', '200'),
 250000000, 'Ok', '', [fromUnixTimestamp64Nano(T0 + 1000)], ['request.read'],
 [map('bytes', '512')], ['LINKED'], ['c3c3c3c3c3c3c3c3'], [''], [map('reason', 'retry')]),
(fromUnixTimestamp64Nano(T0 + 5000000), 'TRACE', 'b2b2b2b2b2b2b2b2',
 'a1a1a1a1a1a1a1a1', '', 'charge', 'Client', 'payment', map('service.name', 'payment'),
 '', '', map('peer.service', 'bank'), 100000000, 'Error', 'card declined', [], [], [], [], [], [], []),
(fromUnixTimestamp64Nano(T0 + 7000000), 'TRACE', 'd4d4d4d4d4d4d4d4',
 'b2b2b2b2b2b2b2b2', '', 'legacy', 'SPAN_KIND_SERVER', 'bank', map('service.name', 'bank'),
 '', '', map('otel.scope.name', 'old-lib'), 1000000, 'STATUS_CODE_ERROR', '', [], [], [], [], [], [], [])
"""


def main(path: str, trace_id: str, linked: str, t0_ns: int) -> None:
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    for statement in (TRACES_TABLE, ID_TS_TABLE, ID_TS_VIEW):
        client.command(statement)
    # Test data of our own making: plain text substitution is safe here.
    client.command(INSERT.replace("T0", str(t0_ns)).replace("TRACE", trace_id)
                   .replace("LINKED", linked))
    client.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
