"""Who may talk to each listener, and what browsers may do with its answers.

Every HTTP listener is wrapped the same way, outermost first: CORS (so a preflight, which
carries no token, is answered, and a 401 still reaches the page's script), the bearer-token
check, and on the UI port the headers that keep the page from being framed or sniffed.
The gRPC receiver checks the same tokens through ``collector.grpc_auth``.

Tokens are compared in constant time and never logged, not even in part.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The one inline style allowed, by hash: the rule cytoscape (the service map) injects,
# ".__________cytoscape_container { position: relative; }". The browser tests fail on any
# other violation, so a library update that changes it is noticed.
_CYTOSCAPE_STYLE = b"'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='"
# The "UI not built" page's own style (ui/routes.py NOT_BUILT_STYLE; a test keeps them equal).
NOT_BUILT_STYLE_HASH = b"'sha256-rpo0S5WxZmggtWwUJgOL0y5goYXb8/zyE6PNu+2Td8Y='"
UI_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' " + _CYTOSCAPE_STYLE + b" "
     + NOT_BUILT_STYLE_HASH + b"; "
     b"img-src 'self' data: blob:; "
     b"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
     b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecuritySettingsError(ValueError):
    """A token file, certificate or origin list cannot be used."""


def read_token_file(path: str | Path) -> tuple[str, ...]:
    """The tokens in ``path``: one a line; blank lines and ``#`` comments are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecuritySettingsError(f"cannot read token file {path}: {exc}") from None
    tokens = tuple(line.strip() for line in lines
                   if line.strip() and not line.strip().startswith("#"))
    if not tokens:
        raise SecuritySettingsError(f"token file {path} holds no token")
    if any(any(c.isspace() for c in token) for token in tokens):
        raise SecuritySettingsError(f"token file {path}: a token contains whitespace")
    return tokens


def _digest(text: str) -> bytes:
    # Comparing fixed-length digests keeps even a token's length from leaking.
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class BearerTokens:
    """The tokens one side (ingest or query) accepts; none means that side is open."""

    digests: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, tokens: Sequence[str]) -> BearerTokens:
        return cls(tuple(_digest(token) for token in tokens))

    @property
    def required(self) -> bool:
        return bool(self.digests)

    def refusal(self, authorization: str | None) -> str | None:
        """Why ``authorization`` (the header's value) is refused, or None if it is accepted."""
        if not self.digests:
            return None
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing bearer token: send 'Authorization: Bearer <token>'"
        presented = _digest(token.strip())
        matched = False
        for digest in self.digests:  # no early exit: every token costs the same
            matched |= hmac.compare_digest(presented, digest)
        return None if matched else "the bearer token is not valid here"


# (method, path) -> the side whose token is needed ("ingest", "query", "page") and its tokens.
TokensFor = Callable[[str, str], tuple[str, BearerTokens]]
ErrorBody = Callable[[str], bytes]
RefusalCounter = Callable[[str], None]


def _uncounted(side: str) -> None:
    pass


def rpc_status_body(reason: str) -> bytes:
    """google.rpc.Status as JSON (code 16, UNAUTHENTICATED), as the receivers answer errors."""
    return json.dumps({"code": 16, "message": reason}).encode()


def jaeger_error_body(reason: str) -> bytes:
    """The Jaeger query API's error envelope."""
    return json.dumps({"data": None, "errors": [{"code": 401, "msg": reason}]}).encode()


class RequireBearer:
    """ASGI middleware: 401 with a JSON reason unless the path's tokens accept the request.

    ``tokens_for(method, path)`` names the side and its tokens; ``on_refusal(side)`` counts
    each refusal."""

    def __init__(self, app: ASGIApp, tokens_for: TokensFor, error_body: ErrorBody,
                 on_refusal: RefusalCounter = _uncounted) -> None:
        self.app = app
        self.tokens_for = tokens_for
        self.error_body = error_body
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            side, tokens = self.tokens_for(scope["method"], scope["path"])
            reason = tokens.refusal(header)
            if reason is not None:
                self.on_refusal(side)
                body = self.error_body(reason)
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="traceway"')]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class BrowserPageHeaders:
    """ASGI middleware: a strict Content-Security-Policy, nosniff and no framing on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + UI_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def parse_origins(text: str) -> tuple[str, ...]:
    """``https://a.example, https://b.example`` -> the origins; ``*`` allows any."""
    origins = tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and "://" not in origin:
            raise SecuritySettingsError(f"CORS origin {origin!r} needs a scheme, "
                                        "e.g. https://shop.example.com")
    return origins


