import { LOOKBACKS, type SearchForm } from "../model/search";

function toLocalInput(us: string): string {
  if (!us) return "";
  const d = new Date(Number(us) / 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}
const fromLocalInput = (v: string) => (v ? String(new Date(v).getTime() * 1000) : "");

/** The search form; its state lives in the page, which turns it into the URL on submit. */
export function SearchFormPanel({ form, set, services, operations, error: formError, onSubmit: submit }: {
  form: SearchForm; set: (patch: Partial<SearchForm>) => void; services: string[] | null; operations: string[];
  error: string; onSubmit: (e: Event) => void;
}) {
  return (
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
        <small>logfmt: key=value pairs, quote values with spaces; key=~regex or key=*text matches part of a value</small>
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
  );
}
