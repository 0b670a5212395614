CREATE DATABASE IF NOT EXISTS `default`;

CREATE TABLE IF NOT EXISTS `default`.`otel_traces` (
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
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8,
    PROJECTION traceway_trace_order (SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, Timestamp, Duration, StatusCode, StatusMessage, TracewaySpan, TracewayResource, TracewayScope ORDER BY TraceId) WITH SETTINGS (index_granularity = 512, min_compress_block_size = 16384, max_compress_block_size = 32768)
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000, map_serialization_version = 'with_buckets', map_buckets_min_avg_size = 0;

CREATE TABLE IF NOT EXISTS `default`.`otel_traces_trace_id_ts` (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = MergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS `default`.`otel_traces_trace_id_ts_mv`
TO `default`.`otel_traces_trace_id_ts`
AS SELECT
    TraceId,
    min(Timestamp) as Start,
    max(Timestamp) as End
FROM `default`.`otel_traces`
WHERE TraceId != ''
GROUP BY TraceId;

CREATE TABLE IF NOT EXISTS `default`.`otel_traces_operations` (
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    LastSeen SimpleAggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree()
ORDER BY (ServiceName, SpanName, SpanKind)
;

CREATE MATERIALIZED VIEW IF NOT EXISTS `default`.`otel_traces_operations_mv`
TO `default`.`otel_traces_operations`
AS SELECT ServiceName, SpanName, SpanKind, max(toDateTime(Timestamp)) AS LastSeen
FROM `default`.`otel_traces`
GROUP BY ServiceName, SpanName, SpanKind;

CREATE TABLE IF NOT EXISTS `default`.`otel_traces_red` (
    Minute DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    StatusCode LowCardinality(String),
    Calls SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    Sketch SimpleAggregateFunction(sumMap, Tuple(Array(Int16), Array(UInt64)))
) ENGINE = AggregatingMergeTree()
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Minute, SpanName, SpanKind, StatusCode)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `default`.`otel_traces_red_mv`
TO `default`.`otel_traces_red`
AS SELECT toStartOfMinute(toDateTime(Timestamp)) AS Minute, ServiceName, SpanName, SpanKind, StatusCode,
    count() AS Calls, sum(Duration) AS DurationSum,
    sumMap([toInt16(ceil(log(greatest(Duration, 1)) / 0.020000666706669435))], [toUInt64(1)]) AS Sketch
FROM `default`.`otel_traces`
GROUP BY Minute, ServiceName, SpanName, SpanKind, StatusCode;
