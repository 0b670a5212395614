import { describe, expect, it } from "vitest";
import { edgeLabel, formatMs, formatRate, formatRatio, sortRed, sparklinePath } from "../src/model/red";
import type { EdgeStats, RedEntry } from "../src/model/red";

function entry(service: string, rate: number | null, errorRatio: number | null, p95Ms: number | null): RedEntry {
  return {
    service, calls: 1, errors: 0, ratePerSecond: rate, errorRatio, p50Ms: p95Ms, p95Ms, p99Ms: p95Ms,
    sparklines: { rate: [], errorRatio: [], p95Ms: [] },
  };
}

describe("RED table sorting", () => {
  const rows = [entry("cart", 5, 0.01, 20), entry("auth", 1, 0.5, 300), entry("idle", null, null, null),
    entry("shop", 9, 0.01, 80)];
  it("puts the worst error rate first, ties by name, unknown values last", () => {
    expect(sortRed(rows, "errorRatio", "desc").map((r) => r.service)).toEqual(["auth", "cart", "shop", "idle"]);
    expect(sortRed(rows, "errorRatio", "asc").map((r) => r.service)).toEqual(["cart", "shop", "auth", "idle"]);
  });
  it("sorts by p95, rate and name", () => {
    expect(sortRed(rows, "p95", "desc").map((r) => r.service)).toEqual(["auth", "shop", "cart", "idle"]);
    expect(sortRed(rows, "rate", "desc").map((r) => r.service)).toEqual(["shop", "cart", "auth", "idle"]);
    expect(sortRed(rows, "name", "asc").map((r) => r.service)).toEqual(["auth", "cart", "idle", "shop"]);
  });
});

describe("RED formatting", () => {
  it("formats rates, ratios and latencies", () => {
    expect([formatRate(null), formatRate(0), formatRate(0.5), formatRate(2), formatRate(2.25), formatRate(150)])
      .toEqual(["–", "0/s", "30/min", "2/s", "2.3/s", "150/s"]);
    expect([formatRatio(null), formatRatio(0), formatRatio(0.0012), formatRatio(0.05), formatRatio(0.5)])
      .toEqual(["–", "0%", "0.12%", "5.0%", "50%"]);
    expect([formatMs(null), formatMs(0.25), formatMs(4.56), formatMs(95.4), formatMs(1500), formatMs(12_000)])
      .toEqual(["–", "250µs", "4.6ms", "95ms", "1.5s", "12s"]);
  });
  it("labels a service-map edge with calls, errors and p95", () => {
    const stats: EdgeStats = { parent: "a", child: "b", callCount: 1200, errorCount: 60, errorRatio: 0.05, p95Ms: 42 };
    expect(edgeLabel(1200, stats)).toBe("1,200 · 5.0% err · p95 42ms");
    expect(edgeLabel(7, { ...stats, errorCount: 0, errorRatio: 0 })).toBe("7 · p95 42ms");
    expect(edgeLabel(7)).toBe("7");
  });
});

describe("sparklines", () => {
  it("scale to the box with the maximum at the top", () => {
    expect(sparklinePath([0, 5, 10], 100, 20)).toBe("M0,20L50,10L100,0");
  });
  it("break at missing values and draw nothing without data", () => {
    expect(sparklinePath([1, null, 1, 1], 30, 10)).toBe("M0,0M20,0L30,0");
    expect(sparklinePath([null, null], 30, 10)).toBe("");
    expect(sparklinePath([0, 0], 30, 10)).toBe("M0,10L30,10");
  });
});
