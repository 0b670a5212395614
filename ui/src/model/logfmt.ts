/**
 * Parses logfmt (`http.status_code=500 error=true msg="not found"`) into the object the
 * query API takes as its JSON `tags` parameter. Throws Error on input it cannot read.
 */
export function parseLogfmt(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([^\s=]+)=("((?:[^"\\]|\\.)*)"|(\S*))/y;
  let rest = text.trim();
  while (rest) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) throw new Error(`expected key=value near "${rest.slice(0, 20)}"`);
    out[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[4];
    rest = rest.slice(m[0].length).trim();
  }
  return out;
}

export function toLogfmt(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => (/[\s"=]/.test(v) || v === "" ? `${k}="${v.replace(/(["\\])/g, "\\$1")}"` : `${k}=${v}`))
    .join(" ");
}
