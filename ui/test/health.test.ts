import { describe, expect, it } from "vitest";
import {
  attributesParams, brokenPercent, hasFindings, hopLabel, shortValue, splitCoverage, tagSearchUrl,
  type BrokenHop, type Coverage, type Propagation,
} from "../src/model/health";

const hop: BrokenHop = {
  clientService: "frontend", clientOperation: "GET /stock", serverService: "inventory", broken: 3, total: 4,
  exampleTraceIDs: ["a"], callerOperation: "GET /recommendations",
};

describe("health model", () => {
  it("labels hops and their broken share", () => {
    expect(hopLabel(hop)).toBe("frontend GET /stock → inventory");
    expect(hopLabel({ ...hop, serverService: null })).toBe("frontend GET /stock → ?");
    expect(brokenPercent(hop)).toBe(75);
    expect(brokenPercent({ ...hop, total: 0 })).toBe(0);
  });

  it("puts uninstrumented services first, each group by calls", () => {
    const { missing, instrumented } = splitCoverage([
      { service: "web", instrumented: true, callers: [], calls: 0 },
      { service: "sqlite", instrumented: false, callers: ["inventory"], calls: 5 },
      { service: "stock", instrumented: true, callers: ["web"], calls: 9 },
      { service: "mailer", instrumented: false, callers: ["web"], calls: 7 },
    ]);
    expect(missing.map((r) => r.service)).toEqual(["mailer", "sqlite"]);
    expect(instrumented.map((r) => r.service)).toEqual(["stock", "web"]);
  });

  it("has findings when anything is broken, orphaned or uninstrumented", () => {
    const clean: Propagation = { data: [], orphans: [], multipleRoots: [], traces: 3, traceLimit: 1000 };
    const covered: Coverage = { data: [{ service: "web", instrumented: true, callers: [], calls: 0 }], traces: 3, traceLimit: 1000 };
    expect(hasFindings(clean, covered)).toBe(false);
    expect(hasFindings({ ...clean, data: [hop] }, covered)).toBe(true);
    expect(hasFindings(clean, { ...covered, data: [{ service: "db", instrumented: false, callers: ["web"], calls: 1 }] })).toBe(true);
  });

  it("asks the attributes endpoint about the search's service, operation and window", () => {
    const p = attributesParams(new URLSearchParams("service=api&operation=GET+%2Fx&lookback=6h&limit=20&tags=%7B%7D"), "error");
    expect(Object.fromEntries(p)).toEqual({ service: "api", operation: "GET /x", lookback: "6h", by: "error" });
    const custom = attributesParams(new URLSearchParams("service=api&lookback=custom&start=1000000&end=61000000"), "latency");
    expect(Object.fromEntries(custom)).toEqual({ service: "api", end: "61000000", lookback: "60000000us", by: "latency" });
  });

  it("shortens long values and links a value to a tag search", () => {
    expect(shortValue("Traceback:\n  File x\n  line 2", 12)).toBe("Traceback: …");
    expect(shortValue("short")).toBe("short");
    const url = tagSearchUrl(new URLSearchParams("service=api&lookback=1h&sort=longest"),
      { key: "demo.slow_query", value: "true", selected: 1, baseline: 0, selectedShare: 1, baselineShare: 0, score: 1 });
    expect(new URLSearchParams(url.split("?")[1]).get("tags")).toBe('{"demo.slow_query":"true"}');
    expect(url).not.toContain("sort");
  });
});
