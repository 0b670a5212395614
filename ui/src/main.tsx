import { render } from "preact";
import { App } from "./App";
import { applyTheme, storedTheme } from "./theme";
import { interceptLinks } from "./router";
import "./styles.css";

applyTheme(storedTheme());
const root = document.getElementById("app")!;
interceptLinks(root);
render(<App />, root);
