import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { parseTagTerms, toLogfmt } from "../src/model/logfmt";

const parseLogfmt = (text: string) => Object.fromEntries(parseTagTerms(text).map((t) => [t.key, t.op + t.value]));
import { tracesFromOtlp, traceToOtlp } from "../src/model/otlp";
import { tracesFromDocument } from "../src/model/parse";
import { findSpans } from "../src/model/find";
import { buildTraceTree } from "../src/model/tree";
import { formatDuration, parseDuration } from "../src/model/format";
import { apiParams, formFromQuery, queryFromForm } from "../src/model/search";
import type { JaegerTrace } from "../src/model/types";
import { span, trace } from "./helpers";

describe("logfmt", () => {
  it("parses pairs, quoted values and escapes", () => {
    expect(parseLogfmt('http.status_code=500 error=true msg="not \\"found\\"" empty=')).toEqual({
      "http.status_code": "500", error: "true", msg: 'not "found"', empty: "",
    });
    expect(parseLogfmt("  ")).toEqual({});
  });
  it("rejects words without a value", () => {
    expect(() => parseLogfmt("error")).toThrow(/key=value/);
  });
  it("round-trips", () => {
    const tags = { a: "1", b: "two words", c: 'q"' };
    expect(parseLogfmt(toLogfmt(tags))).toEqual(tags);
  });
});

describe("search URLs", () => {
  it("keep tag patterns as logfmt, which the API reads", () => {
    const tags = 'exception.type=~Time(out)? msg=*"not found" error=true';
    const q = queryFromForm({ ...formFromQuery(new URLSearchParams()), service: "api", tags });
    expect(q.get("tags")).toBe(tags);
    expect(formFromQuery(q).tags).toBe(tags);
    expect(apiParams(q).get("tags")).toBe(tags);
    expect(parseTagTerms(tags)).toEqual([
      { key: "exception.type", op: "~", value: "Time(out)?" }, { key: "msg", op: "*", value: "not found" },
      { key: "error", op: "", value: "true" }]);
    expect(() => parseTagTerms('msg="open')).toThrow(/expected key=value/);
  });

  it("turn logfmt tags into the API's JSON and back", () => {
    const q = queryFromForm({ ...formFromQuery(new URLSearchParams()), service: "api", tags: "error=true http.status_code=500", minDuration: "100" });
    expect(JSON.parse(q.get("tags")!)).toEqual({ error: "true", "http.status_code": "500" });
    expect(q.get("minDuration")).toBe("100ms");
    expect(formFromQuery(q).tags).toBe("error=true http.status_code=500");
  });
  it("resolve a lookback into start and end in µs", () => {
    const p = apiParams(new URLSearchParams("service=api&lookback=2h"), 10_000_000);
    expect(p.get("end")).toBe("10000000000");
    expect(p.get("start")).toBe(String((10_000_000 - 7_200_000) * 1000));
  });
  it("pass a custom range through and require both ends", () => {
    const form = { ...formFromQuery(new URLSearchParams()), service: "api", lookback: "custom", start: "1000", end: "2000" };
    const p = apiParams(queryFromForm(form));
    expect([p.get("start"), p.get("end"), p.get("lookback")]).toEqual(["1000", "2000", null]);
    expect(() => queryFromForm({ ...form, end: "" })).toThrow(/start and an end/);
  });
  it("reject unreadable durations", () => {
    expect(() => queryFromForm({ ...formFromQuery(new URLSearchParams()), service: "a", maxDuration: "soon" })).toThrow(/max duration/);
  });
});

describe("durations", () => {
  it("format and parse", () => {
    expect(formatDuration(850)).toBe("850µs");
    expect(formatDuration(12_345)).toBe("12.3ms");
    expect(formatDuration(4_560_000)).toBe("4.56s");
    expect(parseDuration("1.5s")).toBe(1_500_000);
    expect(parseDuration("300us")).toBe(300);
    expect(parseDuration("x")).toBeUndefined();
  });
});

const FIXTURES = new URL("../../../shared/fixtures/otlp-json/", import.meta.url);
const fixture = (name: string) => {
  try { return readFileSync(new URL(name, FIXTURES), "utf8"); } catch { return null; }
};

