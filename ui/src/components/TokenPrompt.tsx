import { useEffect, useState } from "preact/hooks";
import { storedToken, storeToken, UNAUTHORIZED_EVENT } from "../api";

/** Asks for the server's query token once the API answers 401, keeps it for this tab
 * (sessionStorage) and reloads so every view fetches again with it. */
export function TokenPrompt() {
  const [reason, setReason] = useState<string | null>(null);

  useEffect(() => {
    const demand = (e: Event) => setReason((e as CustomEvent<string | undefined>).detail ?? "");
    window.addEventListener(UNAUTHORIZED_EVENT, demand);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, demand);
  }, []);

  if (reason === null) return null;
  const refused = storedToken() !== null;
  return (
    <div class="token-overlay">
      <form class="token-prompt card" aria-label="Access token" onSubmit={(e) => {
        e.preventDefault();
        const token = new FormData(e.currentTarget).get("token")?.toString().trim();
        if (!token) return;
        storeToken(token);
        location.reload();
      }}>
        <h2>This Traceway server needs an access token</h2>
        <p class="muted">
          {refused ? "The server refused the token this tab was using" : "The query API answered 401"}
          {reason ? `: ${reason}.` : "."} Paste a token from the server's <code>--query-token-file</code>.
          It is kept only in this browser tab.
        </p>
        <input name="token" type="password" autocomplete="off" placeholder="Query token" aria-label="Query token" autoFocus />
        <button class="primary" type="submit">Use token</button>
      </form>
    </div>
  );
}
