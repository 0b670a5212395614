/** One tag condition of the search form: `key=value` (exact), `key=~regex` or `key=*text` (contains). */
export interface TagTerm {
  key: string;
  op: "" | "~" | "*";
  value: string;
}

/**
 * Parses logfmt (`http.status_code=500 error=true msg="not found" exception.type=~Timeout`),
 * the syntax the query API's `tags` parameter accepts too. A quoted value is always exact;
 * inside quotes `\"` and `\\` are the escapes. Throws Error on input it cannot read.
 */
export function parseTagTerms(text: string): TagTerm[] {
  const out: TagTerm[] = [];
  const re = /\s*([^\s="]+)=([~*]?)(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))(?=\s|$)/y;
  let rest = text.trim();
  while (rest) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) throw new Error(`tags: expected key=value pairs near "${rest.slice(0, 20)}"`);
    const value = m[3] !== undefined ? m[3].replace(/\\(["\\])/g, "$1") : m[4];
    out.push({ key: m[1], op: m[2] as TagTerm["op"], value });
    rest = rest.slice(m[0].length).trim();
  }
  return out;
}

export function toLogfmt(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => (/[\s"=]/.test(v) || v === "" || /^[~*]/.test(v) ? `${k}="${v.replace(/(["\\])/g, "\\$1")}"` : `${k}=${v}`))
    .join(" ");
}
