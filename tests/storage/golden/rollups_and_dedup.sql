SELECT ServiceName, SpanName AS Operation,
       {start:Int64} + intDiv(toInt64(toUnixTimestamp(Minute)) * 1000000000 - {start:Int64},
                                {step:Int64}) * {step:Int64} AS TimeNs,
       sum(Calls) AS N, sumIf(Calls, StatusCode IN {errors:Array(String)}) AS E,
       sum(DurationSum) AS D, sumMap(Sketch) AS S
FROM (SELECT * FROM `default`.`otel_traces_red` WHERE Minute >= toDateTime({first:Int64}) AND Minute < toDateTime({after:Int64}) AND ServiceName IN {services:Array(String)} AND SpanKind IN {kinds:Array(String)})
GROUP BY ServiceName, Operation, TimeNs
ORDER BY ServiceName, Operation, TimeNs
-- [('after', 4200), ('errors', ['Error', 'STATUS_CODE_ERROR']), ('first', 600), ('kinds', ['Server', 'SPAN_KIND_SERVER']), ('services', ['checkout']), ('start', 600000000000), ('step', 300000000000)]

SELECT ServiceName, '' AS Operation,
       {start:Int64} + intDiv(toInt64(toUnixTimestamp(Minute)) * 1000000000 - {start:Int64},
                                {step:Int64}) * {step:Int64} AS TimeNs,
       sum(Calls) AS N, sumIf(Calls, StatusCode IN {errors:Array(String)}) AS E,
       sum(DurationSum) AS D, sumMap(Sketch) AS S
FROM (SELECT toStartOfMinute(toDateTime(Timestamp)) AS Minute, ServiceName, SpanName, SpanKind, StatusCode, toUInt64(1) AS Calls, Duration AS DurationSum, ([toInt16(ceil(log(greatest(Duration, 1)) / 0.020000666706669435))], [toUInt64(1)]) AS Sketch FROM `default`.`otel_traces` WHERE Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64}))
GROUP BY ServiceName, Operation, TimeNs
ORDER BY ServiceName, Operation, TimeNs
-- [('after', 4201), ('errors', ['Error', 'STATUS_CODE_ERROR']), ('first', 600), ('hi', 4260000000000), ('lo', 600000000000), ('start', 600000000000), ('step', 60000000000)]

SELECT p.CallerService AS Parent, c.CalleeService AS Child, count() AS N, countIf(c.CalleeStatus IN {errors:Array(String)}) AS E, sumMap([toInt16(ceil(log(greatest(c.CalleeDuration, 1)) / 0.020000666706669435))], [toUInt64(1)]) AS S
FROM (SELECT any(cityHash64(TraceId, ParentSpanId)) AS ParentKey, any(ServiceName) AS CalleeService,
             any(StatusCode) AS CalleeStatus, any(Duration) AS CalleeDuration
      FROM `default`.`otel_traces`
      WHERE Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64}) AND ParentSpanId != ''
      GROUP BY cityHash64(TraceId, SpanId, ParentSpanId, ServiceName, StatusCode, Duration)) AS c
INNER JOIN (SELECT cityHash64(TraceId, SpanId) AS Key,
                   argMin(ServiceName, SpanKind NOT IN {servers:Array(String)}) AS CallerService
            FROM `default`.`otel_traces`
            WHERE Timestamp >= fromUnixTimestamp64Nano({parent_lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})
            GROUP BY Key) AS p
  ON c.ParentKey = p.Key
WHERE p.CallerService != c.CalleeService
GROUP BY Parent, Child ORDER BY Parent, Child
-- [('errors', ['Error', 'STATUS_CODE_ERROR']), ('hi', 4200000000000), ('lo', 600000000000), ('parent_lo', -3000000000000), ('servers', ['Server', 'SPAN_KIND_SERVER'])]

SELECT DISTINCT TraceId FROM `default`.`otel_traces_trace_id_ts` WHERE TraceId IN {ids:Array(String)}
-- [('ids', ['abababababababababababababababab'])]

SELECT TraceId, SpanId, toUnixTimestamp64Nano(Timestamp), ServiceName, SpanKind, MD5(concat(TracewaySpan, TracewayResource, TracewayScope)) FROM `default`.`otel_traces` WHERE TraceId IN {ids:Array(String)} AND Timestamp BETWEEN fromUnixTimestamp64Nano({first:Int64}) AND fromUnixTimestamp64Nano({last:Int64})
-- [('first', 1), ('ids', ['abababababababababababababababab']), ('last', 2)]

INSERT INTO `default`.`otel_traces_trace_id_ts` (TraceId, Start, End)
SELECT TraceId, min(Timestamp), max(Timestamp) FROM `default`.`otel_traces`
WHERE TraceId IN {ids:Array(String)} AND Timestamp BETWEEN fromUnixTimestamp64Nano({first:Int64}) AND fromUnixTimestamp64Nano({last:Int64})
GROUP BY TraceId
-- [('first', 1), ('ids', ['abababababababababababababababab']), ('last', 2)]

INSERT INTO `default`.`otel_traces_operations`
SELECT ServiceName, SpanName, SpanKind, max(toDateTime(Timestamp)) FROM `default`.`otel_traces`
WHERE TraceId IN {ids:Array(String)} AND Timestamp BETWEEN fromUnixTimestamp64Nano({first:Int64}) AND fromUnixTimestamp64Nano({last:Int64})
GROUP BY ServiceName, SpanName, SpanKind
-- [('first', 1), ('ids', ['abababababababababababababababab']), ('last', 2)]
