import { formFromQuery, LOOKBACK_LABEL } from "../model/search";

/** Why a search found nothing, with one-click ways to widen it. */
export function EmptyResults({ query }: { query: URLSearchParams }) {
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
