import { useEffect, useState } from "preact/hooks";
import { navigate, useLocation } from "./router";
import { SearchPage } from "./pages/SearchPage";
import { TracePage } from "./pages/TracePage";
import { lazy, Suspense } from "preact/compat";
import { OpenFilePage, openFiles } from "./pages/OpenFilePage";
import { ThemeToggle } from "./components/ThemeToggle";
import { TokenPrompt } from "./components/TokenPrompt";
import { ServicePage, ServicesPage } from "./pages/ServicesPage";
import { ComparePage } from "./pages/ComparePage";
import { HealthPage } from "./pages/HealthPage";

// The graph libraries are most of the bundle and only the service map needs them.
const DependenciesPage = lazy(() => import("./pages/DependenciesPage").then((m) => m.DependenciesPage));

export function App() {
  const { path, query } = useLocation();
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    if (path === "/") navigate("/search", true);
  }, [path]);

  // Dropping a trace file anywhere opens it, like the Open page does.
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => !!e.dataTransfer?.types.includes("Files");
    const enter = (e: DragEvent) => { if (hasFiles(e)) { depth++; setDragging(true); } };
    const leave = () => { if (--depth <= 0) { depth = 0; setDragging(false); } };
    const over = (e: DragEvent) => { if (hasFiles(e)) e.preventDefault(); };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      void openFiles(e.dataTransfer!.files);
    };
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragleave", leave);
    window.addEventListener("dragover", over);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("dragover", over);
      window.removeEventListener("drop", drop);
    };
  }, []);

  const traceMatch = /^\/trace\/([^/]+)$/.exec(path);
  const serviceMatch = /^\/services\/(.+)$/.exec(path);
  let page;
  if (path === "/search" || path === "/") page = <SearchPage query={query} />;
  else if (traceMatch) page = <TracePage traceID={decodeURIComponent(traceMatch[1])} query={query} />;
  else if (path === "/services") page = <ServicesPage query={query} />;
  else if (serviceMatch) page = <ServicePage service={decodeURIComponent(serviceMatch[1])} query={query} />;
  else if (path === "/dependencies") page = <DependenciesPage query={query} />;
  else if (path === "/open") page = <OpenFilePage />;
  else if (path === "/compare") page = <ComparePage query={query} />;
  else if (path === "/health") page = <HealthPage query={query} />;
  else page = <div class="page"><div class="empty"><h2>Page not found</h2><p>No view lives at <code>{path}</code>. <a href="/search">Search traces</a>.</p></div></div>;

  const section = traceMatch ? "trace" : serviceMatch ? "services" : path.slice(1);
  useEffect(() => {
    // The trace page names itself once loaded; the others are named here.
    const titles: Record<string, string> = { search: "Search", services: "Services", dependencies: "Service map", open: "Open file", health: "Health", compare: "Compare" };
    if (!traceMatch) document.title = `${titles[section] ?? "Not found"} · Traceway`;
  }, [section]);
  return (
    <>
      <header class="topbar">
        <a class="brand" href="/search" aria-label="Traceway home">
          <img src="/favicon.svg" alt="" width="20" height="20" /> Traceway
        </a>
        <nav>
          <a href="/search" class={section === "search" ? "active" : ""}>Search</a>
          <a href="/services" class={section === "services" ? "active" : ""}>Services</a>
          <a href="/dependencies" class={section === "dependencies" ? "active" : ""}>Service map</a>
          <a href="/open" class={section === "open" ? "active" : ""}>Open file</a>
          <a href="/health" class={section === "health" ? "active" : ""}>Health</a>
        </nav>
        <form class="jump" onSubmit={(e) => {
          e.preventDefault();
          const id = new FormData(e.currentTarget).get("id")?.toString().trim();
          if (id) navigate(`/trace/${encodeURIComponent(id.toLowerCase())}`);
        }}>
          <input name="id" placeholder="Go to trace id…" aria-label="Trace id" spellcheck={false} />
        </form>
        <ThemeToggle />
      </header>
      <main><Suspense fallback={<div class="page"><p class="muted">Loading…</p></div>}>{page}</Suspense></main>
      <TokenPrompt />
      {dragging && <div class="drop-overlay">Drop a Jaeger or OTLP JSON file to view it</div>}
    </>
  );
}
