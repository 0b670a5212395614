"""One uvicorn listener as ``traceway serve`` runs it, in the main process or a receiver worker."""

from __future__ import annotations

import asyncio
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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, which tells every open connection once to
        close after its response. A connection accepted just before it stopped
        accepting joins the open ones a moment later (``connection_made`` runs on
        a later turn of the loop) and was never told: a client sending request
        after request on it kept the process from exiting until the graceful
        timeout (30 s). Connections that appear meanwhile are told too."""
        stopping = asyncio.ensure_future(super().shutdown(sockets))
        told: set[object] = set()
        while not stopping.done():
            for connection in list(self.server_state.connections):
                if connection not in told:
                    told.add(connection)
                    connection.shutdown()
            await asyncio.wait({stopping}, timeout=0.05)
        await stopping


def http_listener(app: ASGIApp, host: str, port: int, security: Security,
                  sock: socket.socket | None = None) -> tuple[Listener, socket.socket]:
    """The listener and its socket: ``sock`` if given (a receiver worker shares the
    main process's), otherwise bound now, so a taken port is an OSError here and not
    an exit inside uvicorn. Serve it with ``listener.serve(sockets=[sock])``."""
    config = uvicorn.Config(app, host=host, port=port, lifespan="off", access_log=False,
                            log_config=None, timeout_graceful_shutdown=30,
                            http=SlowClientTimeouts, **security.uvicorn_tls())
    return Listener(config), sock if sock is not None else config.bind_socket()
