// A fixed palette picked for contrast on light and dark backgrounds; a service keeps its colour
// everywhere (search, trace, map) because the colour comes from a hash of its name.
const PALETTE = [
  "#2f7ed8", "#e6804d", "#3aa55d", "#9b59b6", "#d4a017", "#17a2b8", "#e05c97", "#7f8c3a",
  "#5b6ee1", "#c0392b", "#1abc9c", "#8e6c4a", "#6c5ce7", "#f39c12", "#2e86ab", "#a3476b",
  "#4c9f70", "#b5651d", "#3867d6", "#8854d0",
];

const cache = new Map<string, string>();

export function serviceColor(service: string): string {
  let c = cache.get(service);
  if (!c) {
    let h = 2166136261;
    for (let i = 0; i < service.length; i++) h = Math.imul(h ^ service.charCodeAt(i), 16777619);
    c = PALETTE[(h >>> 0) % PALETTE.length];
    cache.set(service, c);
  }
  return c;
}