def with_cors(app: ASGIApp, origins: Sequence[str], methods: Sequence[str]) -> ASGIApp:
    """``app`` answering CORS for ``origins``; with none, no CORS header is ever sent."""
    if not origins:
        return app
    # Browser SDKs send content-type, authorization and their own headers: mirror what is asked.
    # Retry-After is exposed so a browser sender can honour it on 429/503.
    return CORSMiddleware(app, allow_origins=list(origins), allow_methods=list(methods),
                          allow_headers=["*"], expose_headers=["Retry-After"], max_age=600)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Security:
    """Tokens, TLS files and CORS origins for every listener of one server."""

    ingest: BearerTokens = field(default_factory=BearerTokens)
    query: BearerTokens = field(default_factory=BearerTokens)
    tls_cert: str = ""
    tls_key: str = ""
    otlp_cors_origins: tuple[str, ...] = ()
    query_cors_origins: tuple[str, ...] = ()
    zipkin_cors_origins: tuple[str, ...] = ()
    on_refusal: RefusalCounter = field(default=_uncounted, compare=False)

    @classmethod
    def load(cls, *, ingest_token_file: str = "", query_token_file: str = "",
             tls_cert: str = "", tls_key: str = "", otlp_cors_origins: str = "",
             query_cors_origins: str = "", zipkin_cors_origins: str = "") -> Security:
        """Read the token files and check the TLS pair; SecuritySettingsError says what is wrong."""
        if bool(tls_cert) != bool(tls_key):
            raise SecuritySettingsError("--tls-cert and --tls-key go together")
        for path in (tls_cert, tls_key):
            if path and not Path(path).is_file():
                raise SecuritySettingsError(f"TLS file {path} does not exist")
        return cls(
            ingest=BearerTokens.of(read_token_file(ingest_token_file)) if ingest_token_file
            else BearerTokens(),
            query=BearerTokens.of(read_token_file(query_token_file)) if query_token_file
            else BearerTokens(),
            tls_cert=tls_cert, tls_key=tls_key,
            otlp_cors_origins=parse_origins(otlp_cors_origins),
            query_cors_origins=parse_origins(query_cors_origins),
            zipkin_cors_origins=parse_origins(zipkin_cors_origins))

    def uvicorn_tls(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config``: TLS when a certificate is set."""
        return {"ssl_certfile": self.tls_cert, "ssl_keyfile": self.tls_key} if self.tls_cert else {}

    def grpc_key_pair(self) -> tuple[bytes, bytes] | None:
        """(private key, certificate chain) PEM bytes for the gRPC listener, or None."""
        if not self.tls_cert:
            return None
        return Path(self.tls_key).read_bytes(), Path(self.tls_cert).read_bytes()

    def ingest_app(self, app: ASGIApp, cors_origins: Sequence[str] = ()) -> ASGIApp:
        """A receiver (OTLP/HTTP, Zipkin, remote sampling): every path needs an ingest token."""
        guarded = RequireBearer(app, lambda method, path: ("ingest", self.ingest),
                                rpc_status_body, self.on_refusal)
        return with_cors(guarded, cors_origins, ["POST", "GET"])

    def zipkin_app(self, app: ASGIApp) -> ASGIApp:
        """Zipkin's port: posting spans needs an ingest token, its read API a query token."""
        guarded = RequireBearer(app, self._zipkin_tokens_for, rpc_status_body, self.on_refusal)
        return with_cors(guarded, self.zipkin_cors_origins, ["GET", "HEAD", "POST"])

    def _zipkin_tokens_for(self, method: str, path: str) -> tuple[str, BearerTokens]:
        if method == "POST":
            return "ingest", self.ingest
        return "query", self.query

    def ui_app(self, app: ASGIApp) -> ASGIApp:
        """The UI port: the page itself is open (a browser cannot send a token with it), the
        query API and /metrics need a query token, the SDKs' /api/sampling an ingest one."""
        guarded = RequireBearer(BrowserPageHeaders(app), self._ui_tokens_for, jaeger_error_body,
                                self.on_refusal)
        return with_cors(guarded, self.query_cors_origins, ["GET"])

    def _ui_tokens_for(self, method: str, path: str) -> tuple[str, BearerTokens]:
        if path == "/api/sampling":
            return "ingest", self.ingest
        if path == "/metrics" or path == "/api" or path.startswith("/api/"):
            return "query", self.query
        return "page", BearerTokens()

    def exposure_warning(self, host: str) -> str | None:
        """What is open to the network when ``host`` is not loopback, or None."""
        if is_loopback(host):
            return None
        open_sides = [name for name, tokens in (("ingest (spans from anyone)", self.ingest),
                                                ("query (traces to anyone)", self.query))
                      if not tokens.required]
        if not open_sides:
            return None
        return (f"listening on {host} without authentication for: {', '.join(open_sides)}. "
                "Anyone who can reach these ports can use them; set --ingest-token-file and "
                "--query-token-file (and --tls-cert/--tls-key), see README 'Security'.")
