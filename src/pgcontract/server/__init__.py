"""``pgcontract serve``: the health API, setup SQL, dashboard, metrics and alerts (Starlette on uvicorn)."""

from __future__ import annotations

import signal
import socket

import uvicorn

from pgcontract.server.app import TOKEN_ENV, ServeSettings, create_app


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, as uvicorn would bind it; ``OSError`` when the address is in use
    or cannot be had (uvicorn itself would log it and exit with a status of its own)."""
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve(settings: ServeSettings, sock: socket.socket) -> None:
    """Serve on ``sock`` (from ``listen``) until SIGINT or SIGTERM, then return normally (so the caller's
    clean-up runs)."""
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, access_log=False, server_header=False, log_level="info"
    )
    # uvicorn shuts down gracefully on these signals and then raises them again for the handlers it
    # found; with the default ones the process would die before an embedded server is removed.
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["TOKEN_ENV", "ServeSettings", "create_app", "listen", "serve"]
