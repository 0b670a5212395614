import { ApiError, apiFetch } from "./api";
import type { AttributeDifferences, Coverage, Propagation } from "./model/health";

// The /api/analysis/* answers carry more than "data" (orphans, sample sizes), so the whole
// document is returned; errors come in the Jaeger envelope like the rest of the API.
async function getDocument<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await apiFetch(path, signal);
  const body = await res.json().catch(() => undefined);
  if (!res.ok || !body) {
    const msg = body?.errors?.map((e: { msg: string }) => e.msg).join("; ");
    throw new ApiError(msg || `${res.status} ${res.statusText}`, res.status);
  }
  return body as T;
}

export const fetchPropagation = (lookback: string, signal?: AbortSignal) =>
  getDocument<Propagation>(`/api/analysis/propagation?lookback=${encodeURIComponent(lookback)}`, signal);

export const fetchCoverage = (lookback: string, signal?: AbortSignal) =>
  getDocument<Coverage>(`/api/analysis/coverage?lookback=${encodeURIComponent(lookback)}`, signal);

export const fetchAttributeDifferences = (params: URLSearchParams, signal?: AbortSignal) =>
  getDocument<AttributeDifferences>(`/api/analysis/attributes?${params}`, signal);
