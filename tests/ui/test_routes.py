"""The UI routes: assets, the SPA fallback for deep links, and what they must leave alone."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from traceway.http_security import UI_HEADERS
from traceway.ui.routes import ui_routes


def _app(static: Path) -> Starlette:
    async def services(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"data": ["api"]})

    # As the server does: API routes first, then the UI.
    return Starlette(routes=[Route("/api/services", services), *ui_routes(static)])


@pytest.fixture
def static(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Traceway</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


async def _get(static: Path, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(static))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
        return await client.get(path)


@pytest.mark.parametrize("path", ["/", "/search?service=api&lookback=1h", "/trace/4bf92f3577b34da6a3ce929d0e0e4736",
                                  "/dependencies", "/open", "/some/unknown/page"])
async def test_deep_links_get_the_app(static: Path, path: str) -> None:
    r = await _get(static, path)
    assert r.status_code == 200
    assert "<title>Traceway</title>" in r.text
    assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_good(static: Path) -> None:
    r = await _get(static, "/assets/index-abc123.js")
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]
    assert (await _get(static, "/assets/missing.js")).status_code == 404
    assert (await _get(static, "/favicon.svg")).text == "<svg/>"


# "%0A": a newline in the path (the fuzz test found it answered in plain text).
@pytest.mark.parametrize("path", ["/api/nope", "/api/traces/x/y/z", "/api", "/metrics",
                                  "/api/traces/%2F%0A0", "/api/x%0Ay"])
async def test_api_paths_are_never_answered_with_the_app(static: Path, path: str) -> None:
    r = await _get(static, path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")


async def test_api_routes_added_first_still_answer(static: Path) -> None:
    assert (await _get(static, "/api/services")).json() == {"data": ["api"]}


async def test_files_outside_the_static_dir_are_not_served(static: Path) -> None:
    (static.parent / "secret.txt").write_text("secret")
    r = await _get(static, "/../secret.txt")
    assert "secret" not in r.text


async def test_a_missing_build_says_how_to_build(tmp_path: Path) -> None:
    r = await _get(tmp_path / "nothing", "/trace/abc")
    assert r.status_code == 503
    assert "make ui" in r.text
    assert (await _get(tmp_path / "nothing", "/api/nope")).status_code == 404


async def test_the_missing_build_page_style_is_allowed_by_the_policy(tmp_path: Path) -> None:
    r = await _get(tmp_path / "nothing", "/")
    (style,) = re.findall(r"<style>(.*?)</style>", r.text, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = dict(UI_HEADERS)[b"content-security-policy"].decode()
    style_src = next(d for d in policy.split(";") if d.strip().startswith("style-src"))
    assert f"'sha256-{digest}'" in style_src.split()
