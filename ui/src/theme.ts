// Dark mode follows prefers-color-scheme unless the user picked a theme with the toggle.
export type ThemeChoice = "auto" | "light" | "dark";
const KEY = "traceway.theme";

export function storedTheme(): ThemeChoice {
  const t = localStorage.getItem(KEY);
  return t === "light" || t === "dark" ? t : "auto";
}

export function applyTheme(choice: ThemeChoice): void {
  if (choice === "auto") {
    localStorage.removeItem(KEY);
    delete document.documentElement.dataset.theme;
  } else {
    localStorage.setItem(KEY, choice);
    document.documentElement.dataset.theme = choice;
  }
}

export function effectiveDark(): boolean {
  const t = document.documentElement.dataset.theme;
  if (t) return t === "dark";
  return matchMedia("(prefers-color-scheme: dark)").matches;
}
