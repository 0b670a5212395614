WITH s AS (SELECT DISTINCT * FROM (SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode FROM `default`.`otel_traces` WHERE (TraceId = {id0:String} AND Timestamp >= fromUnixTimestamp64Nano({first0:Int64}) AND Timestamp < fromUnixTimestamp64Nano({last0:Int64})) ORDER BY Timestamp, SpanId)),
f AS (SELECT s.*, ParentSpanId != '' AND (ParentSpanId = SpanId
          OR (TraceId, ParentSpanId) NOT IN (SELECT TraceId, SpanId FROM s)) AS Orphan
      FROM s)
SELECT TraceId, ServiceName, count(), countIf(StatusCode IN {errors:Array(String)}),
       countIf(Orphan), min(StartNs), max(StartNs + Duration),
       min((multiIf(ParentSpanId = '', 0, Orphan, 1, 2), StartNs, -toInt64(Duration))), argMin(SpanName, (multiIf(ParentSpanId = '', 0, Orphan, 1, 2), StartNs, -toInt64(Duration)))
FROM f GROUP BY TraceId, ServiceName
-- [('errors', ['Error', 'STATUS_CODE_ERROR']), ('first0', 10000000000), ('id0', 'abababababababababababababababab'), ('last0', 13000000000)]
