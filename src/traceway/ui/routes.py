"""Serves the built single-page UI and falls back to ``index.html`` for its deep links.

The server adds its API routes before these, and the fallback refuses ``/api/...``,
``/analytics/...`` and ``/metrics`` with 404 itself, so an unknown API path never
answers with the UI's HTML.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# Vite names bundles by content hash, so they never change under the same URL.
_IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable"}
_REVALIDATE = {"cache-control": "no-cache"}

# Its hash is allowed by the CSP (http_security.NOT_BUILT_STYLE_HASH).
NOT_BUILT_STYLE = ("body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;"
                   "padding:0 1rem}code,pre{background:#f2f2f2;padding:.1rem .3rem;border-radius:4px}")
_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Traceway: UI not built</title>
<style>""" + NOT_BUILT_STYLE + """</style></head>
<body><h1>The Traceway UI is not built</h1>
<p>The server and its HTTP API (<a href="/api/services">/api/services</a>) are running, but the
web UI's assets are missing from <code>{static_dir}</code>.</p>
<p>Build them from a source checkout (needs Node.js 20+ and npm):</p>
<pre>make ui</pre>
<p>or by hand: <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then reload this page.
Wheels built with <code>pip wheel</code> or <code>hatch build</code> include the UI.</p>
</body></html>
"""


class _HashedAssets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers.update(_IMMUTABLE)
        return response


_API_PREFIXES = ("/api", "/analytics")


class _AnyPath(Convertor[str]):
    """Starlette's ``path`` without its blind spot: ``.*`` stops at a newline
    (``%0A``), so such a path matched no route and got Starlette's plain-text 404."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("any_path", _AnyPath())


def _is_api_path(path: str) -> bool:
    return path == "/metrics" or any(path == prefix or path.startswith(prefix + "/")
                                     for prefix in _API_PREFIXES)


def _spa_endpoint(static_dir: Path) -> Callable[[Request], Awaitable[Response]]:
    root = static_dir.resolve()

    async def spa(request: Request) -> Response:
        path = request.url.path
        if _is_api_path(path):
            return JSONResponse({"data": None, "errors": [{"code": 404, "msg": f"no such endpoint: {path}"}]}, 404)
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT.replace("{static_dir}", str(root)), 503)
        # Top-level files from the build (favicon.svg, ...); anything else is a client-side route.
        candidate = (root / path.lstrip("/")).resolve()
        if candidate.parent == root and candidate.is_file():
            return FileResponse(candidate, headers=_REVALIDATE)
        return FileResponse(index, headers=_REVALIDATE)

    return spa


def ui_routes(static_dir: Path = STATIC_DIR) -> list[BaseRoute]:
    """Routes for the UI: ``/assets/*`` bundles and an index.html fallback for every other GET.

    Mount them after the API routes. Paths under ``/api/``, ``/analytics/`` and ``/metrics``
    get a 404 JSON answer, never the UI. When the assets are missing, every UI path answers
    503 with a page that says how to build them.
    """
    spa = _spa_endpoint(static_dir)
    return [
        Mount("/assets", app=_HashedAssets(directory=static_dir / "assets", check_dir=False), name="ui-assets"),
        Route("/", spa, methods=["GET", "HEAD"], name="ui-index"),
        Route("/{path:any_path}", spa, methods=["GET", "HEAD"], name="ui"),
    ]
