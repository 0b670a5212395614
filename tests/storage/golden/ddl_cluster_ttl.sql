CREATE DATABASE IF NOT EXISTS `tracing` ON CLUSTER `prod`;

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_local` ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
TTL toDateTime(Timestamp) + toIntervalSecond(604800)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000, map_serialization_version = 'with_buckets', map_buckets_min_avg_size = 0;

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_local_trace_id_ts` ON CLUSTER `prod` (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = ReplicatedMergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
TTL toDateTime(Start) + toIntervalSecond(604800)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS `tracing`.`otel_traces_local_trace_id_ts_mv` ON CLUSTER `prod`
TO `tracing`.`otel_traces_local_trace_id_ts`
AS SELECT
    TraceId,
    min(Timestamp) as Start,
    max(Timestamp) as End
FROM `tracing`.`otel_traces_local`
WHERE TraceId != ''
GROUP BY TraceId;

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_local_operations` ON CLUSTER `prod` (
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    LastSeen SimpleAggregateFunction(max, DateTime)
) ENGINE = ReplicatedAggregatingMergeTree()
ORDER BY (ServiceName, SpanName, SpanKind)
TTL LastSeen + toIntervalSecond(604800)
;

CREATE MATERIALIZED VIEW IF NOT EXISTS `tracing`.`otel_traces_local_operations_mv` ON CLUSTER `prod`
TO `tracing`.`otel_traces_local_operations`
AS SELECT ServiceName, SpanName, SpanKind, max(toDateTime(Timestamp)) AS LastSeen
FROM `tracing`.`otel_traces_local`
GROUP BY ServiceName, SpanName, SpanKind;

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_local_red` ON CLUSTER `prod` (
    Minute DateTime CODEC(Delta(4), ZSTD(1)),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    StatusCode LowCardinality(String),
    Calls SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    Sketch SimpleAggregateFunction(sumMap, Tuple(Array(Int16), Array(UInt64)))
) ENGINE = ReplicatedAggregatingMergeTree()
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Minute, SpanName, SpanKind, StatusCode)
TTL Minute + toIntervalSecond(604800)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `tracing`.`otel_traces_local_red_mv` ON CLUSTER `prod`
TO `tracing`.`otel_traces_local_red`
AS SELECT toStartOfMinute(toDateTime(Timestamp)) AS Minute, ServiceName, SpanName, SpanKind, StatusCode,
    count() AS Calls, sum(Duration) AS DurationSum,
    sumMap([toInt16(ceil(log(greatest(Duration, 1)) / 0.020000666706669435))], [toUInt64(1)]) AS Sketch
FROM `tracing`.`otel_traces_local`
GROUP BY Minute, ServiceName, SpanName, SpanKind, StatusCode;

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_red` ON CLUSTER `prod` AS `tracing`.`otel_traces_local_red`
ENGINE = Distributed(`prod`, `tracing`, `otel_traces_local_red`, rand());

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces` ON CLUSTER `prod` AS `tracing`.`otel_traces_local`
ENGINE = Distributed(`prod`, `tracing`, `otel_traces_local`, cityHash64(TraceId));

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_trace_id_ts` ON CLUSTER `prod` AS `tracing`.`otel_traces_local_trace_id_ts`
ENGINE = Distributed(`prod`, `tracing`, `otel_traces_local_trace_id_ts`, cityHash64(TraceId));

CREATE TABLE IF NOT EXISTS `tracing`.`otel_traces_operations` ON CLUSTER `prod` AS `tracing`.`otel_traces_local_operations`
ENGINE = Distributed(`prod`, `tracing`, `otel_traces_local_operations`, rand());
