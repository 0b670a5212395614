import { useState } from "preact/hooks";
import { applyTheme, storedTheme, type ThemeChoice } from "../theme";

const NEXT: Record<ThemeChoice, ThemeChoice> = { auto: "dark", dark: "light", light: "auto" };
const LABEL: Record<ThemeChoice, string> = { auto: "◐ Auto", dark: "● Dark", light: "○ Light" };

export function ThemeToggle() {
  const [theme, setTheme] = useState(storedTheme());
  return (
    <button class="theme-toggle ghost" title="Theme: follows the system in Auto" onClick={() => {
      const t = NEXT[theme];
      applyTheme(t);
      setTheme(t);
      window.dispatchEvent(new Event("traceway-theme"));
    }}>{LABEL[theme]}</button>
  );
}
