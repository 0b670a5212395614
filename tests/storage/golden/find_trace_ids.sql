SELECT TraceId FROM `default`.`otel_traces`
WHERE Timestamp BETWEEN fromUnixTimestamp64Nano({start_min:Int64}) AND fromUnixTimestamp64Nano({start_max:Int64})
  AND ServiceName = {service:String}
  AND SpanName = {operation:String}
  AND SpanKind IN {kinds:Array(String)}
  AND Duration >= {duration_min:UInt64}
  AND Duration <= {duration_max:UInt64}
  AND (SpanAttributes[{tag0_key:String}] = {tag0_value:String} OR ResourceAttributes[{tag0_key:String}] = {tag0_value:String} OR arrayExists(m -> m[{tag0_key:String}] = {tag0_value:String}, `Events.Attributes`) OR arrayExists(m -> m[{tag0_key:String}] = {tag0_value:String}, `Links.Attributes`) OR multiSearchAny(TracewayScope, {tag0_encoded:Array(String)}) OR StatusCode IN {tag0_derived:Array(String)})
  AND (SpanAttributes[{tag1_key:String}] = {tag1_value:String} OR ResourceAttributes[{tag1_key:String}] = {tag1_value:String} OR arrayExists(m -> m[{tag1_key:String}] = {tag1_value:String}, `Events.Attributes`) OR arrayExists(m -> m[{tag1_key:String}] = {tag1_value:String}, `Links.Attributes`) OR multiSearchAny(TracewayScope, {tag1_encoded:Array(String)}))
GROUP BY TraceId ORDER BY max(Timestamp) DESC, TraceId LIMIT {limit:UInt32}
-- [('duration_max', 9000), ('duration_min', 1000), ('kinds', ['Server', 'SPAN_KIND_SERVER']), ('limit', 20), ('operation', 'GET /'), ('service', 'checkout'), ('start_max', 2), ('start_min', 1), ('tag0_derived', ['Error', 'STATUS_CODE_ERROR']), ('tag0_encoded', [b'\n\x05error\x12\x06\n\x04true', b'\n\x05error\x12\x02\x10\x01']), ('tag0_key', 'error'), ('tag0_value', 'true'), ('tag1_encoded', [b'\n\x10http.status_code\x12\x05\n\x03500', b'\n\x10http.status_code\x12\x03\x18\xf4\x03', b'\n\x10http.status_code\x12\t!\x00\x00\x00\x00\x00@\x7f@']), ('tag1_key', 'http.status_code'), ('tag1_value', '500')]
