SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, StatusMessage, TracewaySpan, TracewayResource, TracewayScope FROM `default`.`otel_traces`
WHERE TraceId IN {ids:Array(String)}
ORDER BY Timestamp, SpanId
-- [('ids', ['abababababababababababababababab', 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'])]

SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, StatusMessage, TracewaySpan, TracewayResource, TracewayScope FROM `default`.`otel_traces`
WHERE TraceId = {id:String}
  AND Timestamp >= fromUnixTimestamp64Nano(toInt64(toUnixTimestamp((SELECT min(Start) FROM `default`.`otel_traces_trace_id_ts` WHERE TraceId = {id:String}))) * 1000000000)
  AND Timestamp < fromUnixTimestamp64Nano((toInt64(toUnixTimestamp((SELECT max(End) FROM `default`.`otel_traces_trace_id_ts` WHERE TraceId = {id:String}))) + 1) * 1000000000)
ORDER BY Timestamp, SpanId
-- [('id', 'abababababababababababababababab')]

SELECT TraceId, min(Start), max(End) FROM `default`.`otel_traces_trace_id_ts` WHERE TraceId IN {ids:Array(String)} GROUP BY TraceId
-- [('ids', ['abababababababababababababababab'])]

SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, StatusMessage, TracewaySpan, TracewayResource, TracewayScope FROM `default`.`otel_traces` WHERE (TraceId = {id0:String} AND Timestamp >= fromUnixTimestamp64Nano({first0:Int64}) AND Timestamp < fromUnixTimestamp64Nano({last0:Int64}))
   OR (TraceId = {id1:String} AND Timestamp >= fromUnixTimestamp64Nano({first1:Int64}) AND Timestamp < fromUnixTimestamp64Nano({last1:Int64})) ORDER BY Timestamp, SpanId
-- [('first0', 10000000000), ('first1', 11000000000), ('id0', 'abababababababababababababababab'), ('id1', 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'), ('last0', 13000000000), ('last1', 12000000000)]

SELECT p.CallerService AS Parent, c.CalleeService AS Child, count() AS calls, countIf(c.CalleeStatus IN {errors:Array(String)}) AS failed
FROM (SELECT any(cityHash64(TraceId, ParentSpanId)) AS ParentKey, any(ServiceName) AS CalleeService,
             any(StatusCode) AS CalleeStatus, any(Duration) AS CalleeDuration
      FROM `default`.`otel_traces`
      WHERE Timestamp BETWEEN fromUnixTimestamp64Nano({start_min:Int64}) AND fromUnixTimestamp64Nano({start_max:Int64}) AND ParentSpanId != ''
      GROUP BY cityHash64(TraceId, SpanId, ParentSpanId, ServiceName, StatusCode, Duration)) AS c
INNER JOIN (SELECT cityHash64(TraceId, SpanId) AS Key,
                   argMin(ServiceName, SpanKind NOT IN {servers:Array(String)}) AS CallerService
            FROM `default`.`otel_traces`
            WHERE Timestamp BETWEEN fromUnixTimestamp64Nano({parent_min:Int64}) AND fromUnixTimestamp64Nano({start_max:Int64})
            GROUP BY Key) AS p
  ON c.ParentKey = p.Key
WHERE p.CallerService != c.CalleeService
GROUP BY Parent, Child ORDER BY Parent, Child
-- [('errors', ['Error', 'STATUS_CODE_ERROR']), ('parent_min', -3599999999999), ('servers', ['Server', 'SPAN_KIND_SERVER']), ('start_max', 2), ('start_min', 1)]
