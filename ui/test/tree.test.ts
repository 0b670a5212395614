import { describe, expect, it } from "vitest";
import { buildTraceTree, visibleNodes } from "../src/model/tree";
import { span, trace } from "./helpers";

const order = (t: ReturnType<typeof buildTraceTree>) => t.nodes.map((n) => `${"  ".repeat(n.depth)}${n.key}`);

describe("buildTraceTree", () => {
  it("orders spans depth-first with children by start time", () => {
    const t = buildTraceTree(trace([
      span("c2", { parent: "a", start: 30 }), span("a", { start: 0, duration: 100 }),
      span("c1", { parent: "a", start: 10 }), span("g", { parent: "c1", start: 12 }),
    ]));
    expect(order(t)).toEqual(["a", "  c1", "    g", "  c2"]);
    expect(t.rootOperation).toBe("op-a");
    expect(t.maxDepth).toBe(3);
    expect(t.roots.map((r) => r.key)).toEqual(["a"]);
  });

  it("makes a span whose parent is missing a root, flagged, and names the trace after the true root", () => {
    const t = buildTraceTree(trace([
      span("orphan", { parent: "gone", start: 0 }), span("root", { start: 5, op: "GET /" }), span("kid", { parent: "orphan", start: 1 }),
    ]));
    expect(order(t)).toEqual(["orphan", "  kid", "root"]);
    expect(t.byKey.get("orphan")!.missingParentID).toBe("gone");
    expect(t.rootOperation).toBe("GET /");
    expect(t.warnings.join()).toMatch(/parent that is not in the trace/);
  });

  it("keeps clock-skewed children under their parent, flags them, and stretches the trace", () => {
    const t = buildTraceTree(trace([
      span("p", { start: 1000, duration: 100 }),
      span("early", { parent: "p", start: 900, duration: 50, process: "p2" }),
      span("late", { parent: "p", start: 1050, duration: 500, process: "p2" }),
      span("fine", { parent: "p", start: 1010, duration: 10 }),
    ]));
    expect(order(t)).toEqual(["p", "  early", "  fine", "  late"]);
    expect(t.nodes.filter((n) => n.skewed).map((n) => n.key)).toEqual(["early", "late"]);
    expect(t.start).toBe(900);
    expect(t.duration).toBe(650);
    expect(t.byKey.get("p")!.offset).toBe(100);
  });

  it("does not call a FOLLOWS_FROM child that outlives its parent skewed", () => {
    const t = buildTraceTree(trace([span("p", { start: 0, duration: 10 }), span("c", { parent: "p", ref: "FOLLOWS_FROM", start: 50, duration: 30 })]));
    expect(t.byKey.get("c")!.skewed).toBe(false);
    expect(t.duration).toBe(80);
  });

  it("gives duplicated span ids unique keys and hangs a shared server span under its client", () => {
    const client = { key: "span.kind", type: "string", value: "client" };
    const server = { key: "span.kind", type: "string", value: "server" };
    const t = buildTraceTree(trace([
      span("r", { start: 0, duration: 100 }),
      span("s", { parent: "r", start: 10, duration: 50, tags: [client] }),
      span("s", { parent: "r", start: 12, duration: 40, tags: [server], process: "p2" }),
      span("child", { parent: "s", start: 15, duration: 5, process: "p2" }),
    ]));
    expect(order(t)).toEqual(["r", "  s", "    s~2", "      child"]);
    expect(t.byKey.get("s~2")!.service).toBe("backend");
    expect(t.nodes).toHaveLength(4);
    expect(t.warnings.join()).toMatch(/span id s appears 2 times/);
  });

  it("keeps other duplicates as siblings", () => {
    const t = buildTraceTree(trace([span("r", { duration: 1000 }), span("x", { parent: "r" }), span("x", { parent: "r", start: 1_000_010 })]));
    expect(order(t)).toEqual(["r", "  x", "  x~2"]);
  });

  it("breaks reference cycles instead of losing or looping on spans", () => {
    const t = buildTraceTree(trace([span("a", { parent: "b", start: 0 }), span("b", { parent: "a", start: 5 }), span("root", { start: 10 })]));
    expect(t.nodes).toHaveLength(3);
    expect(order(t)).toEqual(["root", "a", "  b"]);
    expect(t.warnings.join()).toMatch(/cycle/);
  });

  it("prefers CHILD_OF over FOLLOWS_FROM for the parent and keeps other references as links", () => {
    const t = buildTraceTree(trace([
      span("r", { duration: 1000 }), span("q", { parent: "r", start: 1_000_001 }),
      span("f", { parent: "q", ref: "FOLLOWS_FROM", start: 1_000_002,
        refs: [{ refType: "FOLLOWS_FROM", traceID: "ffff", spanID: "1234" }] }),
      span("both", { parent: "r", ref: "FOLLOWS_FROM", start: 1_000_003, refs: [{ refType: "CHILD_OF", traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "q" }] }),
    ]));
    const f = t.byKey.get("f")!;
    expect(f.parentRefType).toBe("FOLLOWS_FROM");
    expect(f.links.map((l) => l.traceID)).toEqual(["ffff"]);
    const both = t.byKey.get("both")!;
    expect(both.parent!.key).toBe("q");
    expect(both.links.map((l) => l.spanID)).toEqual(["r"]);
  });

  it("counts errors per service and marks ancestors of errors", () => {
    const err = [{ key: "otel.status_code", type: "string", value: "ERROR" }];
    const t = buildTraceTree(trace([
      span("r", { duration: 1000 }), span("m", { parent: "r", process: "p2" }),
      span("e", { parent: "m", process: "p2", tags: err }), span("ok", { parent: "r" }),
      span("e2", { parent: "r", tags: [{ key: "error", type: "bool", value: true }] }),
    ]));
    expect(t.errorCount).toBe(2);
    expect(t.services).toEqual([{ name: "frontend", spans: 3, errors: 1 }, { name: "backend", spans: 2, errors: 1 }]);
    expect(t.byKey.get("r")!.errorBelow).toBe(true);
    expect(t.byKey.get("m")!.errorBelow).toBe(true);
    expect(t.byKey.get("ok")!.errorBelow).toBe(false);
    expect(t.byKey.get("r")!.descendants).toBe(4);
  });

  it("handles an empty trace and a 100,000-deep chain without recursion", () => {
    expect(buildTraceTree(trace([])).nodes).toEqual([]);
    const chain = Array.from({ length: 100_000 }, (_, i) => span(`s${i}`, { parent: i ? `s${i - 1}` : undefined, start: 1_000_000 + i }));
    const t = buildTraceTree(trace(chain));
    expect(t.maxDepth).toBe(100_000);
    expect(t.nodes[99_999].key).toBe("s99999");
  });
});

describe("visibleNodes", () => {
  it("hides the descendants of collapsed spans", () => {
    const t = buildTraceTree(trace([
      span("a", { start: 0, duration: 100 }), span("b", { parent: "a", start: 1 }), span("c", { parent: "b", start: 2 }),
      span("d", { parent: "a", start: 3 }),
    ]));
    expect(visibleNodes(t, new Set(["b"])).map((n) => n.key)).toEqual(["a", "b", "d"]);
    expect(visibleNodes(t, new Set(["a"])).map((n) => n.key)).toEqual(["a"]);
    expect(visibleNodes(t, new Set()).map((n) => n.key)).toEqual(["a", "b", "c", "d"]);
  });
});