describe("OTLP JSON", () => {
  const doc = {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "cart" } }, { key: "host.name", value: { stringValue: "h1" } }] },
      scopeSpans: [{
        scope: { name: "io.opentelemetry.http", version: "1.2" },
        spans: [{
          traceId: "5B8EFFF798038103D269B633813FC60C", spanId: "EEE19B7EC3C1B174", parentSpanId: "EEE19B7EC3C1B173",
          name: "GET /cart", kind: 2, startTimeUnixNano: "1544712660000000000", endTimeUnixNano: "1544712661000000000",
          attributes: [{ key: "http.status_code", value: { intValue: "503" } }, { key: "retry", value: { boolValue: true } }],
          events: [{ timeUnixNano: "1544712660500000000", name: "exception", attributes: [{ key: "exception.message", value: { stringValue: "boom" } }] }],
          links: [{ traceId: "00000000000000000000000000000001", spanId: "0000000000000002" }],
          status: { code: 2, message: "upstream 503" },
        }],
      }],
    }],
  };

  it("becomes Jaeger spans with the UI's special tags", () => {
    const [t] = tracesFromOtlp(doc);
    const s = t.spans[0];
    expect(t.traceID).toBe("5b8efff798038103d269b633813fc60c");
    expect(s.startTime).toBe(1544712660000000);
    expect(s.duration).toBe(1_000_000);
    const tags = Object.fromEntries(s.tags!.map((x) => [x.key, x.value]));
    expect(tags).toMatchObject({ "http.status_code": 503, retry: true, "span.kind": "server", "otel.scope.name": "io.opentelemetry.http",
      "otel.status_code": "ERROR", "otel.status_description": "upstream 503", error: true });
    expect(s.references).toEqual([
      { refType: "CHILD_OF", traceID: t.traceID, spanID: "eee19b7ec3c1b173" },
      { refType: "FOLLOWS_FROM", traceID: "00000000000000000000000000000001", spanID: "0000000000000002" },
    ]);
    expect(s.logs![0]).toEqual({ timestamp: 1544712660500000, fields: [
      { key: "event", type: "string", value: "exception" }, { key: "exception.message", type: "string", value: "boom" }] });
    expect(t.processes[s.processID]).toEqual({ serviceName: "cart", tags: [{ key: "host.name", type: "string", value: "h1" }] });
  });

  it("round-trips through traceToOtlp", () => {
    const [t] = tracesFromOtlp(doc);
    const [again] = tracesFromOtlp(traceToOtlp(t));
    expect(again.spans).toEqual(t.spans.map((s) => ({ ...s, processID: "p1" })));
    expect(Object.values(again.processes)).toEqual(Object.values(t.processes));
  });

  it("reads the shared OTLP fixtures", () => {
    for (const name of ["otel-proto-examples-trace.json", "jaeger-memory-otel_traces_01.json", "jaeger-otlp2jaeger-in.json"]) {
      const text = fixture(name);
      if (text === null) continue; // only present in the Traceway workspace
      const traces = tracesFromDocument(text);
      expect(traces.length).toBeGreaterThan(0);
      for (const t of traces) expect(buildTraceTree(t).nodes.length).toBe(t.spans.length);
    }
  });
});

describe("Jaeger's storage-integration corpus", () => {
  const dir = new URL("../../../shared/fixtures/jaeger-storage-integration/traces/", import.meta.url);
  it.skipIf(!existsSync(dir))("opens every trace and round-trips it through OTLP", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      for (const t of tracesFromDocument(readFileSync(new URL(f, dir), "utf8"))) {
        const tree = buildTraceTree(t);
        expect(tree.nodes.length, f).toBe(t.spans.length);
        expect(tree.warnings.filter((w) => /cycle/.test(w)), f).toEqual([]);
        const [again] = tracesFromOtlp(traceToOtlp(t));
        const key = (x: JaegerTrace) => x.spans.map((s) => `${s.spanID} ${s.operationName} ${s.startTime} ${s.duration}`).sort();
        expect(key(again), f).toEqual(key(t));
      }
    }
  });
});

describe("tracesFromDocument", () => {
  const t = trace([span("a"), span("b", { parent: "a" })]);
  it("accepts Jaeger envelopes and bare traces", () => {
    expect(tracesFromDocument(JSON.stringify({ data: [t] }))[0].spans).toHaveLength(2);
    expect(tracesFromDocument(JSON.stringify(t))[0].traceID).toBe(t.traceID);
  });
  it("explains what it expected", () => {
    expect(() => tracesFromDocument("{")).toThrow(/not valid JSON/);
    expect(() => tracesFromDocument('{"foo": 1}')).toThrow(/Jaeger JSON/);
    expect(() => tracesFromDocument('{"data": []}')).toThrow(/no spans/);
  });
});

describe("findSpans", () => {
  it("matches every term against service, operation and tags", () => {
    const tr = buildTraceTree(trace([
      span("a", { op: "GET /cart", tags: [{ key: "http.status_code", type: "int64", value: 500 }] }),
      span("b", { parent: "a", op: "SELECT", process: "p2" }),
    ]));
    expect([...findSpans(tr, "http.status_code=500")]).toEqual(["a"]);
    expect([...findSpans(tr, "BACKEND select")]).toEqual(["b"]);
    expect([...findSpans(tr, "frontend select")]).toEqual([]);
    expect(findSpans(tr, "  ").size).toBe(0);
  });
  it("finds the spans in error with is:error", () => {
    const tr = buildTraceTree(trace([
      span("a", { tags: [{ key: "error", type: "bool", value: true }] }),
      span("b", { parent: "a", tags: [{ key: "error.type", type: "string", value: "none" }] }),
    ]));
    expect([...findSpans(tr, "is:error")]).toEqual(["a"]);
  });
});
