"""One uvicorn listener as ``traceway serve`` runs it, in the main process or a receiver worker."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from traceway.http_limits import SlowClientTimeouts
from traceway.http_security import Security


class Listener(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its process's owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        pass


def http_listener(app: ASGIApp, host: str, port: int, security: Security,
                  sock: socket.socket | None = None) -> tuple[Listener, socket.socket]:
    """The listener and its socket: ``sock`` if given (a receiver worker shares the
    main process's), otherwise bound now, so a taken port is an OSError here and not
    an exit inside uvicorn. Serve it with ``listener.serve(sockets=[sock])``."""
    config = uvicorn.Config(app, host=host, port=port, lifespan="off", access_log=False,
                            log_config=None, timeout_graceful_shutdown=30,
                            http=SlowClientTimeouts, **security.uvicorn_tls())
    return Listener(config), sock if sock is not None else config.bind_socket()
