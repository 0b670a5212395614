// Jaeger UI wire format, as served by /api/traces (times in microseconds).

export type TagValue = string | number | boolean;

export interface KeyValue {
  key: string;
  type?: string;
  value: TagValue;
}

export interface SpanReference {
  refType: "CHILD_OF" | "FOLLOWS_FROM";
  traceID: string;
  spanID: string;
}

export interface SpanLog {
  timestamp: number;
  fields: KeyValue[];
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: SpanReference[] | null;
  startTime: number;
  duration: number;
  tags?: KeyValue[] | null;
  logs?: SpanLog[] | null;
  processID: string;
  warnings?: string[] | null;
  flags?: number;
}

export interface JaegerProcess {
  serviceName: string;
  tags?: KeyValue[] | null;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, JaegerProcess>;
  warnings?: string[] | null;
  /** Traceway's clock-skew report: spans off their parent's host clock, and whether shifted. */
  clockSkew?: { spans: number; adjusted: boolean };
}

export interface Envelope<T> {
  data: T;
  total?: number;
  limit?: number;
  offset?: number;
  errors?: { code?: number; msg: string }[] | null;
}

export interface Dependency {
  parent: string;
  child: string;
  callCount: number;
}
