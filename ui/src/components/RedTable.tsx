import type { JSX } from "preact";
import { formatMs, formatRate, formatRatio, sortRed } from "../model/red";
import type { RedEntry, RedSortKey, SortDirection } from "../model/red";
import { Sparkline } from "./Sparkline";

const COLUMNS: [RedSortKey, string][] = [["rate", "Requests"], ["errorRatio", "Error rate"], ["p95", "p95 latency"]];

/** Services (or operations) with rate, error rate and p95 over the window, each with a
 * sparkline; column headers sort. ``link`` makes each name a link. */
export function RedTable({ entries, sort, direction, onSort, nameTitle, link }: {
  entries: RedEntry[]; sort: RedSortKey; direction: SortDirection;
  onSort: (key: RedSortKey, direction: SortDirection) => void;
  nameTitle: string; link: (e: RedEntry) => string;
}) {
  const header = (key: RedSortKey, title: string, numeric: boolean): JSX.Element => {
    const active = sort === key;
    const next: SortDirection = active ? (direction === "asc" ? "desc" : "asc") : key === "name" ? "asc" : "desc";
    return (
      <th class={numeric ? "num" : ""} aria-sort={active ? (direction === "asc" ? "ascending" : "descending") : "none"}>
        <button class="linkish sort" data-sort={key} onClick={() => onSort(key, next)}>
          {title}{active ? (direction === "asc" ? " ▲" : " ▼") : ""}
        </button>
      </th>
    );
  };
  return (
    <table class="red-table card" data-testid="red-table">
      <thead>
        <tr>
          {header("name", nameTitle, false)}
          {COLUMNS.map(([key, title]) => header(key, title, true))}
          <th class="num">p50</th><th class="num">p99</th><th class="num">Calls</th>
        </tr>
      </thead>
      <tbody>
        {sortRed(entries, sort, direction).map((e) => {
          const name = e.operation ?? e.service;
          return (
            <tr key={name} data-name={name}>
              <td><a href={link(e)}>{name}</a></td>
              <td class="num"><span class="metric">{formatRate(e.ratePerSecond)}</span>
                <Sparkline values={e.sparklines.rate} label={`${name} requests per second`} /></td>
              <td class={`num ${e.errors > 0 ? "error-text" : ""}`} data-metric="errorRatio">
                <span class="metric">{formatRatio(e.errorRatio)}</span>
                <Sparkline values={e.sparklines.errorRatio} label={`${name} error rate`} tone="error" /></td>
              <td class="num" data-metric="p95"><span class="metric">{formatMs(e.p95Ms)}</span>
                <Sparkline values={e.sparklines.p95Ms} label={`${name} p95 latency`} /></td>
              <td class="num">{formatMs(e.p50Ms)}</td>
              <td class="num">{formatMs(e.p99Ms)}</td>
              <td class="num">{e.calls.toLocaleString("en-US")}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
