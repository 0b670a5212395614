import { useEffect, useMemo, useState } from "preact/hooks";
import { fetchOperations, fetchServices, searchTraces } from "../api";
import { navigate } from "../router";
import { buildTraceTree, type TraceTree } from "../model/tree";
import { apiParams, formFromQuery, queryFromForm, type SearchForm } from "../model/search";
import { ScatterPlot } from "../components/ScatterPlot";
import { TraceList, type SortKey } from "../components/TraceList";
import { SearchFormPanel } from "../components/SearchFormPanel";
import { EmptyResults } from "../components/EmptyResults";
import { WhatsDifferentPanel } from "../components/WhatsDifferentPanel";

const LAST_SERVICE = "traceway.lastService";

type Results = { state: "idle" } | { state: "loading" } | { state: "error"; message: string } | { state: "done"; trees: TraceTree[] };


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
      <SearchFormPanel form={form} set={set} services={services} operations={operations} error={formError} onSubmit={submit} />
      <section class="results" aria-live="polite">
        {results.state === "idle" && (
          <div class="empty"><h2>Find traces</h2><p>Choose a service, optionally an operation, tags and a time range, then press <b>Find traces</b>. You can also <a href="/open">open a trace file</a>.</p></div>
        )}
        {results.state === "loading" && <div class="empty"><p class="muted">Searching…</p></div>}
        {results.state === "error" && <div class="empty error-box" role="alert"><h2>Search failed</h2><p>{results.message}</p></div>}
        {results.state === "done" && (trees.length ? (
          <>
            <div class="card plot-card"><ScatterPlot points={points} onOpen={(id) => navigate(`/trace/${id}`)} /></div>
            <WhatsDifferentPanel search={new URLSearchParams(qs)} />
            <TraceList comparable trees={trees} sort={sort} onSort={setSort} />
          </>
        ) : <EmptyResults query={new URLSearchParams(qs)} />)}
      </section>
    </div>
  );
}
