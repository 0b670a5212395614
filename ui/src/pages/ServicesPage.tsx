import { useEffect, useState } from "preact/hooks";
import { fetchRed } from "../api";
import { navigate } from "../router";
import { RedTable } from "../components/RedTable";
import type { RedEntry, RedSortKey, SortDirection } from "../model/red";
import { LOOKBACKS } from "../model/search";

type Load = { state: "loading" } | { state: "error"; message: string } | { state: "done"; entries: RedEntry[] };
const WINDOWS = LOOKBACKS.filter(([v]) => v !== "custom" && v !== "7d");
const SORT_KEYS: RedSortKey[] = ["name", "rate", "errorRatio", "p95"];

function useRed(lookback: string, service?: string): Load {
  const [load, setLoad] = useState<Load>({ state: "loading" });
  useEffect(() => {
    const ac = new AbortController();
    setLoad({ state: "loading" });
    fetchRed(lookback, service, ac.signal).then(
      (entries) => setLoad({ state: "done", entries }),
      (e: Error) => { if (!ac.signal.aborted) setLoad({ state: "error", message: e.message }); },
    );
    return () => ac.abort();
  }, [lookback, service]);
  return load;
}

/** The view's URL state: window and sort order. */
function viewState(query: URLSearchParams, defaultSort: RedSortKey) {
  const sort = query.get("sort") as RedSortKey | null;
  return {
    lookback: query.get("lookback") ?? "1h",
    sort: sort && SORT_KEYS.includes(sort) ? sort : defaultSort,
    direction: (query.get("dir") === "asc" ? "asc" : "desc") as SortDirection,
  };
}

function Header({ title, lookback, path, children }: {
  title: string; lookback: string; path: string; children?: preact.ComponentChildren;
}) {
  return (
    <div class="deps-head">
      <h1>{title}</h1>
      <label>Time window
        <select name="lookback" value={lookback} onChange={(e) => navigate(`${path}?lookback=${e.currentTarget.value}`)}>
          {WINDOWS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select>
      </label>
      {children}
    </div>
  );
}

function Body({ load, empty, render }: { load: Load; empty: preact.ComponentChildren; render: (e: RedEntry[]) => preact.ComponentChildren }) {
  if (load.state === "loading") return <p class="muted">Loading metrics…</p>;
  if (load.state === "error") return <div class="empty error-box" role="alert"><h2>Could not load metrics</h2><p>{load.message}</p></div>;
  return <>{load.entries.length ? render(load.entries) : empty}</>;
}

export function ServicesPage({ query }: { query: URLSearchParams }) {
  const { lookback, sort, direction } = viewState(query, "errorRatio");
  const load = useRed(lookback);
  const sortTo = (key: RedSortKey, dir: SortDirection) => navigate(`/services?lookback=${lookback}&sort=${key}&dir=${dir}`, true);
  return (
    <div class="page services-page">
      <Header title="Services" lookback={lookback} path="/services">
        <span class="muted small">Requests served and messages consumed (SERVER and CONSUMER spans).</span>
      </Header>
      <Body load={load} render={(entries) => (
        <RedTable entries={entries} sort={sort} direction={direction} onSort={sortTo} nameTitle="Service"
          link={(e) => `/services/${encodeURIComponent(e.service)}?lookback=${lookback}`} />
      )} empty={
        <div class="empty"><h2>No requests in this window</h2><p>No service served a request or consumed a message. Pick a longer window, or send traces with SERVER or CONSUMER spans.</p></div>
      } />
    </div>
  );
}

export function ServicePage({ service, query }: { service: string; query: URLSearchParams }) {
  const { lookback, sort, direction } = viewState(query, "p95");
  const load = useRed(lookback, service);
  const path = `/services/${encodeURIComponent(service)}`;
  const sortTo = (key: RedSortKey, dir: SortDirection) => navigate(`${path}?lookback=${lookback}&sort=${key}&dir=${dir}`, true);
  const search = (operation?: string) => `/search?service=${encodeURIComponent(service)}${
    operation ? `&operation=${encodeURIComponent(operation)}` : ""}&lookback=${lookback}`;
  return (
    <div class="page services-page">
      <p class="crumbs small"><a href={`/services?lookback=${lookback}`}>Services</a> /</p>
      <Header title={service} lookback={lookback} path={path}>
        <a href={search()}>Search its traces</a>
      </Header>
      <Body load={load} render={(entries) => (
        <RedTable entries={entries} sort={sort} direction={direction} onSort={sortTo} nameTitle="Operation"
          link={(e) => search(e.operation)} />
      )} empty={
        <div class="empty"><h2>No requests in this window</h2><p><code>{service}</code> served no request and consumed no message. Pick a longer window.</p></div>
      } />
    </div>
  );
}
