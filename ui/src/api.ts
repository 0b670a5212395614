import type { Dependency, Envelope, JaegerTrace } from "./model/types";
import type { EdgeStats, RedEntry } from "./model/red";
import type { Comparison, CriticalSegment, ErrorOrigins, TraceStatistics } from "./model/analysis";

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

const TOKEN_KEY = "traceway.queryToken";
/** Fired on window when the API answers 401; the token prompt listens for it. */
export const UNAUTHORIZED_EVENT = "traceway:unauthorized";

/** The query token the user gave this tab (sessionStorage: gone when the tab closes). */
export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** fetch for the query API: sends the tab's token and tells the token prompt about a 401. */
export async function apiFetch(path: string, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(path, { signal, headers: { accept: "application/json", ...authHeaders() } });
  if (res.status === 401) {
    const body = await res.clone().json().catch(() => undefined);
    const reason = body?.errors?.map((e: { msg: string }) => e.msg).join("; ");
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: reason }));
  }
  return res;
}

/** Reads a response body, reporting bytes received so far (big traces take seconds). */
async function readText(res: Response, onProgress?: (bytes: number) => void): Promise<string> {
  if (!onProgress || !res.body) return res.text();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    parts.push(decoder.decode(value, { stream: true }));
    onProgress(bytes);
  }
  parts.push(decoder.decode());
  return parts.join("");
}

async function get<T>(path: string, signal?: AbortSignal, onProgress?: (bytes: number) => void): Promise<T> {
  const res = await apiFetch(path, signal);
  let body: Envelope<T> | undefined;
  try {
    body = JSON.parse(await readText(res, onProgress));
  } catch (e) {
    if (signal?.aborted) throw e;
    body = undefined;
  }
  const msg = body?.errors?.map((e) => e.msg).join("; ");
  if (!res.ok || !body) throw new ApiError(msg || `${res.status} ${res.statusText}`, res.status);
  if (msg && (body.data === null || body.data === undefined)) throw new ApiError(msg, res.status);
  return body.data;
}

export const fetchServices = (signal?: AbortSignal) =>
  get<string[] | null>("/api/services", signal).then((s) => (s ?? []).sort());

export const fetchOperations = (service: string, signal?: AbortSignal) =>
  get<string[] | null>(`/api/services/${encodeURIComponent(service)}/operations`, signal).then((s) => (s ?? []).sort());

export const searchTraces = (params: URLSearchParams, signal?: AbortSignal) =>
  get<JaegerTrace[] | null>(`/api/traces?${params}`, signal).then((t) => t ?? []);

export const fetchTrace = (id: string, signal?: AbortSignal, onProgress?: (bytes: number) => void, adjustClockSkew = false) =>
  get<JaegerTrace[] | null>(`/api/traces/${encodeURIComponent(id)}${adjustClockSkew ? "?adjustClockSkew=true" : ""}`, signal, onProgress).then((t) => {
    if (!t?.length) throw new ApiError(`trace ${id} not found`, 404);
    return t[0];
  });

export const fetchDependencies = (endTs: number, lookbackMs: number, signal?: AbortSignal) =>
  get<Dependency[] | null>(`/api/dependencies?endTs=${endTs}&lookback=${lookbackMs}`, signal).then((d) => d ?? []);

/** RED figures per service, or per operation of ``service``, over the last ``lookback`` (e.g. "1h"). */
export const fetchRed = (lookback: string, service?: string, signal?: AbortSignal) =>
  get<RedEntry[] | null>(`/api/red/services?lookback=${encodeURIComponent(lookback)}${
    service ? `&service=${encodeURIComponent(service)}` : ""}`, signal).then((d) => d ?? []);

/** Errors and p95 of the calls along each service-map edge. */
export const fetchEdgeStats = (endTs: number, lookbackMs: number, signal?: AbortSignal) =>
  get<EdgeStats[] | null>(`/api/red/edges?endTs=${endTs}&lookback=${lookbackMs}`, signal).then((d) => d ?? []);

/** Whether a trace is stored, for making span links clickable. */
export async function traceExists(id: string): Promise<boolean> {
  try {
    await fetchTrace(id);
    return true;
  } catch {
    return false;
  }
}

// Diagnosis computed by the server (src/traceway/analysis), one request per view.

export const fetchCriticalPath = (id: string, signal?: AbortSignal) =>
  get<CriticalSegment[] | null>(`/api/traces/${encodeURIComponent(id)}/critical-path`, signal).then((d) => d ?? []);

export const fetchErrorOrigins = (id: string, signal?: AbortSignal) =>
  get<ErrorOrigins>(`/api/traces/${encodeURIComponent(id)}/error-origins`, signal);

export const fetchStatistics = (id: string, signal?: AbortSignal) =>
  get<TraceStatistics>(`/api/traces/${encodeURIComponent(id)}/statistics`, signal);

export const fetchCompare = (a: string, b: string, signal?: AbortSignal) =>
  get<Comparison>(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`, signal);

export const fetchTypical = (id: string, lookback: string, signal?: AbortSignal) =>
  get<Comparison>(`/api/traces/${encodeURIComponent(id)}/typical?lookback=${encodeURIComponent(lookback)}`, signal);
