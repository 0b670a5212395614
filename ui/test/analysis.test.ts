import { describe, expect, it } from "vitest";
import { causeOf, errorRoles, flameLayout, segmentsBySpan, sortRows, type ErrorOrigins } from "../src/model/analysis";
import { exceptionsOf } from "../src/model/exceptions";
import { buildTraceTree } from "../src/model/tree";
import { span, trace } from "./helpers";

const origins: ErrorOrigins = {
  origins: [
    { spanID: "c", service: "payment", operation: "authorize", spanKind: "", statusMessage: "", exceptions: [], inheritedBy: ["b", "a"] },
    { spanID: "d", service: "payment", operation: "charge", spanKind: "server", statusMessage: "503", exceptions: [], inheritedBy: ["a"] },
  ],
  inherited: { b: ["c"], a: ["c", "d"] },
};

describe("error origins", () => {
  it("tells origins from spans that only inherited an error", () => {
    const roles = errorRoles(origins);
    expect(Object.fromEntries(roles)).toEqual({ a: "inherited", b: "inherited", c: "origin", d: "origin" });
  });

  it("jumps from an inherited error to the first origin below it, and from an origin to itself", () => {
    expect(causeOf(origins, "a")?.spanID).toBe("c");
    expect(causeOf(origins, "d")?.spanID).toBe("d");
    expect(causeOf(origins, "zz")).toBeUndefined();
  });
});

describe("critical path", () => {
  it("groups the segments by span, in order", () => {
    const m = segmentsBySpan([{ spanID: "a", start: 0, end: 5 }, { spanID: "b", start: 5, end: 9 }, { spanID: "a", start: 9, end: 10 }]);
    expect(m.get("a")).toEqual([[0, 5], [9, 10]]);
    expect(m.get("b")).toEqual([[5, 9]]);
  });
});

describe("sortRows", () => {
  const rows = [{ name: "b", n: 2, o: null as string | null }, { name: "a", n: 10, o: "x" }, { name: "c", n: 1, o: "y" }];
  it("sorts numbers by value and strings alphabetically, both ways, nulls last", () => {
    expect(sortRows(rows, "n", "desc").map((r) => r.n)).toEqual([10, 2, 1]);
    expect(sortRows(rows, "n", "asc").map((r) => r.n)).toEqual([1, 2, 10]);
    expect(sortRows(rows, "name", "asc").map((r) => r.name)).toEqual(["a", "b", "c"]);
    expect(sortRows(rows, "o", "desc").map((r) => r.o)).toEqual(["y", "x", null]);
    expect(rows.map((r) => r.name)).toEqual(["b", "a", "c"]);
  });
});

describe("flameLayout", () => {
  const tree = buildTraceTree(trace([
    span("root", { start: 1000, duration: 1000 }),
    span("a", { parent: "root", start: 1100, duration: 500 }),
    span("tiny", { parent: "root", start: 1700, duration: 1 }),
    span("deep", { parent: "a", start: 1200, duration: 100 }),
  ]));

  it("places boxes by time and depth, and leaves out what is too narrow to see", () => {
    const rects = flameLayout(tree, 1000, 0, 1000);
    expect(rects.map((r) => [r.node.key, r.x, r.w, r.row])).toEqual([
      ["root", 0, 1000, 0], ["a", 100, 500, 1], ["deep", 200, 100, 2], ["tiny", 700, 1, 1],
    ]);
    expect(flameLayout(tree, 100, 0, 1000).map((r) => r.node.key)).toEqual(["root", "a", "deep"]);
  });

  it("stacks siblings that overlap in time instead of drawing one over the other", () => {
    const t = buildTraceTree(trace([
      span("root", { start: 0, duration: 100 }),
      span("x", { parent: "root", start: 10, duration: 50 }),
      span("x1", { parent: "x", start: 20, duration: 10 }),
      span("y", { parent: "root", start: 30, duration: 50 }),
      span("z", { parent: "root", start: 60, duration: 30 }),
    ]));
    const rows = Object.fromEntries(flameLayout(t, 100, 0, 100).map((r) => [r.node.key, r.row]));
    // y overlaps x: below x's subtree (rows 1-2); z overlaps y, not x (it starts as x ends).
    expect(rows).toEqual({ root: 0, x: 1, x1: 2, y: 3, z: 4 });
  });

  it("clips boxes to a zoomed range", () => {
    const rects = flameLayout(tree, 1000, 200, 400);
    expect(rects.map((r) => [r.node.key, r.x, r.w])).toEqual([["root", 0, 1000], ["a", 0, 1000], ["deep", 0, 500]]);
  });
});

describe("exceptionsOf", () => {
  it("reads exception events with their stack trace's line breaks", () => {
    const s = span("x");
    s.logs = [
      { timestamp: 5, fields: [{ key: "event", value: "retry" }] },
      { timestamp: 7, fields: [{ key: "event", value: "exception" }, { key: "exception.type", value: "ValueError" },
        { key: "exception.message", value: "bad card" }, { key: "exception.stacktrace", value: "Traceback:\n  line 1\nValueError" }] },
    ];
    expect(exceptionsOf(s)).toEqual([{ type: "ValueError", message: "bad card", stacktrace: "Traceback:\n  line 1\nValueError", timestamp: 7 }]);
  });
});
