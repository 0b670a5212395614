import { useEffect, useMemo, useState } from "preact/hooks";
import { fetchOperations, fetchServices, searchTraces } from "../api";
import { navigate } from "../router";
import { buildTraceTree, type TraceTree } from "../model/tree";
import { apiParams, formFromQuery, LOOKBACK_LABEL, LOOKBACKS, queryFromForm, type SearchForm } from "../model/search";
import { ScatterPlot } from "../components/ScatterPlot";
import { TraceList, type SortKey } from "../components/TraceList";

const LAST_SERVICE = "traceway.lastService";

type Results = { state: "idle" } | { state: "loading" } | { state: "error"; message: string } | { state: "done"; trees: TraceTree[] };

function toLocalInput(us: string): string {
  if (!us) return "";
  const d = new Date(Number(us) / 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}
const fromLocalInput = (v: string) => (v ? String(new Date(v).getTime() * 1000) : "");

export function SearchPage({ query }: { query: URLSearchParams }) {
  const qs = query.toString();
  const [form, setForm] = useState<SearchForm>(() => formFromQuery(query));
  const [services, setServices] = useState<string[] | null>(null);
  const [operations, setOperations] = useState<string[]>([]);
  const [formError, setFormError] = useState("");
  const [results, setResults] = useState<Results>({ state: "idle" });
  const sort = (query.get("sort") as SortKey) || "newest";

  useEffect(() => setForm(formFromQuery(new URLSearchParams(qs))), [qs]);

  useEffect(() => {
    const ac = new AbortController();
    fetchServices(ac.signal).then((list) => {
      setServices(list);
      // Start from the service searched last time, as a convenience on a bare /search.
      const last = localStorage.getItem(LAST_SERVICE);
      if (last && list.includes(last)) setForm((f) => (f.service ? f : { ...f, service: last }));
    }, () => setServices([]));
    return () => ac.abort();
  }, []);

  useEffect(() => {
    if (!form.service) return setOperations([]);
    const ac = new AbortController();
    fetchOperations(form.service, ac.signal).then(setOperations, () => setOperations([]));
    return () => ac.abort();
  }, [form.service]);

  // The URL is the search: run it whenever the URL changes (submit, back/forward, reload).
  useEffect(() => {
    const q = new URLSearchParams(qs);
    if (!q.get("service")) return setResults({ state: "idle" });
    const ac = new AbortController();
    setResults({ state: "loading" });
    searchTraces(apiParams(q), ac.signal).then(
      (traces) => setResults({ state: "done", trees: traces.map(buildTraceTree) }),
      (e: Error) => { if (!ac.signal.aborted) setResults({ state: "error", message: e.message }); },
    );
    return () => ac.abort();
  }, [qs.replace(/(^|&)sort=[^&]*/, "")]);

  const set = (patch: Partial<SearchForm>) => setForm((f) => ({ ...f, ...patch }));
  const submit = (e: Event) => {
    e.preventDefault();
    try {
      const q = queryFromForm(form);
      if (sort !== "newest") q.set("sort", sort);
      setFormError("");
      localStorage.setItem(LAST_SERVICE, form.service);
      navigate(`/search?${q}`);
    } catch (err) {
      setFormError((err as Error).message);
    }
  };
  const setSort = (s: SortKey) => {
    const q = new URLSearchParams(qs);
    if (s === "newest") q.delete("sort"); else q.set("sort", s);
    navigate(`/search?${q}`, true);
  };

  const trees = results.state === "done" ? results.trees : [];
  const points = useMemo(() => trees.map((t) => ({
    traceID: t.traceID, start: t.start, duration: t.duration, errors: t.errorCount,
    label: `${t.rootService}: ${t.rootOperation}`,
  })), [trees]);

  return (
    <div class="search-layout">
      <form class="search-form card" onSubmit={submit} aria-label="Search traces">
        <h2>Search</h2>
        <label>Service
          <select name="service" value={form.service} onChange={(e) => set({ service: e.currentTarget.value, operation: "" })}>
            <option value="">{services === null ? "Loading…" : services.length ? "Choose a service" : "No services yet"}</option>
            {services?.map((s) => <option key={s} value={s}>{s}</option>)}
            {form.service && services && !services.includes(form.service) && <option value={form.service}>{form.service}</option>}
          </select>
        </label>
        <label>Operation
          <select name="operation" value={form.operation} onChange={(e) => set({ operation: e.currentTarget.value })}>
            <option value="">All operations</option>
            {operations.map((o) => <option key={o} value={o}>{o}</option>)}
            {form.operation && !operations.includes(form.operation) && <option value={form.operation}>{form.operation}</option>}
          </select>
        </label>
        <label>Tags
          <input name="tags" value={form.tags} placeholder="http.status_code=500 error=true" spellcheck={false}
            onInput={(e) => set({ tags: e.currentTarget.value })} />
          <small>logfmt: key=value pairs, quote values with spaces</small>
        </label>
        <label>Time range
          <select name="lookback" value={form.lookback} onChange={(e) => {
            const lookback = e.currentTarget.value;
            if (lookback === "custom" && !form.start) {
              const now = Date.now() * 1000;
              set({ lookback, end: String(now), start: String(now - 3600e6) });
            } else set({ lookback });
          }}>
            {LOOKBACKS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </label>
        {form.lookback === "custom" && (
          <div class="row2">
            <label>From<input type="datetime-local" name="start" value={toLocalInput(form.start)} onInput={(e) => set({ start: fromLocalInput(e.currentTarget.value) })} /></label>
            <label>To<input type="datetime-local" name="end" value={toLocalInput(form.end)} onInput={(e) => set({ end: fromLocalInput(e.currentTarget.value) })} /></label>
          </div>
        )}
        <div class="row2">
          <label>Min duration<input name="minDuration" value={form.minDuration} placeholder="e.g. 100ms" onInput={(e) => set({ minDuration: e.currentTarget.value })} /></label>
          <label>Max duration<input name="maxDuration" value={form.maxDuration} placeholder="e.g. 1.5s" onInput={(e) => set({ maxDuration: e.currentTarget.value })} /></label>
        </div>
        <label>Limit
          <input name="limit" type="number" min="1" max="1500" value={form.limit} onInput={(e) => set({ limit: e.currentTarget.value })} />
        </label>
        {formError && <p class="error-text" role="alert">{formError}</p>}
        <button type="submit" class="primary" disabled={!form.service}>Find traces</button>
      </form>
      <section class="results" aria-live="polite">
        {results.state === "idle" && (
          <div class="empty"><h2>Find traces</h2><p>Choose a service, optionally an operation, tags and a time range, then press <b>Find traces</b>. You can also <a href="/open">open a trace file</a>.</p></div>
        )}
        {results.state === "loading" && <div class="empty"><p class="muted">Searching…</p></div>}
        {results.state === "error" && <div class="empty error-box" role="alert"><h2>Search failed</h2><p>{results.message}</p></div>}
        {results.state === "done" && (trees.length ? (
          <>
            <div class="card plot-card"><ScatterPlot points={points} onOpen={(id) => navigate(`/trace/${id}`)} /></div>
            <TraceList trees={trees} sort={sort} onSort={setSort} />
          </>
        ) : <EmptyResults query={new URLSearchParams(qs)} />)}
      </section>
    </div>
  );
}

function EmptyResults({ query }: { query: URLSearchParams }) {
  const lb = query.get("lookback") ?? "1h";
  const tags = query.get("tags");
  const why = [`service ${query.get("service")}`];
  if (query.get("operation")) why.push(`operation ${query.get("operation")}`);
  if (tags) why.push(`tags ${formFromQuery(query).tags}`);
  if (query.get("minDuration")) why.push(`at least ${query.get("minDuration")}`);
  if (query.get("maxDuration")) why.push(`at most ${query.get("maxDuration")}`);
  const range = lb === "custom" ? "the chosen time range" : (LOOKBACK_LABEL[lb] ?? lb).toLowerCase().replace(/^last/, "the last");
  const without = (...keys: string[]) => {
    const q = new URLSearchParams(query);
    keys.forEach((k) => q.delete(k));
    return q;
  };
  const wider = without("start", "end");
  wider.set("lookback", lb === "7d" ? "7d" : lb === "24h" || lb === "2d" ? "7d" : "24h");
  return (
    <div class="empty" data-testid="no-results">
      <h2>No traces found</h2>
      <p>No trace matched {why.join(", ")} in {range}.</p>
      <ul>
        {lb !== "7d" && <li><a href={`/search?${wider}`}>Widen the time range to {LOOKBACK_LABEL[wider.get("lookback")!].toLowerCase().replace(/^last/, "the last")}</a>.</li>}
        {query.get("operation") && <li><a href={`/search?${without("operation")}`}>Search all operations</a> of the service.</li>}
        {tags && <li><a href={`/search?${without("tags")}`}>Remove the tags</a> or loosen them: each one must match a span exactly.</li>}
        {(query.get("minDuration") || query.get("maxDuration")) && <li><a href={`/search?${without("minDuration", "maxDuration")}`}>Clear the duration bounds</a>.</li>}
        <li>Check that the service is sending spans to this collector.</li>
      </ul>
    </div>
  );
}
