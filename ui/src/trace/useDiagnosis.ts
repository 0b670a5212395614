import { useEffect, useMemo, useState } from "preact/hooks";
import { fetchCriticalPath, fetchErrorOrigins } from "../api";
import { errorRoles, segmentsBySpan, type ErrorOrigins } from "../model/analysis";
import type { TraceTree } from "../model/tree";

/**
 * The server's diagnosis of a stored trace: where its errors started (fetched when it has errors)
 * and its critical path (fetched the first time it is shown). A trace opened from a file is not
 * on the server, so it has neither.
 */
export function useDiagnosis(tree: TraceTree, stored: boolean, wantCritical: boolean) {
  const [origins, setOrigins] = useState<ErrorOrigins | null>(null);
  const [segments, setSegments] = useState<Map<string, [number, number][]> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (!stored || !tree.errorCount) return;
    const ac = new AbortController();
    fetchErrorOrigins(tree.traceID, ac.signal).then(setOrigins, (e) => { if (!ac.signal.aborted) setProblem(e.message); });
    return () => ac.abort();
  }, [tree, stored]);

  const wanted = wantCritical && stored && !segments;
  useEffect(() => {
    if (!wanted) return;
    const ac = new AbortController();
    fetchCriticalPath(tree.traceID, ac.signal).then((s) => setSegments(segmentsBySpan(s)),
      (e) => { if (!ac.signal.aborted) setProblem(e.message); });
    return () => ac.abort();
  }, [tree, wanted]);

  const roles = useMemo(() => (origins ? errorRoles(origins) : null), [origins]);
  return { origins, roles, critical: wantCritical ? segments : null, problem };
}
